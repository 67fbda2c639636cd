// What a user does in the VS Code workbench, as Playwright steps: palette commands, views, tree rows, editor text.
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';

/** Workbench start, extension host start and tree refreshes are slow on two busy cores. */
export const UI_TIMEOUT_MS = 60000;

const ACTIVITY_LABEL = '.action-label[aria-label^="P2P"]';
const ACTIVITY_ICON = `.part.activitybar .action-item ${ACTIVITY_LABEL}`;

/** Waits until the workbench is drawn and the P2P extension has contributed its activity-bar icon. */
export async function waitForWorkbench(page: Page): Promise<void> {
  await page.locator('.monaco-workbench .part.activitybar').waitFor({ timeout: UI_TIMEOUT_MS });
  await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: UI_TIMEOUT_MS });
  // The palette's command list is fixed when it opens, so nothing may open it before the extension
  // host has registered the extension's contributions; its activity-bar icon says it has.
  await page.locator(ACTIVITY_ICON).waitFor({ timeout: UI_TIMEOUT_MS });
}

/** F1, the command's title, Enter: the way a user runs "P2P: Register File". */
export async function runCommand(page: Page, title: string, opts: { asks?: boolean } = {}): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ timeout: UI_TIMEOUT_MS });
  // F1 opens the palette with ">" already typed; the user types the title after it.
  await page.keyboard.type(title);
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ timeout: UI_TIMEOUT_MS });
  // Enter runs the highlighted row; the exact title must be the one highlighted.
  await page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused', { hasText: title }).waitFor({ timeout: UI_TIMEOUT_MS });
  await page.keyboard.press('Enter');
  // A command that asks something next (an input box) reuses the widget: then it is that question's turn.
  if (opts.asks) return;
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
}

/**
 * Answers the input box a command opened (its title containing `title`): types `answer` over the
 * prefilled value, or keeps the prefill when `answer` is undefined, and presses Enter.
 */
export async function answerInputBox(page: Page, title: string, answer?: string): Promise<void> {
  await page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ timeout: UI_TIMEOUT_MS });
  if (answer !== undefined) {
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(answer);
  }
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
}

/** Ctrl+P, the file name, Enter; resolves once the file is the active editor. */
export async function openWorkspaceFile(page: Page, fileName: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ timeout: UI_TIMEOUT_MS });
  await page.keyboard.type(fileName);
  await page.locator('.quick-input-widget .quick-input-list .monaco-list-row.focused', { hasText: fileName }).waitFor({ timeout: UI_TIMEOUT_MS });
  await page.keyboard.press('Enter');
  await activeTab(page, fileName).waitFor({ timeout: UI_TIMEOUT_MS });
}

/** The active editor tab, when it shows `fileName`. */
export function activeTab(page: Page, fileName: string): Locator {
  return page.locator('.editor-group-container.active .tabs-container .tab.active', { hasText: fileName });
}

/**
 * The text of the active editor as Monaco draws it (one .view-line per line, spaces as no-break spaces).
 * Only drawn lines exist in the DOM, so this is for files that fit on the screen.
 */
export async function activeEditorText(page: Page): Promise<string> {
  const lines = page.locator('.editor-group-container.active .monaco-editor .view-lines .view-line');
  await lines.first().waitFor({ timeout: UI_TIMEOUT_MS });
  // Lines are absolutely positioned and not in DOM order; order them by their top offset.
  // Runs in the page; typed structurally because this project compiles without the DOM library.
  type DrawnLine = { style: { top: string }; textContent: string | null };
  const drawn = await lines.evaluateAll((els) =>
    (els as unknown as DrawnLine[]).map((el) => ({ top: parseFloat(el.style.top || '0'), text: el.textContent ?? '' })),
  );
  return drawn
    .sort((a, b) => a.top - b.top)
    .map((l) => l.text.replace(/\u00a0/g, ' '))
    .join('\n');
}

