/**
 * A thin typed wrapper over `openapi-fetch`: every path, parameter, body and response is typed
 * from the server's OpenAPI document (`schema.d.ts`, generated). The session (access and refresh
 * token) lives in memory only; the access token is refreshed shortly before it expires, and a
 * request answered 401 is retried once after a refresh.
 */
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Session = Schemas["SessionDto"];
export type User = Schemas["UserDto"];
export type Project = Schemas["ProjectDto"];
export type Member = Schemas["MemberDto"];
export type Doc = Schemas["DocDto"];
export type Lock = Schemas["LockDto"];
export type Revision = Schemas["RevisionDto"];
export type ApiKey = Schemas["ApiKeyDto"];
export type CreatedApiKey = Schemas["CreatedApiKeyDto"];
export type SearchHit = Schemas["SearchHitDto"];
export type ApiEvent = Schemas["EventDto"];
export type Problem = Schemas["Problem"];
export type GitHubLink = Schemas["GitHubLinkStateDto"];
export type SyncRun = Schemas["SyncRunDto"];
export type SyncConflict = Schemas["SyncConflictDto"];

export type ApiClient = Client<paths>;

export interface ToolkitClientOptions {
  /** Origin of the server, e.g. `http://127.0.0.1:8080`; `""` for the page's own origin. */
  baseUrl?: string;
  /** Called whenever the session changes (sign-in, refresh, sign-out → `null`). */
  onSession?: (session: Session | null) => void;
  /** Refresh this many seconds before the access token expires (default 30). */
  refreshMarginSeconds?: number;
  fetch?: typeof fetch;
}

/** The client: `api` for typed calls, plus the session handling around it. */
export class ToolkitClient {
  readonly api: ApiClient;
  readonly baseUrl: string;
  private session: Session | null = null;
  private expiresAt = 0;
  private refreshing: Promise<boolean> | null = null;
  private readonly baseFetch: typeof fetch;

  constructor(private readonly options: ToolkitClientOptions = {}) {
    this.baseUrl = options.baseUrl ?? "";
    this.baseFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.api = createClient<paths>({
      baseUrl: this.baseUrl,
      fetch: (request: Request) => this.authorisedFetch(request),
    });
  }

  /** The signed-in user, or `null`. */
  get user(): User | null {
    return this.session?.user ?? null;
  }

  /** The current access token (for `auth` on a WebSocket), or `null`. */
  get accessToken(): string | null {
    return this.session?.accessToken ?? null;
  }

  async register(email: string, password: string, displayName: string): Promise<User> {
    const { data, error, response } = await this.api.POST("/api/v1/auth/register", {
      body: { email, password, displayName },
    });
    if (!data) throw new ApiError(response.status, error as Problem | undefined);
    this.setSession(data);
    return data.user;
  }

  async login(email: string, password: string): Promise<User> {
    const { data, error, response } = await this.api.POST("/api/v1/auth/login", {
      body: { email, password },
    });
    if (!data) throw new ApiError(response.status, error as Problem | undefined);
    this.setSession(data);
    return data.user;
  }

  async logout(): Promise<void> {
    const refreshToken = this.session?.refreshToken;
    this.setSession(null);
    if (refreshToken) {
      await this.api.POST("/api/v1/auth/logout", { body: { refreshToken } });
    }
  }

  /** Trades the refresh token for a new pair; `false` (and signed out) when it is refused. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** A single-use WebSocket ticket (valid 30 s) for `GET /api/v1/ws?ticket=`. */
  async wsTicket(): Promise<string> {
    const { data, error, response } = await this.api.POST("/api/v1/ws-ticket");
    if (!data) throw new ApiError(response.status, error as Problem | undefined);
    return data.ticket;
  }

  private async doRefresh(): Promise<boolean> {
    const refreshToken = this.session?.refreshToken;
    if (!refreshToken) return false;
    const response = await this.baseFetch(`${this.baseUrl}/api/v1/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken }),
    });
    if (!response.ok) {
      this.setSession(null);
      return false;
    }
    this.setSession((await response.json()) as Session);
    return true;
  }

  private setSession(session: Session | null): void {
    this.session = session;
    this.expiresAt = session ? Date.now() + session.expiresIn * 1000 : 0;
    this.options.onSession?.(session);
  }

  private withToken(request: Request): Request {
    const token = this.session?.accessToken;
    if (!token || request.headers.has("authorization")) return request;
    const headers = new Headers(request.headers);
    headers.set("authorization", `Bearer ${token}`);
    return new Request(request, { headers });
  }

  private async authorisedFetch(request: Request): Promise<Response> {
    const isAuthCall = new URL(request.url, "http://x").pathname.startsWith("/api/v1/auth/");
    if (this.session && !isAuthCall) {
      const margin = (this.options.refreshMarginSeconds ?? 30) * 1000;
      if (Date.now() > this.expiresAt - margin) await this.refresh();
    }
    const retry = this.session && !isAuthCall ? request.clone() : null;
    const response = await this.baseFetch(this.withToken(request));
    if (response.status === 401 && retry && (await this.refresh())) {
      return this.baseFetch(this.withToken(retry));
    }
    return response;
  }
}

/** A refused call: the HTTP status and the server's RFC 9457 problem document. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.name = "ApiError";
  }
}

/** `"<version>"` → the `If-Match` / `ETag` header value for a doc version. */
export function versionTag(version: number): string {
  return `"${version}"`;
}
