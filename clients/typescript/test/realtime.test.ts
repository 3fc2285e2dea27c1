/** The WebSocket helper against a real server: live events, resume after a drop, no duplicates. */
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RealtimeClient, ToolkitClient, versionTag, wsUrlFor, type RealtimeEvent } from "../src";
import { startServer, uniqueEmail, type RunningServer } from "./server";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

function until(check: () => boolean, what: string): Promise<void> {
  return new Promise((done, fail) => {
    const started = Date.now();
    const tick = () => {
      if (check()) return done();
      if (Date.now() - started > 10_000) return fail(new Error(`gave up waiting for ${what}`));
      setTimeout(tick, 25);
    };
    tick();
  });
}

describe("RealtimeClient", () => {
  it("delivers live events, resumes after a dropped socket and never repeats an event", async () => {
    const client = new ToolkitClient({ baseUrl: server.origin });
    await client.register(uniqueEmail("rt"), "correct horse battery", "Realtime");
    const projectId = (await client.api.POST("/api/v1/projects", { body: { name: `RT ${Date.now()}` } })).data!.id;

    const events: RealtimeEvent[] = [];
    const states: string[] = [];
    let subscribed = 0;
    const rt = new RealtimeClient({
      url: wsUrlFor(server.origin),
      ticket: () => client.wsTicket(),
      WebSocket: WebSocket as never,
      minDelayMs: 50,
      onEvent: (e) => events.push(e),
      onState: (s) => states.push(s),
      onMessage: (m) => {
        if (m.type === "subscribed") subscribed += 1;
      },
    });
    rt.subscribe(projectId);
    rt.connect();
    await until(() => subscribed === 1, "the first subscription");

    const doc = (
      await client.api.POST("/api/v1/projects/{projectId}/docs", {
        params: { path: { projectId } },
        body: { path: "a.md", content: "a" },
      })
    ).data!;
    await until(() => events.some((e) => e.type === "doc.created"), "doc.created");

    // Drop the socket, change the doc while nobody listens, and expect the change on resume.
    rt.drop();
    await until(() => rt.state !== "open", "the drop");
    await client.api.PUT("/api/v1/projects/{projectId}/docs/{docId}", {
      params: { path: { projectId, docId: doc.id }, header: { "If-Match": versionTag(1) } },
      body: { content: "b" },
    });
    await until(() => events.some((e) => e.type === "doc.updated"), "doc.updated replayed after reconnect");
    expect(subscribed).toBeGreaterThanOrEqual(2);
    expect(states).toContain("connecting");

    const seqs = events.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(rt.lastSeq(projectId)).toBe(seqs[seqs.length - 1]);
    rt.close();
  });

  // A real resync.required needs events purged past retention (days): the server's message is
  // injected here, and what is checked is that the helper hands it to the caller.
  it("calls onResync with the project of a resync.required message", async () => {
    const client = new ToolkitClient({ baseUrl: server.origin });
    await client.register(uniqueEmail("rs"), "correct horse battery", "Resync");
    const projectId = (await client.api.POST("/api/v1/projects", { body: { name: `RS ${Date.now()}` } })).data!.id;
    const resyncs: string[] = [];
    const rt = new RealtimeClient({
      url: wsUrlFor(server.origin),
      ticket: () => client.wsTicket(),
      WebSocket: WebSocket as never,
      onResync: (id) => resyncs.push(id),
    });
    rt.connect();
    (rt as unknown as { receive: (t: string) => void }).receive(JSON.stringify({ type: "resync.required", projectId }));
    expect(resyncs).toEqual([projectId]);
    rt.close();
  });
});
