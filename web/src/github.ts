/** GitHub link status, sync runs, and conflicts shown side by side with their resolution. */
import type { Project, SyncConflict } from "@toolkit-sync/client";
import { attempt, client, ok, onLive } from "./app";
import { field, fill, formatTime, h, notify } from "./dom";

export function renderGitHub(el: HTMLElement, project: Project): () => void {
  const projectId = project.id;
  const load = async () => {
    const { data: link, response } = await client.api.GET("/api/v1/projects/{projectId}/github", {
      params: { path: { projectId } },
    });
    if (!link) {
      if (response.status !== 404) throw new Error(`could not read the GitHub link (HTTP ${response.status})`);
      fill(el, h("h3", {}, "GitHub"), h("p", {}, "This project is not linked to a GitHub repository."), linkForm(projectId, load, project.role === "owner"));
      return;
    }
    const [runs, conflicts] = await Promise.all([
      ok(client.api.GET("/api/v1/projects/{projectId}/sync-runs", { params: { path: { projectId }, query: { limit: 20 } } })),
      ok(client.api.GET("/api/v1/projects/{projectId}/sync-conflicts", { params: { path: { projectId }, query: { limit: 50 } } })),
    ]);
    fill(el,
      h("h3", {}, "GitHub"),
      h("dl", { class: "facts" },
        h("dt", {}, "Repository"), h("dd", {}, `${link.owner}/${link.repo} @ ${link.branch}, folder "${link.path || "/"}"`),
        h("dt", {}, "Direction"), h("dd", {}, link.direction),
        h("dt", {}, "Last sync"), h("dd", {}, formatTime(link.lastSyncAt)),
        h("dt", {}, "Last commit"), h("dd", {}, link.lastCommitSha ?? "—"),
        h("dt", {}, "Credential"), h("dd", {}, link.credential ? `${link.credential.kind}${link.credential.hint ? ` (${link.credential.hint})` : ""}` : "none"),
        h("dt", {}, "Last error"), h("dd", {}, link.lastError ? `${link.lastError.message} (${link.lastError.code})` : "none")),
      h("div", { class: "actions" },
        h("button", {
          type: "button",
          onclick: () => void attempt(async () => {
            const run = await ok(client.api.POST("/api/v1/projects/{projectId}/sync", { params: { path: { projectId } } }));
            notify(`Sync run ${run.status}.`, "info");
            await load();
          }),
        }, "Sync now"),
        h("button", {
          type: "button", class: "danger", disabled: project.role !== "owner",
          onclick: () => void attempt(async () => {
            await ok(client.api.DELETE("/api/v1/projects/{projectId}/github", { params: { path: { projectId } } }));
            await load();
          }),
        }, "Unlink")),
      h("h4", {}, "Runs"),
      runs.items.length === 0 ? h("p", { class: "muted" }, "No runs yet.") : h("table", {},
        h("thead", {}, h("tr", {}, ["Started", "Trigger", "Status", "Pulled", "Pushed", "Conflicts", "Error"].map((t) => h("th", {}, t)))),
        h("tbody", {}, runs.items.map((run) => h("tr", {},
          h("td", {}, formatTime(run.startedAt ?? run.createdAt)), h("td", {}, run.trigger), h("td", {}, run.status),
          h("td", {}, String(run.pulled)), h("td", {}, String(run.pushed)), h("td", {}, String(run.conflicted)),
          h("td", {}, run.error ? run.error.message : ""))))),
      h("h4", {}, "Conflicts"),
      conflicts.items.length === 0 ? h("p", { class: "muted" }, "No open conflicts.") :
        conflicts.items.map((conflict) => conflictView(projectId, conflict, load)));
  };
  void attempt(load);
  return onLive((event) => {
    if (event.projectId === projectId && event.type.startsWith("sync.")) void attempt(load);
  });
}

function conflictView(projectId: string, conflict: SyncConflict, reload: () => Promise<void>): HTMLElement {
  const merged = h("textarea", { rows: 8 }, conflict.localContent ?? conflict.remoteContent ?? "");
  const resolve = (keep: "local" | "remote" | "content") => void attempt(async () => {
    await ok(client.api.POST("/api/v1/projects/{projectId}/sync-conflicts/{conflictId}/resolve", {
      params: { path: { projectId, conflictId: conflict.id } },
      body: keep === "content" ? { keep, content: merged.value } : { keep },
    }));
    notify(`Conflict on ${conflict.path} resolved.`, "info");
    await reload();
  });
  return h("section", { class: "conflict card", "aria-label": `Conflict on ${conflict.path}` },
    h("h5", {}, `${conflict.path} (since ${formatTime(conflict.createdAt)})`),
    h("div", { class: "side-by-side" },
      h("figure", {}, h("figcaption", {}, "In the console"), h("pre", { tabindex: 0 }, conflict.localContent ?? "(deleted here)")),
      h("figure", {}, h("figcaption", {}, "On GitHub"), h("pre", { tabindex: 0 }, conflict.remoteContent ?? "(deleted on GitHub)"))),
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => resolve("local") }, "Keep the console's version"),
      h("button", { type: "button", onclick: () => resolve("remote") }, "Keep GitHub's version")),
    field("Or write the merged text", merged),
    h("button", { type: "button", onclick: () => resolve("content") }, "Keep the merged text"));
}

function linkForm(projectId: string, reload: () => Promise<void>, isOwner: boolean): HTMLElement {
  const owner = h("input", { type: "text", required: true, placeholder: "acme" });
  const repo = h("input", { type: "text", required: true, placeholder: "ai-toolkit" });
  const branch = h("input", { type: "text", required: true, value: "main" });
  const path = h("input", { type: "text", value: "" });
  const direction = h("select", {}, ["both", "pull", "push"].map((d) => h("option", { value: d }, d)));
  // Write-only: sent once, stored encrypted by the server, never shown again (only a hint).
  const token = h("input", { type: "password", autocomplete: "off", placeholder: "github_pat_…" });
  return h("form", {
    onsubmit: (e: Event) => {
      e.preventDefault();
      void attempt(async () => {
        await ok(client.api.PUT("/api/v1/projects/{projectId}/github", {
          params: { path: { projectId } },
          body: {
            owner: owner.value, repo: repo.value, branch: branch.value, path: path.value,
            direction: direction.value as "pull" | "push" | "both",
            credential: token.value.trim() ? { kind: "token", token: token.value.trim() } : undefined,
          },
        }));
        await reload();
      });
    },
  }, h("h4", {}, "Link a repository"), field("Owner", owner), field("Repository", repo), field("Branch", branch),
    field("Folder (empty for the root)", path), field("Direction", direction),
    field("Access token (fine-grained: Contents read/write, Metadata read; empty for the server's allowlisted token)", token),
    h("button", { type: "submit", disabled: !isOwner }, "Link"));
}
