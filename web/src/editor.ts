/**
 * The editor of one doc. Focusing the text takes the doc's lock (renewed while held), the lock's
 * holder and expiry are always on screen, saves send `If-Match` with the version the text is
 * based on, and refusals (412 stale, 423 locked) are explained in words. Live events update the
 * lock line and the text (or warn, when there are unsaved edits).
 */
import { ApiError, explain, versionTag, type Doc, type Lock, type RealtimeEvent, type Revision } from "@toolkit-sync/client";
import { authorName, client, describe, ok } from "./app";
import { diffLines } from "./diff";
import { fill, formatTime, h } from "./dom";

const LOCK_TTL_SECONDS = 60;
const RENEW_EVERY_MS = 20_000;

export class DocEditor {
  private doc: Doc | null = null;
  private lock: Lock | null = null;
  private holding = false;
  private dirty = false;
  /** Writes of this editor in flight: their own live events arrive before their responses. */
  private writing = 0;
  private renewTimer: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  private readonly text = h("textarea", { name: "content", rows: 22, spellcheck: false });
  private readonly heading = h("h3", {});
  private readonly meta = h("p", { class: "muted" });
  private readonly lockLine = h("p", { class: "lock", role: "status", "aria-live": "polite" });
  private readonly message = h("div", { class: "explain", role: "alert" });
  private readonly revisions = h("div", { class: "revisions" });

  constructor(
    private readonly el: HTMLElement,
    private readonly projectId: string,
    private readonly docId: string,
    private readonly changed: () => void,
  ) {
    this.text.id = "doc-content";
    this.text.addEventListener("focus", () => void this.takeLock());
    this.text.addEventListener("input", () => {
      this.dirty = true;
    });
    const save = h("button", { type: "button", onclick: () => void this.save() }, "Save");
    const release = h("button", { type: "button", class: "secondary", onclick: () => void this.releaseLock() }, "Release lock");
    const history = h("button", { type: "button", class: "secondary", onclick: () => void this.showRevisions() }, "Revisions");
    const trash = h("button", { type: "button", class: "danger", onclick: () => void this.remove() }, "Move to trash");
    fill(el,
      this.heading, this.meta, this.lockLine,
      h("label", { for: this.text.id, class: "visually-hidden" }, "Content"),
      this.text,
      h("div", { class: "actions" }, save, release, history, trash),
      this.message, this.revisions);
    void this.reload();
  }

  /** Loads the doc from the server (after open, a live update, or a resync). */
  async reload(): Promise<void> {
    try {
      const doc = await ok(client.api.GET("/api/v1/projects/{projectId}/docs/{docId}", {
        params: { path: { projectId: this.projectId, docId: this.docId } },
      }));
      this.show(doc);
    } catch (error) {
      this.say(describe(error));
    }
  }

  private show(doc: Doc): void {
    this.doc = doc;
    this.dirty = false;
    this.text.value = doc.content ?? "";
    this.heading.textContent = doc.path;
    this.text.setAttribute("aria-label", `Content of ${doc.path}`);
    this.meta.textContent = `Version ${doc.version} · ${doc.size} bytes · last saved by ${authorName(doc.updatedBy)} at ${formatTime(doc.updatedAt)}`;
    this.setLock(doc.lock ?? null);
  }

  private mine(lock: Lock | null): boolean {
    return !!lock && lock.holder.id === client.user?.id;
  }

  private setLock(lock: Lock | null): void {
    const expired = lock && new Date(lock.expiresAt).getTime() <= Date.now();
    this.lock = expired ? null : lock;
    const other = this.lock && !this.mine(this.lock);
    this.text.readOnly = !!other;
    this.el.dataset.lock = !this.lock ? "free" : other ? "other" : "mine";
    if (!this.lock) {
      this.lockLine.textContent = "Not locked. Click into the text to start editing: that locks the doc for you.";
    } else if (other) {
      this.lockLine.textContent = `Locked by ${this.lock.holder.displayName} until ${formatTime(this.lock.expiresAt)}. You can read, but not edit, until it is released or expires.`;
    } else {
      this.lockLine.textContent = `You hold the lock until ${formatTime(this.lock.expiresAt)} (renewed while you edit).`;
    }
  }

