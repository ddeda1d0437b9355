// A partner's public branding (GET /v1/partners/{name}: name, logo, alt
// text, website, footer lines, social links, brand colour, features): its
// landing page /partners/:partner, and the header and footer of its
// sign-up page /join/:partner (register.jsx).
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, call } from "../api.js";
import { Loading, Problem } from "../ui.jsx";

/** @typedef {import("../api-ops").Ok<"/v1/partners/{id}", "get">} Branding */

/**
 * The branding of the partner named name: undefined while it loads, null
 * for no such active partner.
 * @param {string} name
 * @returns {{branding: Branding | null | undefined, error: ApiError | null}}
 */
export function usePartner(name) {
  const [branding, setBranding] = useState(/** @type {Branding | null | undefined} */ (undefined));
  const [error, setError] = useState(/** @type {ApiError | null} */ (null));
  useEffect(() => {
    let live = true;
    setBranding(undefined);
    call("get", "/v1/partners/{id}", { params: { id: name } })
      .then((b) => live && setBranding(b))
      .catch((e) => {
        if (!live) return;
        if (e instanceof ApiError && e.status === 404) setBranding(null);
        else setError(e instanceof ApiError ? e : new ApiError(0, "CLIENT", String(e), []));
      });
    return () => {
      live = false;
    };
  }, [name]);
  return { branding, error };
}

/**
 * A link from the API, shown only when it is http(s) (the server checks
 * links too: README "Links").
 * @param {unknown} u
 * @returns {string | null}
 */
function safeUrl(u) {
  if (typeof u !== "string") return null;
  try {
    const url = new URL(u);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch (e) {
    return null;
  }
}

/**
 * The logo, when the page's policy lets the browser load it (img-src
 * 'self': a logo on this site); else the partner's name stands alone.
 * @param {{branding: Branding}} props
 */
export function PartnerLogo({ branding }) {
  const src = safeUrl(branding.logo_url);
  if (!src || new URL(src).origin !== location.origin) return null;
  return <img class="partner-logo" src={src} alt={branding.logo_alt || `${branding.name} logo`} />;
}

/** @param {{branding: Branding}} props */
export function PartnerFooter({ branding }) {
  const site = safeUrl(branding.website);
  const social = Object.entries(branding.social_links || {})
    .map(([k, v]) => /** @type {[string, string | null]} */ ([k, safeUrl(v)]))
    .filter(([, v]) => v);
  return (
    <aside class="partner-footer" aria-label={`About ${branding.name}`}>
      {branding.footer_line1 && <p>{branding.footer_line1}</p>}
      {branding.footer_line2 && <p>{branding.footer_line2}</p>}
      {(site || social.length > 0) && (
        <ul class="inline">
          {site && (
            <li>
              <a href={site} rel="noopener noreferrer">
                {`${branding.name} website`}
              </a>
            </li>
          )}
          {social.map(([k, v]) => (
            <li key={k}>
              <a href={/** @type {string} */ (v)} rel="noopener noreferrer">
                {k}
              </a>
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}

/**
 * The text colour readable on bg ("#rrggbb"): black or white, whichever
 * has the larger contrast ratio with it (WCAG 2's relative luminance).
 * @param {string} bg
 */
export function readableOn(bg) {
  const lin = (i) => {
    const c = parseInt(bg.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(1) + 0.7152 * lin(3) + 0.0722 * lin(5);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000000" : "#ffffff";
}

/**
 * The partner's colour on el: the site's custom properties --brand and
 * --brand-ink (the text on it) set anew for el and what is inside it (its
 * band and buttons, app.css). Set through the
 * CSSOM, which the page's policy allows (a style attribute it refuses).
 * @param {{current: HTMLElement | null}} ref
 * @param {unknown} colour
 */
function useBrandColour(ref, colour) {
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof colour !== "string" || !/^#[0-9a-fA-F]{6}$/.test(colour)) return;
    el.style.setProperty("--brand", colour);
    el.style.setProperty("--brand-ink", readableOn(colour));
    return () => {
      el.style.removeProperty("--brand");
      el.style.removeProperty("--brand-ink");
    };
  }, [ref.current, colour]);
}

const FEATURES = { live_chat: "Live chat", therapy: "Therapy sessions" };

/** @param {{params: {partner: string}}} props */
export function PartnerLanding({ params }) {
  const { branding, error } = usePartner(params.partner);
  const section = useRef(/** @type {HTMLElement | null} */ (null));
  const colour = branding && branding.brand_colour;
  useBrandColour(section, colour);
  if (error) return <Problem error={error} />;
  if (branding === undefined) return <Loading what="the partner" />;
  if (branding === null) {
    return (
      <section>
        <h1>Partner not found</h1>
        <p>
          There is no partner called <q>{params.partner}</q>. Check the link you were given, or go to the{" "}
          <a href="/">home page</a>.
        </p>
      </section>
    );
  }
  return (
    <section class={colour ? "partner branded" : "partner"} ref={section}>
      <div class="partner-head">
        <PartnerLogo branding={branding} />
        <h1>{branding.name}</h1>
      </div>
      <p>{`${branding.name} works with carebase to offer its members:`}</p>
      <ul>
        {("features" in branding && Array.isArray(branding.features) ? branding.features : []).map((f) => (
          <li key={f}>{FEATURES[/** @type {keyof typeof FEATURES} */ (f)] || f}</li>
        ))}
        <li>Self-guided courses</li>
      </ul>
      <p class="actions-list">
        <a class="button primary" href={`/join/${encodeURIComponent(params.partner)}`}>
          {`Join with ${branding.name}`}
        </a>{" "}
        <a class="button" href="/sign-in">
          Sign in
        </a>
      </p>
      <PartnerFooter branding={branding} />
    </section>
  );
}
