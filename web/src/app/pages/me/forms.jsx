// /forms and /forms/:id: the questionnaires the person may fill in (PHQ-9,
// GAD-7 and their practice's own: /v1/forms) with the answers they gave
// before (/v1/form-responses, score and band), and a form page built from
// the form's typed fields that submits the answers and shows the score.
// carebase keeps no "sent to" list: a client sees the forms it answers
// them, and their practitioner reads what they submit.
import { useState } from "preact/hooks";
import { api, all, useLoad, Loaded, useSubmit, FormError, useId, Time, Page, Empty } from "./kit.jsx";

export function Forms() {
  const load = useLoad(async () => {
    const [forms, responses] = await Promise.all([all("/v1/forms"), all("/v1/form-responses")]);
    return { forms, responses };
  }, []);
  return (
    <Page title="Your forms">
      <Loaded load={load} what="forms" empty={(d) => d.forms.length === 0 && d.responses.length === 0} emptyText="There are no forms for you.">
        {({ forms, responses }) => {
          const title = new Map(forms.map((f) => [f.id, f.title]));
          return (
            <>
              <section aria-labelledby="h-fill" class="card">
                <h2 id="h-fill">Fill in</h2>
                {forms.length === 0 ? (
                  <Empty>No form is open to you.</Empty>
                ) : (
                  <ul class="rows">
                    {forms.map((f) => (
                      <li key={f.id}>
                        <span>
                          <a href={`/forms/${f.id}`}>{f.title}</a>
                          {f.description && (
                            <>
                              <br />
                              <small>{f.description}</small>
                            </>
                          )}
                        </span>
                      </li>
                    ))}
                  </ul>
                )}
              </section>
              <section aria-labelledby="h-answers" class="card">
                <h2 id="h-answers">Your answers</h2>
                {responses.length === 0 ? (
                  <Empty>You have answered no form yet.</Empty>
                ) : (
                  <ul class="rows">
                    {[...responses]
                      .sort((a, b) => (a.submitted_at < b.submitted_at ? 1 : -1))
                      .map((r) => (
                        <li key={r.id}>
                          <span>
                            <strong>{title.get(r.form_id) || "A form"}</strong> · <Time iso={r.submitted_at} />
                            {r.score && (
                              <>
                                <br />
                                <Score score={r.score} />
                              </>
                            )}
                          </span>
                        </li>
                      ))}
                  </ul>
                )}
              </section>
            </>
          );
        }}
      </Loaded>
    </Page>
  );
}

function Score({ score }) {
  return (
    <span class="score">
      Score <strong data-score={score.total}>{score.total}</strong>
      {score.max != null && ` of ${score.max}`}
      {score.severity && (
        <>
          {" "}
          · <span class={`band band-${score.severity}`} data-band={score.severity}>{score.severity}</span>
        </>
      )}
    </span>
  );
}

export function FormFill({ params }) {
  const load = useLoad(() => Promise.all([api.get(`/v1/forms/${encodeURIComponent(params.id)}`), api.get("/v1/me")]), [params.id]);
  return (
    <Loaded load={load} what="the form">
      {([form, me]) => <Fill form={form} me={me} />}
    </Loaded>
  );
}

function Fill({ form, me }) {
  const [answers, setAnswers] = useState({});
  const [result, setResult] = useState(/** @type {any} */ (null));
  const f = useSubmit(
    () => {
      const responses = {};
      for (const [k, v] of Object.entries(answers)) {
        if (v === "" || (Array.isArray(v) && v.length === 0)) continue;
        responses[k] = v;
      }
      return api.post("/v1/form-responses", { form_id: form.id, client_id: me.id, responses });
    },
    (out) => {
      setResult(out);
      window.scrollTo(0, 0);
    },
  );
  const set = (id, v) => setAnswers({ ...answers, [id]: v });
  if (result) {
    return (
      <Page title={form.title}>
        <section class="card" role="status" aria-labelledby="h-result">
          <h2 id="h-result">Thank you: your answers are sent</h2>
          {result.score ? <Score score={result.score} /> : <p>This form is not scored.</p>}
          <p>
            <a href="/forms">Back to your forms</a>
          </p>
        </section>
      </Page>
    );
  }
  return (
    <Page title={form.title}>
      <p>
        <a href="/forms">All forms</a>
      </p>
      {form.description && <p>{form.description}</p>}
      <form onSubmit={f.onSubmit} noValidate class="questionnaire">
        {(form.fields || []).map((fd) => (
          <Question key={fd.id} fd={fd} value={answers[fd.id]} onChange={(v) => set(fd.id, v)} error={f.fields[`responses.${fd.id}`]} />
        ))}
        <FormError error={f.error} />
        <button type="submit" disabled={f.busy}>
          {f.busy ? "Sending…" : "Send my answers"}
        </button>
      </form>
    </Page>
  );
}

