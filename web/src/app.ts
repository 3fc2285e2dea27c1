/**
 * The console's shared state: one typed client (tokens in memory only), one realtime socket,
 * and the listeners of live events that the views on screen register.
 */
import {
  ApiError,
  RealtimeClient,
  ToolkitClient,
  explain,
  wsUrlFor,
  type Problem,
  type Project,
  type RealtimeEvent,
} from "@toolkit-sync/client";
import { notify } from "./dom";

export const client = new ToolkitClient({
  baseUrl: "",
  onSession: (session) => {
    // Keep the socket alive past the old token's expiry.
    if (session) live.renew(session.accessToken);
  },
});

type Listener = (event: RealtimeEvent) => void;
const listeners = new Set<Listener>();
const resyncListeners = new Set<(projectId: string) => void>();

export const live = new RealtimeClient({
  url: wsUrlFor(location.origin),
  ticket: () => client.wsTicket(),
  onEvent: (event) => listeners.forEach((listener) => listener(event)),
  onResync: (projectId) => resyncListeners.forEach((listener) => listener(projectId)),
  onState: (state) => {
    const el = document.getElementById("connection");
    if (!el) return;
    el.textContent = { open: "Live updates: connected", connecting: "Live updates: reconnecting…", closed: "" }[state];
    el.dataset.state = state;
  },
});

/** Registers a live-event listener; returns its removal. */
export function onLive(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function onResync(listener: (projectId: string) => void): () => void {
  resyncListeners.add(listener);
  return () => resyncListeners.delete(listener);
}

export const state: { project: Project | null } = { project: null };

/** The data of a typed call, or an ApiError carrying the problem document. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  throw new ApiError(response.status, error as Problem | undefined);
}

/** Runs an action and shows any refusal in words. */
export async function attempt(action: () => Promise<void>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch (error) {
    notify(describe(error));
    return false;
  }
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) return explain(error.status, error.problem as never);
  return error instanceof Error ? error.message : String(error);
}

/** Who made a change, from any author/actor shape of the API. */
export function authorName(author: unknown): string {
  const a = (author ?? {}) as Record<string, unknown>;
  if (typeof a.displayName === "string") return a.displayName;
  if (typeof a.name === "string") return `API key ${a.name}`;
  if (a.github) return "GitHub sync";
  if (a.system) return "the server";
  return "someone";
}
