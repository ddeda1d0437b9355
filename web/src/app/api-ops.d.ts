// Types that name an operation of the API by its path and method, derived
// from api-types.d.ts (generated from /v1/openapi.json, docs/WEB.md), so
// that api.js's call() takes only a path the document has, with its path
// parameters, query and body, and answers the operation's own type.
import type { paths } from "./api-types";

export type Method = "get" | "post" | "put" | "patch" | "delete";
type Op<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

/** The paths that have an operation of method M. */
export type PathsWith<M extends Method> = {
  [P in keyof paths]: [NonNullable<paths[P][M]>] extends [never] ? never : P;
}[keyof paths];

export type Body<P extends keyof paths, M extends Method> =
  Op<P, M> extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;

export type PathParams<P extends keyof paths, M extends Method> =
  Op<P, M> extends { parameters: { path: infer X } } ? ([X] extends [never] ? undefined : X) : undefined;

export type Query<P extends keyof paths, M extends Method> =
  Op<P, M> extends { parameters: { query?: infer X } } ? ([X] extends [never] ? undefined : X) : undefined;

type Json<R> = R extends { content: { "application/json": infer T } } ? T : void;

/** The body of the operation's success (200, 201 or 202; void for 204). */
export type Ok<P extends keyof paths, M extends Method> =
  Op<P, M> extends { responses: infer R }
    ? R extends { 200: infer A } ? Json<A>
    : R extends { 201: infer A } ? Json<A>
    : R extends { 202: infer A } ? Json<A>
    : void
    : never;

export type Options<P extends keyof paths, M extends Method> = {
  params?: PathParams<P, M>;
  query?: Query<P, M>;
  body?: Body<P, M>;
  /** sign-in and registration: the server answers a browser's session */
  signIn?: boolean;
};

export type Problem = import("./api-types").components["schemas"]["Problem"];
export type Me = Ok<"/v1/me", "get">;
