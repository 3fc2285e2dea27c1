/** Deleted docs, with restore. */
import type { Project } from "@toolkit-sync/client";
import { attempt, authorName, client, ok, onLive } from "./app";
import { fill, formatTime, h, notify } from "./dom";

export function renderTrash(el: HTMLElement, project: Project): () => void {
  const projectId = project.id;
  const load = async () => {
    const items = (await ok(client.api.GET("/api/v1/projects/{projectId}/trash", {
      params: { path: { projectId }, query: { limit: 200 } },
    }))).items;
    fill(el, h("h3", {}, "Trash"),
      items.length === 0 ? h("p", { class: "muted" }, "The trash is empty.") :
        h("table", {},
          h("thead", {}, h("tr", {}, h("th", {}, "Path"), h("th", {}, "Deleted"), h("th", {}, "By"), h("th", {}, ""))),
          h("tbody", {}, items.map((item) => h("tr", {},
            h("td", {}, item.path), h("td", {}, formatTime(item.deletedAt)), h("td", {}, authorName(item.deletedBy)),
            h("td", {}, h("button", {
              type: "button",
              onclick: () => void attempt(async () => {
                const doc = await ok(client.api.POST("/api/v1/projects/{projectId}/trash/{docId}/restore", {
                  params: { path: { projectId, docId: item.id } },
                }));
                notify(`Restored ${doc.path} as version ${doc.version}.`, "info");
                await load();
              }),
            }, `Restore ${item.path}`)))))));
  };
  void attempt(load);
  return onLive((event) => {
    if (event.projectId === projectId && /^doc\.(deleted|restored)$/.test(event.type)) void attempt(load);
  });
}
