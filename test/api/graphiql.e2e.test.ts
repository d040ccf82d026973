import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  foreignRequests,
  type LaunchedBrowser,
  recordRequests,
  tryLaunchBrowser,
} from "../support/browser.js";
import { gqlOk } from "../support/graphql-client.js";

/**
 * GraphiQL in a real headless Chromium: served from the installed package (no request leaves the
 * server's origin), docs loaded by its own introspection query, a query and a live subscription run
 * with the token typed into the headers editor as a user would paste it.
 */
let app: TestApp;
let launched: LaunchedBrowser;
let browser: Browser | undefined;

beforeAll(async () => {
  launched = await tryLaunchBrowser();
  if (!launched.ok) return;
  browser = launched.browser;
  app = await startTestApp();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

/** An element's visible text; Monaco draws spaces as no-break spaces. */
const textOf = async (page: Page, selector: string) =>
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText is the rendered text a user sees, which is what is asserted.
  (await page.locator(selector).first().innerText()).replaceAll("\u00a0", " ");
/** Replaces the text of a GraphiQL (Monaco) editor, as pasting would. */
async function replaceEditorText(page: Page, editor: string, text: string): Promise<void> {
  await page.locator(`${editor} .monaco-editor`).filter({ visible: true }).first().click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(text);
  // GraphiQL reads the editor after a debounce: execute only once the new text is what it holds.
  await expect.poll(() => textOf(page, editor)).toContain(text.slice(0, 20));
  await page.waitForTimeout(500);
}

const QUERY_EDITOR = ".graphiql-query-editor";
const HEADERS_EDITOR = ".graphiql-editor-tool";
const responseText = (page: Page) => textOf(page, ".graphiql-response");

describe("GraphiQL in a browser", () => {
  it("renders offline, loads the docs, runs a query and streams a subscription", async (context) => {
    if (!launched.ok) {
      context.skip(launched.reason);
      return;
    }
    const page = await (browser as Browser).newPage();
    const requests = recordRequests(page);
    await page.goto(`${app.baseUrl}/graphql`);
    await page.waitForSelector(".graphiql-container", { timeout: 60_000 });
    // The first screen tells the user where the token goes, and holds no secret.
    await expect.poll(() => textOf(page, QUERY_EDITOR)).toMatch(/API token in Headers below/);
    expect(await page.content()).not.toContain(app.token);

    await replaceEditorText(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${app.token}` }));
    await page.getByRole("button", { name: /Re-fetch GraphQL schema/ }).click();
    await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
    const docs = page.locator(".graphiql-doc-explorer");
    await expect
      .poll(() => textOf(page, ".graphiql-doc-explorer"), { timeout: 30_000 })
      .toMatch(/Subscription/);
    await docs.getByText("Query", { exact: true }).first().click();
    await expect.poll(() => textOf(page, ".graphiql-doc-explorer"), { timeout: 10_000 }).toMatch(/runs/);

    await replaceEditorText(page, QUERY_EDITOR, "{ pipelines { name } }");
    await page.getByRole("button", { name: /Execute query/ }).click();
    await expect.poll(() => responseText(page), { timeout: 30_000 }).toMatch(/"test"/);

    const started = await gqlOk<{ startRun: { id: string } }>(
      app.baseUrl,
      `mutation { startRun(pipeline: "test", input: { repo: "r" }) { id } }`,
    );
    const runId = started.startRun.id;
    await replaceEditorText(
      page,
      QUERY_EDITOR,
      `subscription { runEvents(runId: "${runId}") { revision type } }`,
    );
    await page.getByRole("button", { name: /Execute query/ }).click();
    await expect.poll(() => responseText(page), { timeout: 30_000 }).toMatch(/RunStarted/);
    // A live event, appended after the stream opened, reaches the page.
    await gqlOk(app.baseUrl, `mutation { cancelRun(runId: "${runId}") { status } }`);
    await expect.poll(() => responseText(page), { timeout: 30_000 }).toMatch(/RunCancelled/);

    expect(foreignRequests(requests, app.baseUrl)).toEqual([]);
    await page.close();
  }, 180_000);
});
