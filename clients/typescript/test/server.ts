/**
 * Starts the real `toolkit-sync` binary on a free port with a fresh SQLite database, for tests
 * of the client and of the console. The binary is `$TOOLKIT_SYNC_BIN`, else the debug build in
 * `$CARGO_TARGET_DIR` (or `target/`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");

export interface RunningServer {
  origin: string;
  stop: () => Promise<void>;
}

function binaryPath(): string {
  if (process.env.TOOLKIT_SYNC_BIN) return resolve(repoRoot, process.env.TOOLKIT_SYNC_BIN);
  const target = process.env.CARGO_TARGET_DIR ?? join(repoRoot, "target");
  return join(target, "debug", "toolkit-sync");
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => done(port));
    });
  });
}

export async function startServer(extraEnv: Record<string, string> = {}): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), "tks-client-"));
  const port = await freePort();
  const child: ChildProcess = spawn(binaryPath(), [], {
    cwd: repoRoot,
    env: {
      ...process.env,
      TOOLKIT_PROFILE: "development",
      DATABASE_URL: `sqlite://${join(dir, "db.sqlite")}`,
      TOOLKIT__SERVER__HOST: "127.0.0.1",
      TOOLKIT__SERVER__PORT: String(port),
      TOOLKIT__SERVER__WORKERS: "2",
      TOOLKIT__REALTIME__POLL_INTERVAL_MS: "100",
      RUST_LOG: "warn",
      ...extraEnv,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const origin = `http://127.0.0.1:${port}`;
  let failed: Error | null = null;
  const exited = new Promise<void>((done) => {
    child.once("exit", () => done());
    child.once("error", (error) => {
      failed = error;
      done();
    });
  });
  const stop = async () => {
    if (!failed && child.exitCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null || failed) break;
    try {
      const res = await fetch(`${origin}/healthz`);
      if (res.ok) return { origin, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`toolkit-sync (${binaryPath()}) did not become healthy on ${origin}`);
}

/** A unique e-mail address per call, so tests never collide. */
export function uniqueEmail(name: string): string {
  return `${name}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}
