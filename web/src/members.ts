/** Project settings (rename) and members with their roles. */
import type { Member, Project } from "@toolkit-sync/client";
import { attempt, client, ok, onLive } from "./app";
import { field, fill, formatTime, h, notify } from "./dom";

type Role = "owner" | "editor" | "viewer";

const ROLES = ["owner", "editor", "viewer"] as const;

function roleSelect(value: string, disabled: boolean): HTMLSelectElement {
  return h("select", { disabled }, ROLES.map((role) => h("option", { value: role, selected: role === value }, role)));
}

export function renderMembers(el: HTMLElement, project: Project, refresh: () => void): () => void {
  const projectId = project.id;
  const isOwner = project.role === "owner";
  const name = h("input", { type: "text", name: "name", value: project.name, required: true });
  const description = h("input", { type: "text", name: "description", value: project.description ?? "" });
  const settings = h("form", {
    onsubmit: (e: Event) => {
      e.preventDefault();
      void attempt(async () => {
        await ok(client.api.PATCH("/api/v1/projects/{projectId}", {
          params: { path: { projectId } }, body: { name: name.value, description: description.value },
        }));
        notify("Project saved.", "info");
        refresh();
      });
    },
  }, h("h3", {}, "Settings"), field("Project name", name), field("Description", description),
    h("p", { class: "muted" }, `Project id (for hooks): ${projectId}`),
    h("button", { type: "submit", disabled: project.role === "viewer" }, "Save settings"));

  const table = h("div", {});
  const userId = h("input", { type: "text", name: "userId", required: true, placeholder: "user id (UUID)" });
  const newRole = roleSelect("editor", !isOwner);
  const add = h("form", {
    onsubmit: (e: Event) => {
      e.preventDefault();
      void attempt(async () => {
        await ok(client.api.PUT("/api/v1/projects/{projectId}/members/{userId}", {
          params: { path: { projectId, userId: userId.value.trim() } }, body: { role: newRole.value as Role },
        }));
        userId.value = "";
        await load();
      });
    },
  }, h("h4", {}, "Add a member"),
    h("p", { class: "muted" }, `People find their user id under their name here; yours is ${client.user?.id}.`),
    field("User id", userId), field("Role", newRole), h("button", { type: "submit", disabled: !isOwner }, "Add member"));

  const load = async () => {
    const members: Member[] = (await ok(client.api.GET("/api/v1/projects/{projectId}/members", {
      params: { path: { projectId }, query: { limit: 200 } },
    }))).items;
    fill(table, h("table", {},
      h("caption", {}, "Members"),
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Email"), h("th", {}, "Role"), h("th", {}, "Since"), h("th", {}, ""))),
      h("tbody", {}, members.map((member) => {
        const select = roleSelect(member.role, !isOwner);
        select.setAttribute("aria-label", `Role of ${member.displayName}`);
        select.addEventListener("change", () => void attempt(async () => {
          await ok(client.api.PUT("/api/v1/projects/{projectId}/members/{userId}", {
            params: { path: { projectId, userId: member.userId } }, body: { role: select.value as Role },
          }));
          notify(`${member.displayName} is now ${select.value}.`, "info");
        }).then((done) => { if (!done) select.value = member.role; }));
        const self = member.userId === client.user?.id;
        return h("tr", {},
          h("td", {}, member.displayName), h("td", {}, member.email), h("td", {}, select), h("td", {}, formatTime(member.addedAt)),
          h("td", {}, h("button", {
            type: "button", class: "danger", disabled: !isOwner && !self,
            onclick: () => void attempt(async () => {
              await ok(client.api.DELETE("/api/v1/projects/{projectId}/members/{userId}", {
                params: { path: { projectId, userId: member.userId } },
              }));
              await load();
            }),
          }, self ? "Leave project" : `Remove ${member.displayName}`)));
      }))));
  };
  fill(el, settings, table, add);
  void attempt(load);
  return onLive((event) => {
    if (event.projectId === projectId && event.type === "member.changed") void attempt(load);
  });
}
