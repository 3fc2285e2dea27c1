/**
 * The realtime socket (`GET /api/v1/ws`, protocol in docs/realtime.md): subscribes to projects,
 * remembers the highest `seq` applied per project, and after any disconnect reconnects with
 * backoff and jitter (a new ticket per attempt) and resumes each subscription with `afterSeq`,
 * so nothing is missed and nothing is applied twice. `resync.required` is handed to the caller,
 * who reloads what is on screen and calls {@link RealtimeClient.resynced}.
 */

/** An event: the same shape as an item of `GET /projects/{id}/events`. */
export interface RealtimeEvent {
  type: string;
  projectId: string | null;
  seq: number;
  at: string;
  actor: Record<string, unknown>;
  data: Record<string, unknown>;
}

/** Any other message of the server. */
export type ControlMessage =
  | { type: "subscribed"; projectId: string; currentSeq: number }
  | { type: "unsubscribed"; projectId: string; reason: string }
  | { type: "resync.required"; projectId: string }
  | { type: "pong" }
  | { type: "authenticated"; expiresAt: string }
  | { type: "error"; code: string; projectId?: string; detail?: string };

export type ConnectionState = "connecting" | "open" | "closed";

export interface RealtimeOptions {
  /** `ws://host:port` or `wss://host`; the client appends `/api/v1/ws?ticket=`. */
  url: string;
  /** A fresh single-use ticket (`POST /api/v1/ws-ticket`), asked for on every attempt. */
  ticket: () => Promise<string>;
  onEvent?: (event: RealtimeEvent) => void;
  /** The resume point is gone: reload the project, then call `resynced(projectId, seq)`. */
  onResync?: (projectId: string) => void;
  onMessage?: (message: ControlMessage) => void;
  onState?: (state: ConnectionState) => void;
  /** A WebSocket constructor (defaults to the global one; Node 20 needs the `ws` package). */
  WebSocket?: new (url: string) => WebSocket;
  /** First reconnect delay in ms (doubles up to `maxDelayMs`); default 500. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export class RealtimeClient {
  /** projectId → highest seq applied (0 = nothing yet: live from now). */
  private readonly subscriptions = new Map<string, number>();
  private socket: WebSocket | null = null;
  private stopped = true;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  state: ConnectionState = "closed";

  constructor(private readonly options: RealtimeOptions) {}

  /** Opens the socket (and keeps it open until {@link close}). */
  connect(): void {
    this.stopped = false;
    void this.open();
  }

  /** Follows a project; with `afterSeq`, every event after it is replayed first. */
  subscribe(projectId: string, afterSeq = 0): void {
    this.subscriptions.set(projectId, afterSeq);
    this.sendSubscribe(projectId);
  }

  unsubscribe(projectId: string): void {
    this.subscriptions.delete(projectId);
    this.send({ type: "unsubscribe", projectId });
  }

  /** The highest seq applied for a project. */
  lastSeq(projectId: string): number {
    return this.subscriptions.get(projectId) ?? 0;
  }

  /** After a reload caused by `resync.required`: resume from the feed's newest `seq`. */
  resynced(projectId: string, seq: number): void {
    this.subscribe(projectId, seq);
  }

  /** Hands a refreshed access token to the socket so it outlives the old one. */
  renew(accessToken: string): void {
    this.send({ type: "auth", token: accessToken });
  }

  /** Drops the connection as if the network failed (tests, "reconnect" buttons). */
  drop(): void {
    this.socket?.close(4000, "dropped by client");
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.socket?.close(1000, "bye");
    this.socket = null;
    this.setState("closed");
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    this.setState("connecting");
    let ticket: string;
    try {
      ticket = await this.options.ticket();
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const Ctor = this.options.WebSocket ?? globalThis.WebSocket;
    const socket = new Ctor(`${this.options.url}/api/v1/ws?ticket=${encodeURIComponent(ticket)}`);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.setState("open");
      for (const projectId of this.subscriptions.keys()) this.sendSubscribe(projectId);
    };
    socket.onmessage = (message: MessageEvent) => this.receive(String(message.data));
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.setState("connecting");
    const min = this.options.minDelayMs ?? 500;
    const max = this.options.maxDelayMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** this.attempt);
    this.attempt += 1;
    const jittered = delay / 2 + Math.random() * (delay / 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.open();
    }, jittered);
  }

  private receive(text: string): void {
    let message: { type?: unknown; seq?: unknown; projectId?: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message.seq === "number") {
      const event = message as RealtimeEvent;
      if (event.projectId) {
        // Idempotent: skip what was already applied (a replay may overlap a reload).
        if (event.seq <= this.lastSeq(event.projectId)) return;
        if (this.subscriptions.has(event.projectId)) this.subscriptions.set(event.projectId, event.seq);
      }
      this.options.onEvent?.(event);
      return;
    }
    const control = message as ControlMessage;
    // A live-from-now subscription resumes from where the server was when it answered.
    if (control.type === "subscribed" && this.lastSeq(control.projectId) === 0 && this.subscriptions.has(control.projectId)) {
      this.subscriptions.set(control.projectId, control.currentSeq);
    }
    if (control.type === "resync.required") this.options.onResync?.(control.projectId);
    if (control.type === "unsubscribed" && control.reason !== "requested") {
      this.subscriptions.delete(control.projectId);
    }
    this.options.onMessage?.(control);
  }

  private sendSubscribe(projectId: string): void {
    const afterSeq = this.lastSeq(projectId);
    this.send(afterSeq > 0 ? { type: "subscribe", projectId, afterSeq } : { type: "subscribe", projectId });
  }

  private send(message: object): void {
    if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify(message));
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onState?.(state);
  }
}

/** `http://host` → `ws://host`, `https://host` → `wss://host`. */
export function wsUrlFor(httpOrigin: string): string {
  return httpOrigin.replace(/^http/, "ws");
}