/**
 * Clicks the P2P icon in the activity bar unless the P2P container is already showing. Right after a
 * reload VS Code may still be restoring the side bar: a click that lands as it restores the P2P
 * container toggles the side bar shut, so the icon is clicked again while the views are not drawn.
 */
export async function showP2PContainer(page: Page): Promise<void> {
  const icon = page.locator(ACTIVITY_ICON);
  const item = page.locator('.part.activitybar .action-item', { has: page.locator(ACTIVITY_LABEL) });
  const shown = () => view(page, 'My Shares').waitFor({ timeout: 10_000 }).then(() => true, () => false);
  for (let attempt = 1; ; attempt++) {
    const checked = ((await item.getAttribute('class')) ?? '').split(/\s+/).includes('checked');
    const sideBarOpen = await page.locator('.part.sidebar').isVisible();
    if (!checked || !sideBarOpen) await icon.click();
    if (await shown()) break;
    if (attempt === 3) throw new Error('the P2P views did not show after three clicks on the P2P icon');
  }
  await view(page, 'Online Content').waitFor({ timeout: UI_TIMEOUT_MS });
}

/** A view pane of the sidebar, found by its title. */
export function view(page: Page, title: string): Locator {
  return page.locator('.part.sidebar .pane', { has: page.locator('.pane-header', { hasText: title }) });
}

/** Expands a collapsed view pane so its rows are drawn. */
export async function expandView(page: Page, title: string): Promise<void> {
  const header = view(page, title).locator('.pane-header');
  if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
  await view(page, title).locator('.pane-header[aria-expanded="true"]').waitFor({ timeout: UI_TIMEOUT_MS });
}

/** A tree row of a view whose label is exactly `label`. */
export function treeRow(page: Page, viewTitle: string, label: string): Locator {
  return view(page, viewTitle)
    .locator('.monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(label)}$`) }) });
}

/** Labels of the rows a view draws right now. */
export async function treeLabels(page: Page, viewTitle: string): Promise<string[]> {
  return view(page, viewTitle).locator('.monaco-list-row .label-name').allInnerTexts();
}

/** Clicks a view's title-bar action (e.g. Refresh), which shows when the pointer is over the view. */
export async function clickViewAction(page: Page, viewTitle: string, actionLabel: string): Promise<void> {
  const pane = view(page, viewTitle);
  await pane.locator('.pane-header').hover();
  await pane.locator(`.pane-header .actions .action-label[aria-label^="${actionLabel}"]`).click();
}

/** A status bar item whose text contains `text`. */
export function statusItem(page: Page, text: string): Locator {
  return page.locator('.part.statusbar .statusbar-item', { hasText: text });
}

/** A notification toast containing `text`. */
export function notification(page: Page, text: string | RegExp): Locator {
  return page.locator('.notifications-toasts .notification-toast', { hasText: text });
}

/** The modal dialog VS Code shows for a question, found by its message. */
export function dialog(page: Page, text: string | RegExp): Locator {
  return page.locator('.monaco-dialog-box', { hasText: text });
}

/**
 * Mocha hooks every scenario shares, registered in the calling describe: the page ready with the UI
 * time limit before the first step, and a screenshot of whatever a failed step left on screen, which
 * explains it better than any selector in a stack. Returns the page, for the steps to read.
 */
export function workbenchHooks(open: () => { page: Page; screenshotsDir: string }): () => Page {
  let page: Page | undefined;
  before(async function () {
    page = open().page;
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    await waitForWorkbench(page);
  });
  afterEach(async function () {
    if (page && this.currentTest?.state === 'failed') {
      const name = `failed-${this.currentTest.title.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`;
      await screenshot(page, open().screenshotsDir, name).catch(() => undefined);
    }
  });
  return () => {
    if (!page) throw new Error('the workbench is not open yet');
    return page;
  };
}

/** Saves a screenshot of the whole workbench as `name` (e.g. "01-registered.png"). */
export async function screenshot(page: Page, dir: string, name: string): Promise<string> {
  const file = path.join(dir, name);
  await page.screenshot({ path: file });
  return file;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
