/** The doc tree with search and "new doc", next to the editor of the selected doc. */
import type { Doc, Project, SearchHit } from "@toolkit-sync/client";
import { attempt, client, ok, onLive, onResync } from "./app";
import { field, fill, h } from "./dom";
import { DocEditor } from "./editor";

export function renderDocs(el: HTMLElement, project: Project): () => void {
  const projectId = project.id;
  const tree = h("div", { class: "tree", "aria-label": "Docs" });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const editorArea = h("section", { class: "editor-area", "aria-label": "Editor" },
    h("p", { class: "muted" }, "Choose a doc on the left, or create one."));
  let editor: DocEditor | null = null;

  const open = (docId: string) => {
    editor?.close();
    editor = new DocEditor(editorArea, projectId, docId, () => void loadTree());
  };

  const loadTree = async () => {
    const docs: Doc[] = (await ok(client.api.GET("/api/v1/projects/{projectId}/docs", {
      params: { path: { projectId }, query: { limit: 200 } },
    }))).items;
    docs.sort((a, b) => a.path.localeCompare(b.path));
    fill(tree, docs.length ? buildTree(docs, open) : h("p", { class: "muted" }, "No docs yet."));
  };

  const query = h("input", { type: "search", name: "q" });
  const search = h("form", {
    role: "search",
    onsubmit: (e: Event) => {
      e.preventDefault();
      void attempt(async () => {
        if (!query.value.trim()) return fill(results);
        const hits: SearchHit[] = (await ok(client.api.GET("/api/v1/projects/{projectId}/search", {
          params: { path: { projectId }, query: { q: query.value } },
        }))).items;
        fill(results, h("h3", {}, `${hits.length} result${hits.length === 1 ? "" : "s"}`),
          h("ul", {}, hits.map((hit) => h("li", {},
            h("button", { type: "button", class: "link", onclick: () => open(hit.docId) }, hit.path),
            h("div", { class: "snippet" }, hit.snippet)))));
      });
    },
  }, field("Search docs", query), h("button", { type: "submit" }, "Search"));

  const newPath = h("input", { type: "text", name: "path", required: true, placeholder: ".claude/commands/review.md" });
  const create = h("form", {
    onsubmit: (e: Event) => {
      e.preventDefault();
      void attempt(async () => {
        const doc = await ok(client.api.POST("/api/v1/projects/{projectId}/docs", {
          params: { path: { projectId } }, body: { path: newPath.value, content: "" },
        }));
        newPath.value = "";
        await loadTree();
        open(doc.id);
      });
    },
  }, field("New doc path", newPath), h("button", { type: "submit" }, "Create doc"));

  fill(el, h("div", { class: "docs" },
    h("div", { class: "doc-list" }, search, results, h("h3", {}, "All docs"), tree, create),
    editorArea));
  void attempt(loadTree);

  const stopLive = onLive((event) => {
    if (event.projectId === projectId && /^doc\.(created|deleted|restored|updated|locked|unlocked)$/.test(event.type)) void loadTree();
    editor?.onEvent(event);
  });
  const stopResync = onResync((id) => {
    if (id !== projectId) return;
    void loadTree();
    editor?.reload();
  });
  return () => {
    stopLive();
    stopResync();
    editor?.close();
  };
}

/** Nested lists by folder, each doc a button. */
function buildTree(docs: Doc[], open: (docId: string) => void): HTMLElement {
  type Node = { folders: Map<string, Node>; docs: Doc[] };
  const root: Node = { folders: new Map(), docs: [] };
  for (const doc of docs) {
    const parts = doc.path.split("/");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (!node.folders.has(part)) node.folders.set(part, { folders: new Map(), docs: [] });
      node = node.folders.get(part) as Node;
    }
    node.docs.push(doc);
  }
  const render = (node: Node): HTMLElement => h("ul", {},
    [...node.folders].map(([name, child]) => h("li", {}, h("span", { class: "folder" }, `${name}/`), render(child))),
    node.docs.map((doc) => h("li", {},
      h("button", { type: "button", class: "link", "data-doc": doc.path, onclick: () => open(doc.id) },
        doc.path.split("/").pop() ?? doc.path),
      doc.lock ? h("span", { class: "badge" }, ` locked by ${doc.lock.holder.displayName}`) : null)));
  return render(root);
}
