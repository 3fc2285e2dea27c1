/** One project: its tabs (docs, trash, members and settings, API keys, GitHub) and its live feed. */
import type { Project } from "@toolkit-sync/client";
import { live } from "./app";
import { fill, h } from "./dom";
import { renderDocs } from "./docs";
import { renderGitHub } from "./github";
import { renderKeys } from "./keys";
import { renderMembers } from "./members";
import { renderTrash } from "./trash";

type Tab = { id: string; label: string; render: (el: HTMLElement, project: Project, refresh: () => void) => () => void };

const TABS: Tab[] = [
  { id: "docs", label: "Docs", render: renderDocs },
  { id: "trash", label: "Trash", render: renderTrash },
  { id: "members", label: "Members & settings", render: renderMembers },
  { id: "keys", label: "API keys", render: renderKeys },
  { id: "github", label: "GitHub", render: renderGitHub },
];

let current: { projectId: string; cleanup: () => void } | null = null;
let lastTab = "docs";

/** Shows a project; `refresh` reloads the project list (after a rename). */
export function renderProject(el: HTMLElement, project: Project, refresh: () => void): void {
  if (current && current.projectId !== project.id) {
    live.unsubscribe(current.projectId);
  }
  current?.cleanup();
  if (!current || current.projectId !== project.id) live.subscribe(project.id);
  const panel = h("div", { class: "panel", id: "tab-panel" });
  const tabs = h("div", { class: "tabs", role: "group", "aria-label": "Project sections" });
  const show = (tab: Tab) => {
    lastTab = tab.id;
    current?.cleanup();
    for (const button of tabs.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.tab === tab.id));
    }
    const cleanup = tab.render(panel, project, refresh);
    current = { projectId: project.id, cleanup };
  };
  fill(tabs, TABS.map((tab) => h("button", { type: "button", "data-tab": tab.id, onclick: () => show(tab) }, tab.label)));
  fill(el,
    h("h2", {}, project.name, h("span", { class: "role" }, ` — you are ${project.role}`)),
    project.description ? h("p", { class: "muted" }, project.description) : null,
    tabs, panel);
  show(TABS.find((t) => t.id === lastTab) ?? TABS[0]);
}
