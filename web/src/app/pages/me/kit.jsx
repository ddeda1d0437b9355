// What the person's own pages (issue 18 item 3) share, built on the
// shell's api.js, ui.jsx and time.js: loading a resource with its three
// states (loading, error, empty), controlled fields that show the problem
// document's errors (ui.jsx's Form reads its fields at submit, which the
// questionnaire's radio groups and the range inputs do not fit), a
// confirmation that asks for a typed word, and times in the person's zone.
// Nothing here knows a page.
import { useEffect, useRef, useState, useCallback } from "preact/hooks";
import { ApiError, call } from "../../api.js";
import { ConfirmDialog as ShellConfirm, Empty, Loading } from "../../ui.jsx";
import { formatDate, formatDateTime } from "../../time.js";

export { ApiError, Empty, Loading };

// The pages name their routes with their ids and query already in (the
// ids come from the API's own answers, encoded where the page builds them).
/** @type {{get: (p: string) => Promise<any>, post: (p: string, b?: any) => Promise<any>, patch: (p: string, b: any) => Promise<any>, del: (p: string, b?: any) => Promise<any>}} */
export const api = {
  get: (p) => call("get", /** @type {any} */ (p)),
  post: (p, b) => call("post", /** @type {any} */ (p), /** @type {any} */ ({ body: b })),
  patch: (p, b) => call("patch", /** @type {any} */ (p), /** @type {any} */ ({ body: b })),
  del: (p, b) => call("delete", /** @type {any} */ (p), /** @type {any} */ ({ body: b })),
};

// Loads with fn() when deps change: {data, error, loading, reload}. An
// answer that arrives after a newer load started is dropped, so a slow
// first answer never overwrites a later one.
/**
 * @param {() => any} fn
 * @param {any[]} deps
 * @returns {{data: any, error: any, loading: boolean, reload: () => void}}
 */
export function useLoad(fn, deps) {
  const [state, setState] = useState(/** @type {{data: any, error: any, loading: boolean}} */ ({ data: null, error: null, loading: true }));
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve()
      .then(fn)
      .then(
        (data) => {
          if (mine === seq.current) setState({ data, error: null, loading: false });
        },
        (error) => {
          if (mine === seq.current) setState({ data: null, error, loading: false });
        },
      );
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

// Every row of a list route, page after page (next_cursor), up to max rows:
// the person's own lists are short, and a bound keeps a page from looping.
/** @param {string} path @param {number} [max] @returns {Promise<any[]>} */
export async function all(path, max = 500) {
  /** @type {any[]} */
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

/** @param {{error: any, retry?: () => void}} props */
export function Problem({ error, retry }) {
  const text =
    error instanceof ApiError
      ? error.status === 401
        ? "You are signed out. Sign in again to see this page."
        : error.detail
      : "Something went wrong on this page.";
  return (
    <div class="form-error" role="alert">
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
/**
 * @param {{load: {data: any, error: any, loading: boolean, reload: () => void}, what: string,
 *   empty?: (d: any) => boolean, emptyText?: string, children: (d: any) => any}} props
 */
export function Loaded({ load, what, empty, emptyText, children }) {
  if (load.loading && load.data == null) return <Loading what={what} />;
  if (load.error) return <Problem error={load.error} retry={load.reload} />;
  if (empty && empty(load.data)) return <Empty>{emptyText}</Empty>;
  return children(load.data);
}

let nextId = 0;
/** @param {string} prefix @returns {string} */
export function useId(prefix) {
  const id = useRef(/** @type {string | null} */ (null));
  if (id.current == null) id.current = `${prefix}-${++nextId}`;
  return id.current;
}

// A labelled input with its error under it (aria-describedby), named by
// the field the API reports errors on.
/**
 * @param {{label: string, name: string, errors?: Record<string, string> | null, hint?: string,
 *   type?: any, value?: any, onInput: (v: string) => void, [attr: string]: any}} props
 */
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
/**
 * @param {() => Promise<any>} submit
 * @param {(out: any) => void} [onDone]
 */
export function useSubmit(submit, onDone) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {any} */ (null));
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

/** @param {{error: any}} props */
export function FormError({ error }) {
  if (!error) return null;
  const n = Object.keys(error.fields || {}).length;
  return (
    <p class="form-error" role="alert">
      {n > 0 ? `${error.detail} See the field${n > 1 ? "s" : ""} marked below.` : error.detail}
    </p>
  );
}

// ui.jsx's ConfirmDialog with what a page's action needs around it: the
// error of the last try, and, with word, a field where that word must be
// typed before the action runs (the account's deletion).
/**
 * @param {{open: boolean, title: string, children?: any, confirmLabel: string, word?: string,
 *   busy?: boolean, error?: any, onConfirm: () => void, onCancel: () => void}} props
 */
export function ConfirmDialog({ open, title, children, confirmLabel, word, busy, error, onConfirm, onCancel }) {
  const [typed, setTyped] = useState("");
  const [nudge, setNudge] = useState(false);
  useEffect(() => {
    if (open) (setTyped(""), setNudge(false));
  }, [open]);
  const go = () => {
    if (busy) return;
    if (word && typed.trim() !== word) return setNudge(true);
    onConfirm();
  };
  return (
    <ShellConfirm open={open} title={title} confirm={busy ? "Working…" : confirmLabel} onConfirm={go} onCancel={onCancel}>
      {children}
      {word && (
        <Field
          label={`Type “${word}” to confirm`}
          name="confirm_word"
          value={typed}
          onInput={(v) => (setTyped(v), setNudge(false))}
          errors={nudge ? { confirm_word: `Type “${word}” exactly, or cancel.` } : null}
          autocomplete="off"
        />
      )}
      <FormError error={error} />
    </ShellConfirm>
  );
}

// Times in the person's zone (time.js: their profile's, else the browser's).
/** @param {{iso: string | null | undefined, date?: boolean}} props */
export function Time({ iso, date }) {
  if (!iso) return null;
  return <time datetime={iso}>{date ? formatDate(iso) : formatDateTime(iso)}</time>;
}

// A page's frame: its heading and its content (the layout names the
// document after the route and focuses this heading on a move).
/** @param {{title: string, children?: any}} props */
export function Page({ title, children }) {
  return (
    <section class="me-page" aria-labelledby="page-title">
      <h1 id="page-title">{title}</h1>
      {children}
    </section>
  );
}
