// The pieces every page is made of (docs/WEB.md): forms whose errors come
// from the API's problem documents (each field's beside it, the rest at the
// top in a role=alert), loading and empty states, a confirmation dialog for
// destructive actions, and a table. No style attribute anywhere: the
// policy (style-src 'self') refuses them; classes in app.css.
import { createContext } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api.js";

/** @typedef {import("preact").ComponentChildren} Children */

/** @type {import("preact").Context<ApiError | null>} */
const FormError = createContext(/** @type {ApiError | null} */ (null));

/**
 * A form that sends itself: onSubmit gets the fields' values (a checkbox's
 * as a boolean) and may throw an ApiError, which the form shows. While it
 * sends, its controls are disabled.
 * @param {{onSubmit: (values: Record<string, any>) => Promise<void> | void, submit: string,
 *   children?: Children, label?: string, class?: string}} props
 */
export function Form({ onSubmit, submit, children, label, class: cls }) {
  const [sending, setSending] = useState(false);
  const [error, setError] = useState(/** @type {ApiError | null} */ (null));
  const [others, setOthers] = useState(/** @type {string[]} */ ([]));
  const ref = useRef(/** @type {HTMLFormElement | null} */ (null));
  const top = useRef(/** @type {HTMLDivElement | null} */ (null));

  useEffect(() => {
    if (!error || !ref.current) return;
    // Focus what is wrong: the first field marked, else the message.
    const bad = ref.current.querySelector("[aria-invalid=true]");
    if (bad instanceof HTMLElement && others.length === 0) bad.focus();
    else if (top.current) top.current.focus();
  }, [error, others]);

  /** @param {Event} ev */
  async function send(ev) {
    ev.preventDefault();
    const form = /** @type {HTMLFormElement} */ (ev.currentTarget);
    /** @type {Record<string, any>} */
    const values = {};
    for (const el of Array.from(form.elements)) {
      if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement))
        continue;
      if (!el.name) continue;
      values[el.name] = el instanceof HTMLInputElement && el.type === "checkbox" ? el.checked : el.value;
    }
    setSending(true);
    setError(null);
    try {
      await onSubmit(values);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(0, "CLIENT", "Something went wrong on this page.", []);
      if (!(e instanceof ApiError)) console.error(e);
      setOthers(Object.keys(err.fields).filter((f) => !form.elements.namedItem(f)));
      setError(err);
    } finally {
      if (ref.current) setSending(false);
    }
  }

  const marked = error ? Object.keys(error.fields).length - others.length : 0;
  return (
    <form ref={ref} class={cls || "form"} onSubmit={send} noValidate aria-label={label} aria-busy={sending}>
      <div ref={top} tabIndex={-1} role="alert" class={error ? "form-error" : "form-error empty"}>
        {error && (marked === 0 || others.length > 0) && <p>{error.detail}</p>}
        {error && others.map((f) => <p key={f}>{`${f}: ${error.fields[f]}`}</p>)}
        {error && marked > 0 && <p>{marked === 1 ? "One field needs a change." : `${marked} fields need a change.`}</p>}
      </div>
      <FormError.Provider value={error}>
        <fieldset class="plain" disabled={sending}>
          {children}
          <button type="submit" class="primary">
            {sending ? "Sending…" : submit}
          </button>
        </fieldset>
      </FormError.Provider>
    </form>
  );
}

/**
 * One labelled control; its error (from the form's ApiError, by name) is
 * shown beside it and named by aria-describedby.
 * @param {{name: string, label: string, type?: "text" | "email" | "password" | "date" | "tel" | "number" | "checkbox", required?: boolean, autoComplete?: string,
 *   hint?: string, value?: string, options?: Array<[string, string]>, maxLength?: number,
 *   inputMode?: string, checked?: boolean}} props
 */
export function Field({ name, label, type = "text", required, autoComplete, hint, value, options, maxLength, checked }) {
  const error = useContext(FormError);
  const id = `f-${name}`;
  const bad = error && error.fields[name];
  const describedBy = [hint ? `${id}-hint` : "", bad ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    name,
    required,
    "aria-invalid": bad ? true : undefined,
    "aria-describedby": describedBy,
    autoComplete,
  };
  let control;
  if (options) {
    control = (
      <select {...common}>
        {options.map(([v, text]) => (
          <option key={v} value={v} selected={v === value}>
            {text}
          </option>
        ))}
      </select>
    );
  } else if (type === "checkbox") {
    control = <input {...common} type="checkbox" defaultChecked={checked} />;
  } else {
    control = <input {...common} type={/** @type {any} */ (type)} defaultValue={value} maxLength={maxLength || 320} />;
  }
  return (
    <div class={type === "checkbox" ? "field check" : "field"}>
      {type === "checkbox" && control}
      <label for={id}>
        {label}
        {required && type !== "checkbox" && <span class="req"> (required)</span>}
      </label>
      {hint && (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      )}
      {type !== "checkbox" && control}
      {bad && (
        <p id={`${id}-error`} class="field-error">
          {bad}
        </p>
      )}
    </div>
  );
}

/** @param {{what?: string}} props */
export function Loading({ what }) {
  return (
    <p class="loading" role="status">
      {`Loading${what ? " " + what : ""}…`}
    </p>
  );
}

/** @param {{children: Children}} props */
export function Empty({ children }) {
  return <p class="empty-state">{children}</p>;
}

/** A message for a failed read (not a form): its detail, as an alert. @param {{error: ApiError}} props */
export function Problem({ error }) {
  return (
    <div class="form-error" role="alert">
      <p>{error.detail}</p>
    </div>
  );
}

/**
 * Asks before a destructive action, in a modal <dialog> (focus stays in it,
 * Escape cancels).
 * @param {{open: boolean, title: string, children?: Children, confirm: string,
 *   onConfirm: () => void, onCancel: () => void}} props
 */
export function ConfirmDialog({ open, title, children, confirm, onConfirm, onCancel }) {
  const ref = useRef(/** @type {HTMLDialogElement | null} */ (null));
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onCancel={onCancel}>
      <h2 id="confirm-title">{title}</h2>
      {children}
      <div class="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={onConfirm}>
          {confirm}
        </button>
      </div>
    </dialog>
  );
}

/**
 * @template T
 * @param {{caption: string, rows: T[], columns: Array<{label: string, cell: (row: T) => Children}>,
 *   rowKey: (row: T) => string, empty?: string}} props
 */
export function Table({ caption, rows, columns, rowKey, empty }) {
  if (rows.length === 0) return <Empty>{empty || "Nothing here yet."}</Empty>;
  return (
    <div class="table-wrap">
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.label} scope="col">
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={rowKey(r)}>
              {columns.map((c) => (
                <td key={c.label}>{c.cell(r)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
