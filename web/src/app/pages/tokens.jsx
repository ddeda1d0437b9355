// The pages the mails link to (src/core/pages.c): each takes the token of
// its link (?token=) and posts it with what the person chooses. Nothing is
// sent on opening the page, so a mail scanner that follows the link uses
// no token.
import { useState } from "preact/hooks";
import { call } from "../api.js";
import { Field, Form } from "../ui.jsx";

/** @param {{children: import("preact").ComponentChildren}} props */
function Done({ children }) {
  return (
    <div class="done" role="status">
      {children}
    </div>
  );
}

function NoToken() {
  return (
    <p class="form-error" role="alert">
      This link is incomplete: open the link from the mail again, whole.
    </p>
  );
}

/** /forgot-password: a reset link is mailed (the answer is the same for any address). */
export function ForgotPassword() {
  const [sent, setSent] = useState(false);
  return (
    <section class="narrow">
      <h1>Forgotten password</h1>
      {sent ? (
        <Done>
          <p>If an account has this address, a link to choose a new password is on its way. It works for 30 minutes.</p>
        </Done>
      ) : (
        <Form
          label="Forgotten password"
          submit="Send me a link"
          onSubmit={async (v) => {
            await call("post", "/v1/auth/password-reset", { body: { email: v.email } });
            setSent(true);
          }}
        >
          <Field name="email" label="Email address" type="email" autoComplete="email" required />
        </Form>
      )}
      <p>
        <a href="/sign-in">Back to sign in</a>
      </p>
    </section>
  );
}

/** /reset-password?token=: the reset mail's link. @param {{query: URLSearchParams}} props */
export function ResetPassword({ query }) {
  const token = query.get("token") || "";
  const [done, setDone] = useState(false);
  return (
    <section class="narrow">
      <h1>Choose a new password</h1>
      {!token ? (
        <NoToken />
      ) : done ? (
        <Done>
          <p>
            Your password is changed, and every other session of yours has ended. <a href="/sign-in">Sign in</a>
          </p>
        </Done>
      ) : (
        <Form
          label="Choose a new password"
          submit="Change my password"
          onSubmit={async (v) => {
            await call("post", "/v1/auth/password-reset/confirm", { body: { token, new_password: v.new_password } });
            setDone(true);
          }}
        >
          <Field name="new_password" label="New password" type="password" autoComplete="new-password" required />
        </Form>
      )}
    </section>
  );
}

/** /set-password?token=: a staff invitation's first password. @param {{query: URLSearchParams}} props */
export function SetPassword({ query }) {
  const token = query.get("token") || "";
  const [done, setDone] = useState(false);
  return (
    <section class="narrow">
      <h1>Choose your password</h1>
      {!token ? (
        <NoToken />
      ) : done ? (
        <Done>
          <p>
            Your password is set. <a href="/sign-in">Sign in</a>
          </p>
        </Done>
      ) : (
        <Form
          label="Choose your password"
          submit="Set my password"
          onSubmit={async (v) => {
            await call("post", "/v1/auth/set-password", { body: { token, password: v.password } });
            setDone(true);
          }}
        >
          <Field name="password" label="Password" type="password" autoComplete="new-password" required />
        </Form>
      )}
    </section>
  );
}

/** /verify-email?token=: a new account's address confirmed. @param {{query: URLSearchParams}} props */
export function VerifyEmail({ query }) {
  const token = query.get("token") || "";
  const [done, setDone] = useState(false);
  return (
    <section class="narrow">
      <h1>Confirm your address</h1>
      {!token ? (
        <NoToken />
      ) : done ? (
        <Done>
          <p>
            Thank you: your address is confirmed. <a href="/">Go to the home page</a>
          </p>
        </Done>
      ) : (
        <Form
          label="Confirm your address"
          submit="Confirm my address"
          onSubmit={async () => {
            await call("post", "/v1/auth/verify-email", { body: { token } });
            setDone(true);
          }}
        >
          <p>Confirm that this address is yours to finish setting up your account.</p>
        </Form>
      )}
    </section>
  );
}

/** /not-me?token=: the owner of an address given for a child's account takes it off. @param {{query: URLSearchParams}} props */
export function NotMe({ query }) {
  const token = query.get("token") || "";
  const [done, setDone] = useState(false);
  return (
    <section class="narrow">
      <h1>This is not me</h1>
      {!token ? (
        <NoToken />
      ) : done ? (
        <Done>
          <p>Your address is taken off that account, and the person who gave it is told. You will get no more mail about it.</p>
        </Done>
      ) : (
        <Form
          label="This is not me"
          submit="Take my address off"
          onSubmit={async () => {
            await call("post", "/v1/auth/family-welcome/refuse", { body: { token } });
            setDone(true);
          }}
        >
          <p>Someone gave your address for a child's account. If you do not know about it, take your address off.</p>
        </Form>
      )}
    </section>
  );
}
