// A user works the P2P views with mouse and keyboard: several shares removed with one Delete, a file dragged in from the Explorer, a large click that asks first.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { world } from './world';
import {
  answerInputBox, clickViewAction, expandView, openWorkspaceFile, runCommand, screenshot, showP2PContainer, treeLabels, treeRow, view,
  dialog,
  workbenchHooks,
} from './workbench';

const MY_SHARES = 'My Shares';
const ONLINE = 'Online Content';
const MiB = 1024 * 1024;

describe('A VS Code user works the P2P views with mouse and keyboard', function () {
  let page: Page;

  const openPage = workbenchHooks(world);

  before(function () {
    page = openPage();
  });

  it('selects two of three shares with Ctrl+click and de-registers both with the Delete key', async function () {
    const { workspace } = world();
    const names = ['keep-me.txt', 'drop-one.txt', 'drop-two.txt'];
    for (const n of names) fs.writeFileSync(path.join(workspace, n), `${n}\n`);
    for (const n of names) {
      await openWorkspaceFile(page, n);
      await runCommand(page, 'P2P: Register File', { asks: true });
      await answerInputBox(page, `Share "${n}" as`);
    }
    await showP2PContainer(page);
    await expandView(page, MY_SHARES);
    for (const n of names) await treeRow(page, MY_SHARES, n).waitFor();

    await treeRow(page, MY_SHARES, 'drop-one.txt').click();
    await treeRow(page, MY_SHARES, 'drop-two.txt').click({ modifiers: ['Control'] });
    await view(page, MY_SHARES).locator('.monaco-list-row.selected').nth(1).waitFor();
    await page.keyboard.press('Delete');

    await treeRow(page, MY_SHARES, 'drop-two.txt').waitFor({ state: 'detached' });
    await treeRow(page, MY_SHARES, 'drop-one.txt').waitFor({ state: 'detached' });
    assert.deepEqual(await treeLabels(page, MY_SHARES), ['keep-me.txt']);
    await screenshot(page, world().screenshotsDir, '10-delete-key.png');
  });

  it('asks before a click downloads a file larger than p2p.confirmDownloadAboveBytes, and downloads only once confirmed', async function () {
    const { terminal, downloadFolder, workspace } = world();
    const big = path.join(path.dirname(workspace), 'terminal-peer', 'files', 'big-album.bin');
    fs.writeFileSync(big, Buffer.alloc(2 * MiB, 7));
    await terminal.register(big);
    const saved = path.join(downloadFolder, 'big-album.bin');

    await showP2PContainer(page);
    await expandView(page, ONLINE);
    await clickViewAction(page, ONLINE, 'Refresh');
    const row = treeRow(page, ONLINE, 'big-album.bin');
    await row.click();
    const question = dialog(page, 'Download "big-album.bin" (2.0 MiB)?');
    await question.waitFor();
    await screenshot(page, world().screenshotsDir, '11-large-download.png');
    await question.locator('.dialog-buttons .monaco-button', { hasText: 'Cancel' }).click();
    await question.waitFor({ state: 'hidden' });
    assert.ok(!fs.existsSync(saved), 'Cancel must not download');

    await row.click();
    await question.waitFor();
    await question.locator('.dialog-buttons .monaco-button', { hasText: /^Download$/ }).click();
    await page.locator('.tabs-container .tab', { hasText: 'big-album.bin' }).waitFor();
    assert.ok(fs.readFileSync(saved).equals(fs.readFileSync(big)), 'the confirmed download saved the same bytes');
  });

  it('drags a file from the Explorer onto My Shares to share it', async function () {
    const { workspace } = world();
    fs.writeFileSync(path.join(workspace, 'dragged.txt'), 'dragged in\n');
    // The Explorer and My Shares side by side: My Shares moved into the Explorer's side bar for this gesture.
    await page.keyboard.press('Control+Shift+E');
    const explorerRow = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'dragged.txt' });
    await explorerRow.waitFor();
    // View: Move View, My Shares, Explorer: three pickers, each row clicked by its exact label.
    const pick = (label: string) =>
      page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
    await page.keyboard.press('F1');
    await page.keyboard.type('View: Move View');
    await pick('View: Move View').click();
    await page.keyboard.type(MY_SHARES);
    await pick(MY_SHARES).click();
    await page.keyboard.type('Explorer');
    await pick('Explorer').click();
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
    const shares = view(page, MY_SHARES);
    await shares.waitFor();
    await expandView(page, MY_SHARES);

    await explorerRow.dragTo(shares.locator('.pane-body'));

    await treeRow(page, MY_SHARES, 'dragged.txt').waitFor();
    await screenshot(page, world().screenshotsDir, '12-dragged.png');
  });
});
