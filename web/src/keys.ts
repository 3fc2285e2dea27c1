/**
 * API keys for hook scripts. A created key is shown once, with what to paste: the shell
 * exports and the `.claude/settings.json` hook block of docs/hooks.md.
 */
import type { CreatedApiKey, Project } from "@toolkit-sync/client";
import { attempt, client, ok } from "./app";
import { field, fill, formatTime, h } from "./dom";

const SCOPES = ["docs:read", "docs:write", "sync:run"] as const;

export function hookSnippet(key: CreatedApiKey, projectId: string, origin: string): string {
  return [
    `export TOOLKIT_SYNC_URL=${origin}`,
    `export TOOLKIT_SYNC_PROJECT=${projectId}`,
    `export TOOLKIT_SYNC_API_KEY=${key.key}`,
    "mkdir -p .claude/hooks",
    "cp hooks/claude/toolkit-sync.sh .claude/hooks/toolkit-sync.sh",
    "chmod +x .claude/hooks/toolkit-sync.sh",
  ].join("\n");
}

export function settingsBlock(projectId: string, origin: string): string {
  return JSON.stringify({
    env: { TOOLKIT_SYNC_URL: origin, TOOLKIT_SYNC_PROJECT: projectId },
    hooks: {
      SessionStart: [{
        matcher: "startup|resume",
        hooks: [{ type: "command", command: "\"$CLAUDE_PROJECT_DIR\"/.claude/hooks/toolkit-sync.sh", timeout: 15 }],
      }],
    },
  }, null, 2);
}

function copyable(id: string, label: string, text: string): HTMLElement {
  const status = h("span", { class: "muted", role: "status" });
  return h("div", { class: "copyable" },
    h("h5", { id: `${id}-label` }, label),
    h("pre", { id, "aria-labelledby": `${id}-label`, tabindex: 0 }, text),
    h("button", {
      type: "button", class: "secondary",
      onclick: () => {
        navigator.clipboard?.writeText(text).then(() => { status.textContent = " Copied."; },
          () => { status.textContent = " Select the text and copy it."; });
      },
    }, `Copy ${label.toLowerCase()}`), status);
}

export function renderKeys(el: HTMLElement, project: Project): () => void {
  const projectId = project.id;
  if (project.role !== "owner") {
    fill(el, h("p", {}, "Only owners of this project can create and see API keys."));
    return () => {};
  }
  const created = h("div", { id: "created-key", "aria-live": "polite" });
  const list = h("div", {});
  const name = h("input", { type: "text", name: "keyName", required: true, value: "hook" });
  const days = h("input", { type: "number", name: "expiresInDays", min: 1, max: 3650 });
  const boxes = SCOPES.map((scope) => h("input", { type: "checkbox", name: "scope", value: scope, checked: scope === "docs:read", id: `scope-${scope.replace(":", "-")}` }));
  const form = h("form", {
    onsubmit: (e: Event) => {
      e.preventDefault();
      void attempt(async () => {
        const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
        const key = await ok(client.api.POST("/api/v1/projects/{projectId}/api-keys", {
          params: { path: { projectId } },
          body: { name: name.value, scopes: scopes as ("docs:read" | "docs:write" | "sync:run")[], expiresInDays: days.value ? Number(days.value) : undefined },
        }));
        showCreated(key);
        await load();
      });
    },
  }, h("h3", {}, "Create an API key"), field("Key name", name),
    h("fieldset", {}, h("legend", {}, "Scopes"),
      boxes.map((box) => h("div", { class: "check" }, box, h("label", { for: box.id }, box.value)))),
    field("Expires in days (empty: never)", days),
    h("button", { type: "submit" }, "Create key"));

  const showCreated = (key: CreatedApiKey) => {
    const origin = location.origin;
    fill(created, h("section", { class: "card once", "aria-labelledby": "once-title" },
      h("h4", { id: "once-title" }, `Key "${key.name}" created: copy it now, it is shown only this once`),
      copyable("new-key", "Key", key.key),
      copyable("hook-snippet", "Shell setup", hookSnippet(key, projectId, origin)),
      copyable("settings-json", "settings.json block", settingsBlock(projectId, origin)),
      h("p", { class: "muted" }, "Put the key in your environment or in .toolkit-sync/key, never in a committed settings file (see docs/hooks.md)."),
      h("button", { type: "button", onclick: () => fill(created) }, "I have copied it")));
  };

  const load = async () => {
    const keys = (await ok(client.api.GET("/api/v1/projects/{projectId}/api-keys", {
      params: { path: { projectId }, query: { limit: 200 } },
    }))).items;
    fill(list, keys.length === 0 ? h("p", { class: "muted" }, "No keys yet.") : h("table", {},
      h("caption", {}, "Keys (the secret is never shown again; the prefix identifies a key)"),
      h("thead", {}, h("tr", {}, ["Name", "Prefix", "Scopes", "Created", "Expires", "Last used", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, keys.map((key) => h("tr", {},
        h("td", {}, key.name), h("td", {}, h("code", {}, key.prefix)), h("td", {}, key.scopes.join(", ")),
        h("td", {}, formatTime(key.createdAt)), h("td", {}, formatTime(key.expiresAt)), h("td", {}, formatTime(key.lastUsedAt)),
        h("td", {}, h("button", {
          type: "button", class: "danger",
          onclick: () => void attempt(async () => {
            await ok(client.api.DELETE("/api/v1/projects/{projectId}/api-keys/{keyId}", {
              params: { path: { projectId, keyId: key.id } },
            }));
            await load();
          }),
        }, `Revoke ${key.name}`)))))));
  };
  fill(el, created, form, list);
  void attempt(load);
  return () => {};
}
