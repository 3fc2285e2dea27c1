/**
 * Plain-language explanations of the answers a person can run into while editing, for UIs to
 * show instead of a status code.
 */
import type { Problem } from "./client";

/** One sentence (or two) saying what happened and what to do next. */
export function explain(status: number, problem?: Partial<Problem> & Record<string, unknown>): string {
  const detail = problem?.detail ? ` (${problem.detail})` : "";
  switch (status) {
    case 400:
      return `The request was malformed${detail}.`;
    case 401:
      return "Your session has ended. Sign in again.";
    case 403:
      return `You are not allowed to do this here${detail}.`;
    case 404:
      return "This no longer exists, or you no longer have access to it.";
    case 409: {
      const lock = problem?.lock as { holder?: { displayName?: string }; expiresAt?: string } | undefined;
      if (lock?.holder) {
        return `${lock.holder.displayName} is editing this doc (locked until ${formatTime(lock.expiresAt)}). You can read it, and edit once the lock is released or expires.`;
      }
      return `This clashes with something that already exists${detail}.`;
    }
    case 412:
      return `Someone else saved this doc after you opened it, so your save was refused to avoid overwriting their change${detail}. Reload to see the latest version, then apply your edit again (copy your text first).`;
    case 413:
      return `This is too large to save${detail}.`;
    case 422: {
      const errors = (problem?.errors ?? []) as { field: string; message: string }[];
      const list = errors.map((e) => `${e.field}: ${e.message}`).join("; ");
      return `Some values are not valid${list ? `: ${list}` : detail}.`;
    }
    case 423: {
      const lock = problem?.lock as { holder?: { displayName?: string }; expiresAt?: string } | undefined;
      const who = lock?.holder?.displayName ?? "Someone else";
      return `${who} holds the lock on this doc${lock?.expiresAt ? ` until ${formatTime(lock.expiresAt)}` : ""}, so it cannot be saved now. Your text is still here: wait for the lock to be released, then save again.`;
    }
    case 428:
      return "The save did not say which version it was based on (If-Match). Reload the doc and try again.";
    case 429:
      return "Too many requests: wait a moment and try again.";
    default:
      return status >= 500
        ? `The server failed${problem?.requestId ? ` (request ${problem.requestId})` : ""}. Try again later.`
        : `The request was refused (HTTP ${status})${detail}.`;
  }
}

function formatTime(iso: string | undefined): string {
  if (!iso) return "later";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString();
}
