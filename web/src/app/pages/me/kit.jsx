// What the person's own pages (issue 18 item 3) share: loading a
// resource with its three states (loading, error, empty), forms whose
// fields show the problem document's errors, a confirmation that can ask
// for a typed word, and dates written in the person's zone. Built on the
// shell's api.js; nothing here knows a page.
import { useEffect, useRef, useState, useCallback } from "preact/hooks";
import { api, ApiError } from "../../api.js";

export { api, ApiError };

// Loads with fn() when deps change: {data, error, loading, reload}. An
// answer that arrives after a newer load started is dropped, so a slow
// first answer never overwrites a later one.
export function useLoad(fn, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve()
      .then(fn)
      .then(
        (data) => mine === seq.current && setState({ data, error: null, loading: false }),
        (error) => mine === seq.current && setState({ data: null, error, loading: false }),
      );
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

// Every row of a list route, page after page (next_cursor), up to max rows:
// the person's own lists are short, and a bound keeps a page from looping.
export async function all(path, max = 500) {
  const rows = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api.get(path + (cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ""));
    rows.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && rows.length < max);
  return rows;
}

export function Loading({ what }) {
  return (
    <p class="state state-loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }) {
  return <p class="state state-empty">{children}</p>;
}

export function Problem({ error, retry }) {
  const text =
    error instanceof ApiError
      ? error.status === 401
        ? "You are signed out. Sign in again to see this page."
        : error.message
      : "carebase could not be reached. Check the connection and try again.";
  return (
    <div class="state state-error" role="alert">
      <p>{text}</p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

// The three states of a load, then children(data). empty(data) says when
// there is nothing to show; emptyText is then what is shown.
export function Loaded({ load, what, empty, emptyText, children }) {
  if (load.loading && load.data == null) return <Loading what={what} />;
  if (load.error) return <Problem error={load.error} retry={load.reload} />;
  if (empty && empty(load.data)) return <Empty>{emptyText}</Empty>;
  return children(load.data);
}

let nextId = 0;
export function useId(prefix) {
  const id = useRef(null);
  if (id.current == null) id.current = `${prefix}-${++nextId}`;
  return id.current;
}

// A labelled input with its error under it (aria-describedby), named by
// the field the API reports errors on.
export function Field({ label, name, errors, hint, type = "text", value, onInput, ...rest }) {
  const id = useId("f-" + name.replace(/[^a-z0-9]/gi, "-"));
  const err = errors && errors[name];
  const described = [hint && `${id}-hint`, err && `${id}-err`].filter(Boolean).join(" ");
  return (
    <div class={"field" + (err ? " field-bad" : "")}>
      <label for={id}>{label}</label>
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
      <input
        id={id}
        name={name}
        type={type}
        value={value ?? ""}
        onInput={(e) => onInput(e.currentTarget.value)}
        aria-invalid={err ? "true" : undefined}
        aria-describedby={described || undefined}
        {...rest}
      />
      {err && (
        <small id={`${id}-err`} class="field-error">
          {err}
        </small>
      )}
    </div>
  );
}

// A form that sends with submit(), shows a problem's field errors on its
// fields and its other errors above the button; onDone(answer) after a 2xx.
export function useSubmit(submit, onDone) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const onSubmit = async (e) => {
    if (e) e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const out = await submit();
      setBusy(false);
      if (onDone) onDone(out);
    } catch (err) {
      setBusy(false);
      setError(err);
    }
  };
  const fields = (error && error.fields) || {};
  return { busy, error, fields, onSubmit, setError };
}

export function FormError({ error }) {
  if (!error) return null;
  const n = Object.keys(error.fields || {}).length;
  return (
    <p class="form-error" role="alert">
      {n > 0 ? `${error.message} See the field${n > 1 ? "s" : ""} marked below.` : error.message}
    </p>
  );
}

// A modal <dialog> (Escape closes it, focus stays inside) that asks to
// confirm; with word, the button stays off until that word is typed.
export function ConfirmDialog({ open, title, children, confirmLabel, word, busy, error, onConfirm, onCancel }) {
  const ref = useRef(null);
  const [typed, setTyped] = useState("");
  const titleId = useId("dlg");
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      setTyped("");
      d.showModal();
    } else if (!open && d.open) d.close();
  }, [open]);
  const ok = !word || typed.trim() === word;
  return (
    <dialog ref={ref} class="confirm" aria-labelledby={titleId} onCancel={(e) => (e.preventDefault(), onCancel())}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (ok && !busy) onConfirm();
        }}
      >
        <h2 id={titleId}>{title}</h2>
        {children}
        {word && (
          <Field
            label={`Type “${word}” to confirm`}
            name="confirm_word"
            value={typed}
            onInput={setTyped}
            autocomplete="off"
          />
        )}
        <FormError error={error} />
        <div class="buttons">
          <button type="button" onClick={onCancel}>
            Keep it
          </button>
          <button type="submit" class="danger" disabled={!ok || busy}>
            {busy ? "Working…" : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

// Times in the person's zone (the browser's), dates without a time alone.
const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const df = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : dtf.format(d);
}
export function day(iso) {
  if (!iso) return "";
  const d = new Date(iso.length === 10 ? iso + "T00:00:00" : iso);
  return isNaN(d) ? iso : df.format(d);
}

export function Time({ iso, date }) {
  if (!iso) return null;
  return <time datetime={iso}>{date ? day(iso) : when(iso)}</time>;
}

// A page's frame: its title (also the document's) and its content.
export function Page({ title, children }) {
  useEffect(() => {
    document.title = `${title} · carebase`;
  }, [title]);
  return (
    <section class="me-page" aria-labelledby="page-title">
      <h1 id="page-title">{title}</h1>
      {children}
    </section>
  );
}
