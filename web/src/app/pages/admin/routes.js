// The partner admin's pages and the admin console (issue 18 items 5 and 6),
// in routes.js's form (path, page, access, title, nav). The API decides
// what each role may do; these say who is offered a page: a partner admin
// their partner's codes, members and reports, an admin everything here (a partner
// admin's pages too, over every partner).
import { AccessCodes, Members } from "./access.jsx";
import { PartnerReports } from "./partner_reports.jsx";
import { Users } from "./users.jsx";
import { AdminHome, Relationships, Partners, AdminCourses, EmailLog, AuditLog, Reports } from "./console.jsx";
import { TrainingAdmin } from "./training.jsx";
import { WebhookInbox, FailedJobs } from "./operations.jsx";
import "./admin.css";

/** @type {import("../../routes.js").Role[]} */
const PARTNER = ["partner_admin", "admin"];
/** @type {import("../../routes.js").Role[]} */
const ADMIN = ["admin"];

/** @type {import("../../routes.js").Route[]} */
export const adminRoutes = [
  { path: "/partner/codes", page: AccessCodes, access: PARTNER, title: "Access codes", nav: "Codes" },
  { path: "/partner/members", page: Members, access: PARTNER, title: "Members and their sessions", nav: "Members" },
  { path: "/partner/reports", page: PartnerReports, access: PARTNER, title: "Partner reports", nav: "Partner reports" },
  { path: "/admin", page: AdminHome, access: ADMIN, title: "Admin console", nav: "Admin" },
  { path: "/admin/users", page: Users, access: ADMIN, title: "Users" },
  { path: "/admin/relationships", page: Relationships, access: ADMIN, title: "Relationships" },
  { path: "/admin/partners", page: Partners, access: ADMIN, title: "Partners" },
  { path: "/admin/courses", page: AdminCourses, access: ADMIN, title: "Courses from the CMS" },
  { path: "/admin/email", page: EmailLog, access: ADMIN, title: "Email log" },
  { path: "/admin/audit", page: AuditLog, access: ADMIN, title: "Audit log" },
  { path: "/admin/webhooks", page: WebhookInbox, access: ADMIN, title: "Webhook inbox" },
  { path: "/admin/jobs", page: FailedJobs, access: ADMIN, title: "Failed jobs" },
  { path: "/admin/reports", page: Reports, access: ADMIN, title: "Reports" },
  { path: "/admin/training", page: TrainingAdmin, access: ADMIN, title: "Training" },
];
