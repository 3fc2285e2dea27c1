/** The typed client against a real server: sessions, typed calls, conditional saves, problems. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, ToolkitClient, explain, versionTag } from "../src";
import { startServer, uniqueEmail, type RunningServer } from "./server";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

async function signedUp(name: string): Promise<ToolkitClient> {
  const client = new ToolkitClient({ baseUrl: server.origin });
  await client.register(uniqueEmail(name), "correct horse battery", name);
  return client;
}

describe("ToolkitClient", () => {
  it("registers, signs in and reads /me with the token it keeps in memory", async () => {
    const email = uniqueEmail("ada");
    const first = new ToolkitClient({ baseUrl: server.origin });
    await first.register(email, "correct horse battery", "Ada");
    const client = new ToolkitClient({ baseUrl: server.origin });
    const user = await client.login(email, "correct horse battery");
    const { data } = await client.api.GET("/api/v1/me");
    expect(data?.id).toBe(user.id);
    expect(data?.displayName).toBe("Ada");
  });

  it("turns a wrong password into an ApiError carrying the problem", async () => {
    const client = new ToolkitClient({ baseUrl: server.origin });
    const error = await client.login(uniqueEmail("nobody"), "wrong password!").catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(401);
    expect(error.problem?.requestId).toBeTruthy();
  });

  it("refreshes an expired access token and retries the call once", async () => {
    const sessions: unknown[] = [];
    const client = new ToolkitClient({ baseUrl: server.origin, onSession: (s) => sessions.push(s) });
    await client.register(uniqueEmail("grace"), "correct horse battery", "Grace");
    const before = client.accessToken;
    // Spoil the access token: the server answers 401, the client refreshes and retries.
    (client as unknown as { session: { accessToken: string } }).session.accessToken = "not-a-jwt";
    const { data, response } = await client.api.GET("/api/v1/me");
    expect(response.status).toBe(200);
    expect(data?.displayName).toBe("Grace");
    expect(client.accessToken).not.toBe("not-a-jwt");
    expect(client.accessToken).not.toBe(before);
    expect(sessions.length).toBe(2);
  });

  it("saves with If-Match and reports a stale version as 412, explained in words", async () => {
    const client = await signedUp("linus");
    const project = await client.api.POST("/api/v1/projects", { body: { name: `Client ${Date.now()}` } });
    expect(project.response.status).toBe(201);
    const projectId = project.data!.id;
    const created = await client.api.POST("/api/v1/projects/{projectId}/docs", {
      params: { path: { projectId } },
      body: { path: "CLAUDE.md", content: "# one\n" },
    });
    const doc = created.data!;
    expect(doc.version).toBe(1);
    const saved = await client.api.PUT("/api/v1/projects/{projectId}/docs/{docId}", {
      params: { path: { projectId, docId: doc.id }, header: { "If-Match": versionTag(1) } },
      body: { content: "# two\n" },
    });
    expect(saved.data?.version).toBe(2);
    const stale = await client.api.PUT("/api/v1/projects/{projectId}/docs/{docId}", {
      params: { path: { projectId, docId: doc.id }, header: { "If-Match": versionTag(1) } },
      body: { content: "# three\n" },
    });
    expect(stale.response.status).toBe(412);
    expect(explain(412, stale.error as never)).toMatch(/Someone else saved this doc/);
  });

  it("lists what it created through typed list endpoints", async () => {
    const client = await signedUp("margaret");
    const name = `Listed ${Date.now()}`;
    await client.api.POST("/api/v1/projects", { body: { name } });
    const { data } = await client.api.GET("/api/v1/projects", { params: { query: { q: "Listed" } } });
    expect(data?.items.map((p) => p.name)).toContain(name);
  });
});