  private async takeLock(): Promise<void> {
    if (this.holding || (this.lock && !this.mine(this.lock))) return;
    await this.lockRequest();
    if (this.holding && !this.renewTimer) {
      this.renewTimer = setInterval(() => void this.lockRequest(), RENEW_EVERY_MS);
    }
  }

  /** Takes or renews the lock. */
  private async lockRequest(): Promise<void> {
    const { data, error, response } = await client.api.POST("/api/v1/projects/{projectId}/docs/{docId}/lock", {
      params: { path: { projectId: this.projectId, docId: this.docId } },
      body: { ttlSeconds: LOCK_TTL_SECONDS },
    });
    if (this.closed) return;
    if (data) {
      this.holding = true;
      this.setLock(data);
      return;
    }
    this.stopRenewing();
    const problem = error as { lock?: Lock } | undefined;
    if (response.status === 409 && problem?.lock) this.setLock(problem.lock);
    this.say(explain(response.status, error as never));
  }

  private stopRenewing(): void {
    this.holding = false;
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  async releaseLock(): Promise<void> {
    const held = this.holding;
    this.stopRenewing();
    if (!held) return;
    await client.api.DELETE("/api/v1/projects/{projectId}/docs/{docId}/lock", {
      params: { path: { projectId: this.projectId, docId: this.docId }, query: {} },
    });
    if (!this.closed) this.setLock(null);
  }

  private async save(): Promise<void> {
    if (!this.doc) return;
    this.writing += 1;
    const { data, error, response } = await client.api.PUT("/api/v1/projects/{projectId}/docs/{docId}", {
      params: { path: { projectId: this.projectId, docId: this.docId }, header: { "If-Match": versionTag(this.doc.version) } },
      body: { content: this.text.value },
    }).finally(() => { this.writing -= 1; });
    if (data) {
      const lock = this.lock;
      this.show({ ...data, lock: data.lock ?? lock });
      this.say(`Saved as version ${data.version}.`, "info");
      this.changed();
      return;
    }
    const problem = error as { lock?: Lock } | undefined;
    if (response.status === 423 && problem?.lock) this.setLock(problem.lock);
    this.say(explain(response.status, error as never), "error", response.status === 412 ? this.reloadKeepingText() : null);
  }

  /** After a 412: load the latest version, keeping the person's text visible to copy from. */
  private reloadKeepingText(): HTMLElement {
    return h("button", {
      type: "button",
      onclick: () => {
        const mine = this.text.value;
        void this.reload().then(() => {
          fill(this.revisions, h("h4", {}, "Your unsaved text"),
            h("label", { for: "unsaved-text" }, "Copy what you need into the editor above"),
            h("textarea", { id: "unsaved-text", readonly: true, rows: 8 }, mine));
        });
      },
    }, "Load the latest version");
  }

  private async remove(): Promise<void> {
    if (!this.doc) return;
    const { response, error } = await client.api.DELETE("/api/v1/projects/{projectId}/docs/{docId}", {
      params: { path: { projectId: this.projectId, docId: this.docId }, header: { "If-Match": versionTag(this.doc.version) } },
    });
    if (response.ok) {
      this.stopRenewing();
      fill(this.el, h("p", {}, `${this.doc.path} was moved to the trash. Restore it from the Trash tab.`));
      this.changed();
    } else {
      this.say(explain(response.status, error as never));
    }
  }

  private async showRevisions(): Promise<void> {
    try {
      const revisions: Revision[] = (await ok(client.api.GET("/api/v1/projects/{projectId}/docs/{docId}/revisions", {
        params: { path: { projectId: this.projectId, docId: this.docId }, query: { limit: 200 } },
      }))).items;
      const detail = h("div", { class: "diff-area" });
      fill(this.revisions, h("h4", {}, "Revisions"),
        h("table", {},
          h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", {}, "By"), h("th", {}, "When"), h("th", {}, "Message"), h("th", {}, ""))),
          h("tbody", {}, revisions.map((rev) => h("tr", {},
            h("td", {}, String(rev.version)), h("td", {}, authorName(rev.author)), h("td", {}, formatTime(rev.createdAt)),
            h("td", {}, rev.message ?? ""),
            h("td", {}, h("button", { type: "button", class: "secondary", onclick: () => void this.compare(rev.version, detail) },
              `Compare v${rev.version} with the editor`)))))),
        detail);
    } catch (error) {
      this.say(describe(error));
    }
  }

  private async compare(version: number, detail: HTMLElement): Promise<void> {
    const rev = await ok(client.api.GET("/api/v1/projects/{projectId}/docs/{docId}/revisions/{version}", {
      params: { path: { projectId: this.projectId, docId: this.docId, version } },
    }));
    const lines = diffLines(rev.content ?? "", this.text.value);
    fill(detail,
      h("h5", {}, `Changes from version ${version} to the text in the editor`),
      h("pre", { class: "diff", "aria-label": "Diff" }, lines.map((line) =>
        h("span", { class: `diff-${line.kind}` }, `${{ same: " ", added: "+", removed: "-" }[line.kind]} ${line.text}\n`))),
      h("button", { type: "button", onclick: () => void this.restore(version) }, `Restore version ${version}`));
  }

  private async restore(version: number): Promise<void> {
    if (!this.doc) return;
    this.writing += 1;
    const { data, error, response } = await client.api.POST("/api/v1/projects/{projectId}/docs/{docId}/revisions/{version}/restore", {
      params: { path: { projectId: this.projectId, docId: this.docId, version }, header: { "If-Match": versionTag(this.doc.version) } },
    }).finally(() => { this.writing -= 1; });
    if (data) {
      this.show(data);
      fill(this.revisions);
      this.say(`Restored version ${version} as version ${data.version}.`, "info");
      this.changed();
    } else {
      this.say(explain(response.status, error as never));
    }
  }

  /** Applies a live event of this project. */
  onEvent(event: RealtimeEvent): void {
    const data = event.data as { docId?: string; version?: number; holder?: Lock["holder"]; acquiredAt?: string; expiresAt?: string; reason?: string };
    if (this.closed || data.docId !== this.docId || !this.doc) return;
    switch (event.type) {
      case "doc.locked":
        if (data.holder && data.expiresAt && data.acquiredAt) {
          this.setLock({ docId: this.docId, holder: data.holder, acquiredAt: data.acquiredAt, expiresAt: data.expiresAt });
        }
        break;
      case "doc.unlocked":
        if (!this.holding || data.reason === "expired") {
          this.stopRenewing();
          this.setLock(null);
        }
        break;
      case "doc.updated":
      case "doc.restored":
        // Our own write's event can arrive before its response, which shows the new version.
        if ((data.version ?? 0) <= this.doc.version || this.writing > 0) break;
        if (this.dirty) {
          this.say(`${authorName(event.actor)} saved version ${data.version} while you were editing. Your save would be refused (412): copy your text, then load the latest version.`, "error", this.reloadKeepingText());
        } else {
          void this.reload().then(() => this.say(`Updated to version ${data.version}, saved by ${authorName(event.actor)}.`, "info"));
        }
        break;
      case "doc.deleted":
        this.say(`${authorName(event.actor)} moved this doc to the trash.`);
        break;
    }
  }

  private say(text: string, kind: "error" | "info" = "error", action: HTMLElement | null = null): void {
    this.message.className = `explain ${kind}`;
    fill(this.message, h("p", {}, text), action);
  }

  /** Leaves the doc: releases a lock it holds. */
  close(): void {
    if (this.holding) void this.releaseLock();
    this.closed = true;
  }
}

export { ApiError };
