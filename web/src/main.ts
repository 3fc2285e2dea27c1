/** Entry point: sign-in screen, then the project shell. */
import "./style.css";
import { client, live, attempt, ok, onLive, state } from "./app";
import { clearNotice, field, fill, h, notify } from "./dom";
import { renderProject } from "./project";
import type { Project } from "@toolkit-sync/client";

const main = document.getElementById("main") as HTMLElement;
const account = document.getElementById("account") as HTMLElement;

function renderAuth(): void {
  fill(account);
  const signInEmail = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const signInPassword = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const upName = h("input", { type: "text", name: "displayName", autocomplete: "name", required: true });
  const upEmail = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const upPassword = h("input", {
    type: "password", name: "password", autocomplete: "new-password", required: true, minlength: 8, maxlength: 128,
  });
  const signIn = h("form", {
    class: "card", "aria-labelledby": "signin-title",
    onsubmit: (e: Event) => {
      e.preventDefault();
      void attempt(async () => {
        await client.login(signInEmail.value, signInPassword.value);
        started();
      });
    },
  },
    h("h2", { id: "signin-title" }, "Sign in"),
    field("Email", signInEmail), field("Password", signInPassword),
    h("button", { type: "submit" }, "Sign in"));
  const signUp = h("form", {
    class: "card", "aria-labelledby": "signup-title",
    onsubmit: (e: Event) => {
      e.preventDefault();
      void attempt(async () => {
        await client.register(upEmail.value, upPassword.value, upName.value);
        started();
      });
    },
  },
    h("h2", { id: "signup-title" }, "Create an account"),
    field("Your name", upName), field("Email", upEmail), field("Password (8 to 128 characters)", upPassword),
    h("button", { type: "submit" }, "Sign up"));
  fill(main, h("div", { class: "auth" }, signIn, signUp));
}

function started(): void {
  clearNotice();
  live.connect();
  const user = client.user;
  fill(account,
    h("span", { class: "who" }, `Signed in as ${user?.displayName ?? ""}`), " ",
    h("button", { type: "button", class: "secondary", onclick: () => void signOut() }, "Sign out"));
  void renderProjects();
}

async function signOut(): Promise<void> {
  live.close();
  state.project = null;
  await client.logout();
  renderAuth();
}

/** The shell: the list of projects on the left, the open project on the right. */
export async function renderProjects(selectId?: string): Promise<void> {
  const list = h("ul", { class: "projects" });
  const projectArea = h("section", { class: "project", "aria-label": "Project" });
  const name = h("input", { type: "text", name: "projectName", required: true, maxlength: 100 });
  const create = h("form", {
    onsubmit: (e: Event) => {
      e.preventDefault();
      void attempt(async () => {
        const project = await ok(client.api.POST("/api/v1/projects", { body: { name: name.value } }));
        name.value = "";
        await renderProjects(project.id);
      });
    },
  }, field("New project name", name), h("button", { type: "submit" }, "Create project"));
  const nav = h("nav", { class: "sidebar", "aria-label": "Projects" }, h("h2", {}, "Projects"), list, create);
  fill(main, h("div", { class: "shell" }, nav, projectArea));

  const projects: Project[] = (await ok(client.api.GET("/api/v1/projects", { params: { query: { limit: 200 } } }))).items;
  const open = (project: Project) => {
    state.project = project;
    for (const button of list.querySelectorAll("button")) {
      button.toggleAttribute("aria-current", button.dataset.id === project.id);
    }
    renderProject(projectArea, project, () => void renderProjects(project.id));
  };
  fill(list, projects.map((project) =>
    h("li", {}, h("button", { type: "button", class: "link", "data-id": project.id, onclick: () => open(project) },
      project.name, h("span", { class: "role" }, ` (${project.role})`)))));
  if (projects.length === 0) fill(projectArea, h("p", {}, "No project yet: create one on the left."));
  const selected = projects.find((p) => p.id === (selectId ?? state.project?.id)) ?? projects[0];
  if (selected) open(selected);
}

// Access granted or taken away elsewhere: the project list follows without a reload.
onLive((event) => {
  if (event.type === "membership.added" || event.type === "membership.removed" || event.type === "project.updated") {
    if (client.user) void renderProjects();
  }
});

window.addEventListener("unhandledrejection", (e) => notify(String(e.reason?.message ?? e.reason)));
renderAuth();
