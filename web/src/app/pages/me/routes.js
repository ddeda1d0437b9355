// A person's own pages (issue 18 item 3), in routes.js's form (path, page,
// access, title, nav): every signed-in person has them; the family page is
// a member's (guardians are members).
import { Account } from "./account.jsx";
import { Courses, Course } from "./courses.jsx";
import { Therapy } from "./therapy.jsx";
import { TherapySessions, TherapySession } from "./sessions.jsx";
import { Forms, FormFill } from "./forms.jsx";
import { Resources } from "./resources.jsx";
import { Recordings, Recording } from "./recordings.jsx";
import { Family } from "./family.jsx";
import { Notifications } from "./notifications.jsx";
import "./me.css";

/** @type {import("../../routes.js").Route[]} */
export const meRoutes = [
  { path: "/account", page: Account, access: "signed-in", title: "Your account", nav: "Account" },
  { path: "/courses", page: Courses, access: "signed-in", title: "Your courses", nav: "Courses" },
  { path: "/courses/:id", page: Course, access: "signed-in", title: "Course" },
  { path: "/therapy", page: Therapy, access: "signed-in", title: "Your therapy", nav: "Therapy" },
  { path: "/therapy/sessions", page: TherapySessions, access: "signed-in", title: "Your therapy sessions", nav: "Sessions" },
  { path: "/therapy/sessions/:id", page: TherapySession, access: "signed-in", title: "Therapy session" },
  { path: "/forms", page: Forms, access: "signed-in", title: "Your forms", nav: "Forms" },
  { path: "/forms/:id", page: FormFill, access: "signed-in", title: "Form" },
  { path: "/resources", page: Resources, access: "signed-in", title: "Resources for you", nav: "Resources" },
  { path: "/recordings", page: Recordings, access: "signed-in", title: "Your recordings", nav: "Recordings" },
  { path: "/recordings/:id", page: Recording, access: "signed-in", title: "Recording" },
  { path: "/family", page: Family, access: ["member"], title: "Your family", nav: "Family" },
  { path: "/notifications", page: Notifications, access: "signed-in", title: "Notifications", nav: "Notifications" },
];
