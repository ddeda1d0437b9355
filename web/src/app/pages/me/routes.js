// The person's own pages (issue 18 item 3): path -> page, the name it has
// in the navigation, and who may see it (any signed-in person; the family
// page is shown in the navigation of members, who may become guardians).
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

const SIGNED_IN = "signed_in";

export const meRoutes = [
  { path: "/account", page: Account, nav: "Account", who: SIGNED_IN },
  { path: "/courses", page: Courses, nav: "Courses", who: SIGNED_IN },
  { path: "/courses/:id", page: Course, who: SIGNED_IN },
  { path: "/therapy", page: Therapy, nav: "Therapy", who: SIGNED_IN },
  { path: "/therapy/sessions", page: TherapySessions, nav: "Sessions", who: SIGNED_IN },
  { path: "/therapy/sessions/:id", page: TherapySession, who: SIGNED_IN },
  { path: "/forms", page: Forms, nav: "Forms", who: SIGNED_IN },
  { path: "/forms/:id", page: FormFill, who: SIGNED_IN },
  { path: "/resources", page: Resources, nav: "Resources", who: SIGNED_IN },
  { path: "/recordings", page: Recordings, nav: "Recordings", who: SIGNED_IN },
  { path: "/recordings/:id", page: Recording, who: SIGNED_IN },
  { path: "/family", page: Family, nav: "Family", who: ["member"] },
  { path: "/notifications", page: Notifications, nav: "Notifications", who: SIGNED_IN },
];
