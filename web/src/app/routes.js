// Interim stand-in for w18c's route table (path -> page and who may see
// it); the shell's own file replaces this one when merged.
import { meRoutes } from "./pages/me/routes.js";

export const routes = [...meRoutes];
