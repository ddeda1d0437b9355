// /verify/:token: anyone checks a training certificate by the token
// printed on it (GET /v1/certificate-verifications/{token}).
import { useEffect, useState } from "preact/hooks";
import { ApiError, call } from "../api.js";
import { formatDate } from "../time.js";
import { Loading, Problem } from "../ui.jsx";

/** @typedef {import("../api-ops").Ok<"/v1/certificate-verifications/{token}", "get">} Verification */

/** @param {{params: {token: string}}} props */
export function VerifyCertificate({ params }) {
  const [cert, setCert] = useState(/** @type {Verification | null | undefined} */ (undefined));
  const [error, setError] = useState(/** @type {ApiError | null} */ (null));
  useEffect(() => {
    call("get", "/v1/certificate-verifications/{token}", { params: { token: params.token } })
      .then(setCert)
      .catch((e) => {
        if (e instanceof ApiError && e.status === 404) setCert(null);
        else setError(e instanceof ApiError ? e : new ApiError(0, "CLIENT", String(e), []));
      });
  }, [params.token]);
  if (error) return <Problem error={error} />;
  if (cert === undefined) return <Loading what="the certificate" />;
  if (cert === null) {
    return (
      <section>
        <h1>No such certificate</h1>
        <p>No certificate has this verification code. Check it against the one printed on the certificate.</p>
      </section>
    );
  }
  const valid = cert.status === "active";
  return (
    <section>
      <h1>Certificate check</h1>
      <p class={valid ? "status ok" : "status bad"} role="status">
        {valid ? "This certificate is valid." : `This certificate is ${cert.status}.`}
      </p>
      <dl class="facts">
        <dt>Certificate number</dt>
        <dd>{cert.certificate_number}</dd>
        <dt>Holder</dt>
        <dd>{cert.holder_name}</dd>
        <dt>Course</dt>
        <dd>{cert.course}</dd>
        <dt>Issued</dt>
        <dd>{formatDate(cert.issue_date)}</dd>
        <dt>Expires</dt>
        <dd>{formatDate(cert.expiry_date)}</dd>
      </dl>
    </section>
  );
}
