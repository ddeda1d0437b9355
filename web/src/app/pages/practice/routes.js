// A therapist's pages (issue 18 item 4), in routes.js's form: their week
// of sessions, a session with its shared and private notes, the clients
// they lead with their forms, resources and recordings, and their
// library. Only therapists: the pages work from the caller's own
// therapist profile (GET /v1/therapists), which an admin has none of.
import { Calendar } from "./calendar.jsx";
import { PracticeSession } from "./session.jsx";
import { Clients, Client } from "./clients.jsx";
import { Library } from "./library.jsx";
import { ClientRecording } from "./recording.jsx";
import "./practice.css";

/** @type {import("../../routes.js").Access} */
const THERAPIST = ["therapist"];

/** @type {import("../../routes.js").Route[]} */
export const practiceRoutes = [
  { path: "/practice", page: Calendar, access: THERAPIST, title: "Your calendar", nav: "Calendar" },
  { path: "/practice/sessions/:id", page: PracticeSession, access: THERAPIST, title: "Session" },
  { path: "/practice/clients", page: Clients, access: THERAPIST, title: "Your clients", nav: "Clients" },
  { path: "/practice/clients/:id", page: Client, access: THERAPIST, title: "Client" },
  { path: "/practice/recordings/:id", page: ClientRecording, access: THERAPIST, title: "Client's recording" },
  { path: "/practice/library", page: Library, access: THERAPIST, title: "Your library", nav: "Library" },
];