// Bounds of a field's validation ("integer|min:0|max:120"), for the input's
// own min/max; the server checks them again.
function bounds(fd) {
  const out = {};
  for (const t of (fd.validation || "").split("|")) {
    const [k, v] = t.split(":");
    if ((k === "min" || k === "max") && /^-?\d+$/.test(v || "")) out[k] = Number(v);
  }
  if (fd.type === "scale") {
    if (out.min == null) out.min = 0;
    if (out.max == null) out.max = Math.max(10, out.min);
  }
  return out;
}

const INPUT = { text: "text", email: "email", date: "date", time: "time", number: "number" };

function Question({ fd, value, onChange, error }) {
  const id = useId("q-" + fd.id);
  const label = fd.label + (fd.required ? "" : " (optional)");
  const b = bounds(fd);
  const desc = [fd.help_text && `${id}-help`, error && `${id}-err`].filter(Boolean).join(" ") || undefined;
  const help = fd.help_text && (
    <small id={`${id}-help`} class="hint">
      {fd.help_text}
    </small>
  );
  const err = error && (
    <small id={`${id}-err`} class="field-error">
      {error}
    </small>
  );
  if (fd.type === "radio" || fd.type === "checkbox") {
    const many = fd.type === "checkbox";
    const chosen = many ? value || [] : value;
    return (
      <fieldset class={"field" + (error ? " field-bad" : "")} aria-describedby={desc} aria-invalid={error ? "true" : undefined}>
        <legend>{label}</legend>
        {help}
        {(fd.options || []).map((o, i) => (
          <label key={o} class="choice">
            <input
              type={many ? "checkbox" : "radio"}
              name={fd.id}
              value={o}
              checked={many ? chosen.includes(o) : chosen === o}
              required={fd.required && !many}
              onChange={(e) => {
                if (!many) onChange(o);
                else onChange(e.currentTarget.checked ? fd.options.filter((x) => x === o || chosen.includes(x)) : chosen.filter((x) => x !== o));
              }}
            />
            {o}
          </label>
        ))}
        {err}
      </fieldset>
    );
  }
  /** @type {any} */
  const common = {
    id,
    name: fd.id,
    required: fd.required,
    "aria-invalid": error ? "true" : undefined,
    "aria-describedby": desc,
  };
  let input;
  if (fd.type === "select") {
    input = (
      <select {...common} value={value ?? ""} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">Choose…</option>
        {(fd.options || []).map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  } else if (fd.type === "textarea") {
    input = <textarea {...common} rows={4} maxLength={b.max} value={value ?? ""} onInput={(e) => onChange(e.currentTarget.value)} />;
  } else if (fd.type === "number" || fd.type === "scale") {
    input = (
      <input
        {...common}
        type={fd.type === "scale" ? "range" : "number"}
        min={b.min}
        max={b.max}
        step={fd.type === "scale" || /integer/.test(fd.validation || "") ? 1 : "any"}
        value={value ?? (fd.type === "scale" ? b.min : "")}
        onInput={(e) => onChange(e.currentTarget.value === "" ? "" : Number(e.currentTarget.value))}
      />
    );
  } else {
    input = (
      <input
        {...common}
        type={INPUT[fd.type] || "text"}
        maxLength={fd.type === "text" || fd.type === "email" ? b.max : undefined}
        value={value ?? ""}
        onInput={(e) => onChange(e.currentTarget.value)}
      />
    );
  }
  return (
    <div class={"field" + (error ? " field-bad" : "")}>
      <label for={id}>{label}</label>
      {help}
      {input}
      {fd.type === "scale" && <output for={id}>{value ?? b.min}</output>}
      {err}
    </div>
  );
}
