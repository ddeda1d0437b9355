// A small typed client over the types openapi-typescript generates from
// GET /v1/openapi.json (api.d.ts, written beside this file by
// tests/api/test_openapi.py): compiled with tsc --strict, it shows the
// document gives a client real request and answer types.
import type { components, paths } from "./api";

type Problem = components["schemas"]["Problem"];
type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;
type Answer<Op, S extends number> = Op extends { responses: infer R }
  ? S extends keyof R
    ? Json<R[S]>
    : never
  : never;

export class Carebase {
  constructor(private base: string, private token?: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (this.token !== undefined) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) {
      const p = (await r.json()) as Problem;
      throw new Error(`${p.status} ${p.code}: ${p.detail ?? p.title}`);
    }
    return (await r.json()) as T;
  }

  login(
    body: paths["/v1/auth/login"]["post"]["requestBody"] extends
      | { content: { "application/json": infer B } }
      | undefined
      ? B
      : never,
  ): Promise<Answer<paths["/v1/auth/login"]["post"], 200>> {
    return this.call("POST", "/v1/auth/login", body);
  }

  me(): Promise<Answer<paths["/v1/me"]["get"], 200>> {
    return this.call("GET", "/v1/me");
  }

  async myTherapyBookings(): Promise<string[]> {
    const page: Answer<paths["/v1/me/therapy-bookings"]["get"], 200> = await this.call(
      "GET",
      "/v1/me/therapy-bookings",
    );
    return page.data.map((b) => b.id);
  }

  partner(idOrName: string): Promise<Answer<paths["/v1/partners/{id}"]["get"], 200>> {
    return this.call("GET", `/v1/partners/${encodeURIComponent(idOrName)}`);
  }
}

export async function demo(base: string): Promise<string> {
  const anon = new Carebase(base);
  const session = await anon.login({ email: "a@example.com", password: "correct horse battery" });
  const me = await new Carebase(base, session.token).me();
  return `${session.expires_at} ${me.email ?? ""}`;
}
