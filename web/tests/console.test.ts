/**
 * The console in a real browser against the real server: two people in two browser contexts on
 * the same doc see each other's lock and save live, a stale save (412) is explained in words, and
 * an API key is shown exactly once. Screenshots go to web/test-results/.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolkitClient } from "../../clients/typescript/src";
import { startServer, uniqueEmail, type RunningServer } from "../../clients/typescript/test/server";
import { launch, screenshots } from "./browser";

let server: RunningServer;
let browser: Browser;
const cspViolations: string[] = [];

beforeAll(async () => {
  server = await startServer();
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const PASSWORD = "correct horse battery";

async function signUp(name: string): Promise<{ page: Page; email: string }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  await page.goto(server.origin);
  const form = page.locator("form", { has: page.getByRole("heading", { name: "Create an account" }) });
  const email = uniqueEmail(name.toLowerCase());
  await form.getByLabel("Your name").fill(name);
  await form.getByLabel("Email").fill(email);
  await form.getByLabel("Password").fill(PASSWORD);
  await form.getByRole("button", { name: "Sign up" }).click();
  await expect.poll(() => page.getByText(`Signed in as ${name}`).count()).toBe(1);
  await expect.poll(() => page.locator("#connection").textContent()).toBe("Live updates: connected");
  return { page, email };
}

async function openDoc(page: Page, project: string, path: string): Promise<void> {
  await page.getByRole("button", { name: new RegExp(`^${project}`) }).click();
  await page.getByRole("button", { name: "Docs", exact: true }).click();
  await page.locator(`button[data-doc="${path}"]`).click();
  await expect.poll(() => page.locator(".editor-area h3").textContent()).toBe(path);
}

const lockLine = (page: Page) => page.locator(".editor-area .lock").textContent();
const editorText = (page: Page) => page.locator("#doc-content").inputValue();
const explanation = (page: Page) => page.locator(".editor-area .explain").textContent();

describe("the web console", () => {
  it("shows two people the same doc's lock and live saves, and explains a stale save", async () => {
    const ada = await signUp("Ada");
    const bob = await signUp("Bob");
    const bobId = (await new ToolkitClient({ baseUrl: server.origin }).login(bob.email, PASSWORD)).id;

    // Ada creates a project and a doc, and adds Bob as an editor through the console.
    const a = ada.page;
    await a.getByLabel("New project name").fill("Shared toolkit");
    await a.getByRole("button", { name: "Create project" }).click();
    await a.getByLabel("New doc path").fill("CLAUDE.md");
    await a.getByRole("button", { name: "Create doc" }).click();
    await expect.poll(() => a.locator(".editor-area h3").textContent()).toBe("CLAUDE.md");
    await a.getByRole("button", { name: "Members & settings" }).click();
    await a.getByLabel("User id").fill(bobId);
    await a.getByRole("button", { name: "Add member" }).click();
    await expect.poll(() => a.getByRole("cell", { name: "Bob", exact: true }).count()).toBe(1);

    // Bob's project list follows the membership event, without a reload.
    const b = bob.page;
    await openDoc(b, "Shared toolkit", "CLAUDE.md");
    await openDoc(a, "Shared toolkit", "CLAUDE.md");

    // Ada clicks into the text: she takes the lock, and Bob sees who holds it and until when.
    await a.locator("#doc-content").click();
    await expect.poll(() => lockLine(a)).toMatch(/^You hold the lock until/);
    await expect.poll(() => lockLine(b)).toMatch(/^Locked by Ada until .+You can read, but not edit/);
    expect(await b.locator("#doc-content").getAttribute("readonly")).not.toBeNull();
    await b.screenshot({ path: `${screenshots}/1-bob-sees-adas-lock.png`, fullPage: true });

    // Ada saves: Bob's editor shows the new text live.
    await a.locator("#doc-content").fill("# Team rules\nUse tabs.\n");
    await a.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => explanation(a)).toBe("Saved as version 2.");
    await expect.poll(() => editorText(b)).toBe("# Team rules\nUse tabs.\n");
    await expect.poll(() => explanation(b)).toBe("Updated to version 2, saved by Ada.");
    await b.screenshot({ path: `${screenshots}/2-bob-sees-adas-save.png`, fullPage: true });

    // Ada lets go; Bob starts an edit from version 2 and lets go of the lock without saving.
    await a.getByRole("button", { name: "Release lock" }).click();
    await expect.poll(() => lockLine(b)).toMatch(/^Not locked/);
    await b.locator("#doc-content").fill("# Team rules\nUse spaces.\n");
    await expect.poll(() => lockLine(a)).toMatch(/^Locked by Bob/);
    await b.getByRole("button", { name: "Release lock" }).click();
    await expect.poll(() => lockLine(a)).toMatch(/^Not locked/);

    // Ada saves version 3 meanwhile; Bob is warned live, and his save is refused with reasons.
    await a.locator("#doc-content").fill("# Team rules\nUse tabs, width 4.\n");
    await a.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => explanation(a)).toBe("Saved as version 3.");
    await a.getByRole("button", { name: "Release lock" }).click();
    await expect.poll(() => explanation(b)).toMatch(/Ada saved version 3 while you were editing/);
    await expect.poll(() => lockLine(b)).toMatch(/^Not locked/);
    await b.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => explanation(b)).toMatch(
      /Someone else saved this doc after you opened it, so your save was refused to avoid overwriting their change/,
    );
    expect(await editorText(b)).toBe("# Team rules\nUse spaces.\n");
    await b.screenshot({ path: `${screenshots}/3-bob-412-explained.png`, fullPage: true });

    // Loading the latest version keeps Bob's text at hand.
    await b.getByRole("button", { name: "Load the latest version" }).click();
    await expect.poll(() => editorText(b)).toBe("# Team rules\nUse tabs, width 4.\n");
    expect(await b.getByLabel("Copy what you need into the editor above").inputValue()).toBe("# Team rules\nUse spaces.\n");
    expect(cspViolations).toEqual([]);
  });

  it("shows a created API key once, with the hook snippet and settings.json block", async () => {
    const { page } = await signUp("Owner");
    await page.getByLabel("New project name").fill("Keys project");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByRole("button", { name: "API keys" }).click();
    await page.getByLabel("Key name").fill("laptop hook");
    await page.getByRole("button", { name: "Create key" }).click();

    const key = (await page.locator("#new-key").textContent()) ?? "";
    expect(key).toMatch(/^tks_[0-9A-Za-z]{43}$/);
    expect(await page.getByText("shown only this once").count()).toBe(1);
    expect(await page.locator("#hook-snippet").textContent()).toContain(`export TOOLKIT_SYNC_API_KEY=${key}`);
    const settings = JSON.parse((await page.locator("#settings-json").textContent()) ?? "{}");
    expect(settings.hooks.SessionStart[0].hooks[0].command).toBe('"$CLAUDE_PROJECT_DIR"/.claude/hooks/toolkit-sync.sh');
    expect(settings.env.TOOLKIT_SYNC_URL).toBe(server.origin);
    await page.screenshot({ path: `${screenshots}/4-key-shown-once.png`, fullPage: true });

    // Once dismissed, the key is nowhere on the page again: the list shows only its prefix.
    await page.getByRole("button", { name: "I have copied it" }).click();
    await expect.poll(() => page.getByRole("cell", { name: key.slice(0, 12) }).count()).toBe(1);
    expect(await page.content()).not.toContain(key);
    await page.getByRole("button", { name: "Docs", exact: true }).click();
    await page.getByRole("button", { name: "API keys" }).click();
    await expect.poll(() => page.getByRole("cell", { name: "laptop hook", exact: true }).count()).toBe(1);
    expect(await page.content()).not.toContain(key);
    expect(cspViolations).toEqual([]);
  });

  it("finds docs by search, diffs and restores a revision, and brings a doc back from the trash", async () => {
    const { page } = await signUp("Rita");
    await page.getByLabel("New project name").fill("History project");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByLabel("New doc path").fill(".claude/commands/review.md");
    await page.getByRole("button", { name: "Create doc" }).click();
    await expect.poll(() => page.locator(".editor-area h3").textContent()).toBe(".claude/commands/review.md");
    await page.locator("#doc-content").fill("Review every pull request.\n");
    await page.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => explanation(page)).toBe("Saved as version 2.");
    await page.locator("#doc-content").fill("Review every pull request twice.\n");
    await page.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => explanation(page)).toBe("Saved as version 3.");

    // The tree shows folders; search finds the doc by its content.
    expect(await page.locator(".tree .folder").first().textContent()).toBe(".claude/");
    await page.getByLabel("Search docs").fill("twice");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await expect.poll(() => page.locator(".results li button").first().textContent()).toBe(".claude/commands/review.md");

    // Revisions: compare version 2 with the editor, then restore it as version 4.
    await page.getByRole("button", { name: "Revisions" }).click();
    await page.getByRole("button", { name: "Compare v2 with the editor" }).click();
    await expect.poll(() => page.locator(".diff .diff-removed").first().textContent()).toBe("- Review every pull request.\n");
    expect(await page.locator(".diff .diff-added").first().textContent()).toBe("+ Review every pull request twice.\n");
    await page.screenshot({ path: `${screenshots}/5-revision-diff.png`, fullPage: true });
    await page.getByRole("button", { name: "Restore version 2" }).click();
    await expect.poll(() => explanation(page)).toBe("Restored version 2 as version 4.");
    expect(await editorText(page)).toBe("Review every pull request.\n");

    // Trash: delete, find it in the trash, restore it.
    await page.getByRole("button", { name: "Move to trash" }).click();
    await expect.poll(() => page.locator(".editor-area").textContent()).toMatch(/was moved to the trash/);
    await page.getByRole("button", { name: "Trash", exact: true }).click();
    await page.getByRole("button", { name: "Restore .claude/commands/review.md" }).click();
    await expect.poll(() => page.locator("#notice").textContent()).toBe("Restored .claude/commands/review.md as version 6.");
    await expect.poll(() => page.getByText("The trash is empty.").count()).toBe(1);
    expect(cspViolations).toEqual([]);
  });
});
