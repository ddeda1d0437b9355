// Every page of the application: its path (":name" a parameter, given to
// the page as params.name), its component, who may see it, and the label
// under which the navigation offers it (docs/WEB.md, "Adding a page").
// A page's component gets {params, query}. The first route that matches
// is drawn; the last ("*") is the not-found page.
//
// access: "public" (anyone, signed in or not), "signed-in" (anyone signed
// in), or a list of roles (GET /v1/me's role). A signed-out visitor of a
// page that needs a session gets the sign-in form, and comes back here
// after it; a signed-in person without the role gets "not allowed".
import { Home } from "./pages/home.jsx";
import { SignIn } from "./pages/sign-in.jsx";
import { Register } from "./pages/register.jsx";
import { ForgotPassword, ResetPassword, SetPassword, VerifyEmail, NotMe } from "./pages/tokens.jsx";
import { PartnerLanding } from "./pages/partner.jsx";
import { VerifyCertificate } from "./pages/certificate.jsx";
import { NotFound } from "./pages/not-found.jsx";
import { meRoutes } from "./pages/me/routes.js";
import { adminRoutes } from "./pages/admin/routes.js";
import { practiceRoutes } from "./pages/practice/routes.js";

/** @typedef {"admin" | "partner_admin" | "therapist" | "instructor" | "member"} Role */
/** @typedef {"public" | "signed-in" | Role[]} Access */
/**
 * @typedef {{path: string, page: import("preact").ComponentType<any>, access: Access,
 *   title: string, nav?: string, signedOutOnly?: boolean}} Route
 */

/** @type {Route[]} */
export const routes = [
  { path: "/", page: Home, access: "public", title: "Home", nav: "Home" },
  { path: "/sign-in", page: SignIn, access: "public", title: "Sign in", nav: "Sign in", signedOutOnly: true },
  { path: "/register", page: Register, access: "public", title: "Create an account", nav: "Register", signedOutOnly: true },
  { path: "/join/:partner", page: Register, access: "public", title: "Join" },
  { path: "/forgot-password", page: ForgotPassword, access: "public", title: "Forgotten password" },
  { path: "/reset-password", page: ResetPassword, access: "public", title: "Choose a new password" },
  { path: "/verify-email", page: VerifyEmail, access: "public", title: "Confirm your address" },
  { path: "/set-password", page: SetPassword, access: "public", title: "Choose your password" },
  { path: "/not-me", page: NotMe, access: "public", title: "This is not me" },
  { path: "/partners/:partner", page: PartnerLanding, access: "public", title: "Partner" },
  { path: "/verify/:token", page: VerifyCertificate, access: "public", title: "Certificate check" },
  // A person's own pages (issue 18 item 3): pages/me/routes.js.
  ...meRoutes,
  // A partner admin's pages and the admin console (issue 18 items 5, 6): pages/admin/routes.js.
  ...adminRoutes,
  // A therapist's pages (issue 18 item 4): pages/practice/routes.js.
  ...practiceRoutes,
  { path: "*", page: NotFound, access: "public", title: "Page not found" },
];
