// /register, and /join/:partner (a partner's link: its branding above the
// form, and the account joins that partner). A partner access code (typed,
// or ?code= in the link) grants its features at once. After the account
// is made the person is signed in and lands on the home page.
import { call } from "../api.js";
import { navigate } from "../router.js";
import { signIn } from "../session.js";
import { Field, Form, Loading, Problem } from "../ui.jsx";
import { PartnerFooter, PartnerLogo, usePartner } from "./partner.jsx";

/**
 * @param {Record<string, any>} v the form's values
 * @param {string | undefined} partner
 */
async function register(v, partner) {
  /** @type {import("../api-ops").Body<"/v1/auth/register", "post">} */
  const body = { email: v.email, password: v.password, accept_terms: /** @type {true} */ (v.accept_terms === true) };
  // (false is sent as it is: the server answers which box to tick)
  // Optional fields left empty are left out, not sent as "".
  if (v.first_name) body.first_name = v.first_name;
  if (v.date_of_birth) body.date_of_birth = v.date_of_birth;
  if (v.country) body.country = String(v.country).toUpperCase();
  if (v.partner_access_code) body.partner_access_code = v.partner_access_code.trim();
  if (partner) body.partner = partner;
  await call("post", "/v1/auth/register", { body, signIn: true });
  await signIn(v.email, v.password);
  navigate("/", { replace: true });
}

/** @param {{partner?: string, code: string}} props */
function RegisterForm({ partner, code }) {
  return (
    <Form label="Create an account" submit="Create my account" onSubmit={(v) => register(v, partner)}>
      <Field name="first_name" label="First name" autoComplete="given-name" maxLength={100} />
      <Field name="email" label="Email address" type="email" autoComplete="email" required />
      <Field
        name="password"
        label="Password"
        type="password"
        autoComplete="new-password"
        required
        hint="At least 12 characters; a few words make a good one."
      />
      <Field name="date_of_birth" label="Date of birth" type="date" autoComplete="bday" />
      <Field
        name="country"
        label="Country"
        autoComplete="country"
        maxLength={2}
        hint="Two letters, such as GB."
      />
      <Field
        name="partner_access_code"
        label="Partner access code"
        value={code}
        maxLength={64}
        hint="If an organisation gave you a code, it unlocks what they offer."
      />
      <Field name="accept_terms" label="I accept the terms of use" type="checkbox" required />
    </Form>
  );
}

/** @param {{params: {partner?: string}, query: URLSearchParams}} props */
export function Register({ params, query }) {
  const code = query.get("code") || "";
  if (!params.partner) {
    return (
      <section class="narrow">
        <h1>Create an account</h1>
        <RegisterForm code={code} />
        <p>
          Already have an account? <a href="/sign-in">Sign in</a>
        </p>
      </section>
    );
  }
  return <Join partner={params.partner} code={code} />;
}

/** @param {{partner: string, code: string}} props */
function Join({ partner, code }) {
  const { branding, error } = usePartner(partner);
  if (error) return <Problem error={error} />;
  if (branding === undefined) return <Loading what="the partner" />;
  if (branding === null) {
    return (
      <section>
        <h1>Partner not found</h1>
        <p>
          There is no partner called <q>{partner}</q>. You can still <a href="/register">create an account</a>.
        </p>
      </section>
    );
  }
  return (
    <section class="narrow partner">
      <div class="partner-head">
        <PartnerLogo branding={branding} />
        <h1>{`Join ${branding.name}`}</h1>
      </div>
      <RegisterForm partner={branding.name} code={code} />
      <p>
        Already have an account? <a href="/sign-in">Sign in</a>
      </p>
      <PartnerFooter branding={branding} />
    </section>
  );
}
