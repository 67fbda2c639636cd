// A user shares a file from VS Code, downloads a terminal peer's file by clicking it, and quits sharing.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { world } from './world';
import {
  activeEditorText,
  answerInputBox,
  activeTab,
  clickViewAction,
  expandView,
  notification,
  openWorkspaceFile,
  runCommand,
  screenshot,
  showP2PContainer,
  statusItem,
  treeLabels,
  treeRow,
  UI_TIMEOUT_MS,
  view,
  waitForWorkbench,
  workbenchHooks,
} from './workbench';

const MY_SHARES = 'My Shares';
const ONLINE = 'Online Content';

describe('A VS Code user shares files with a terminal peer', function () {
  let page: Page;

  const openPage = workbenchHooks(world);

  before(function () {
    page = openPage();
  });

  it('opens the P2P views from the activity bar and shows the peer in the status bar', async function () {
    const { extensionPeerName, screenshotsDir } = world();
    await showP2PContainer(page);
    // Opening the views activates the installed .vsix; connected to the index with the user's settings,
    // it names this peer in the status bar and invites the user to share a first file.
    await statusItem(page, `${extensionPeerName} · 0 shared`).waitFor({ timeout: UI_TIMEOUT_MS });
    await expandView(page, MY_SHARES);
    await view(page, MY_SHARES).locator('.welcome-view-content', { hasText: 'not sharing any file' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, screenshotsDir, '00-views.png');
  });

  it('registers the open file with "P2P: Register File" from the command palette', async function () {
    const { workspaceFile, terminal, extensionPeerName, screenshotsDir } = world();
    await openWorkspaceFile(page, workspaceFile.contentName);
    await runCommand(page, 'P2P: Register File', { asks: true });
    // The content name is asked, prefilled with the file's name: Enter keeps it.
    await answerInputBox(page, `Share "${workspaceFile.contentName}" as`);

    await showP2PContainer(page);
    await expandView(page, MY_SHARES);
    await treeRow(page, MY_SHARES, workspaceFile.contentName).waitFor({ timeout: UI_TIMEOUT_MS });
    await statusItem(page, `${extensionPeerName} · 1 shared`).waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, screenshotsDir, '01-registered.png');

    const online = await terminal.online();
    assert.ok(
      online.some((i) => i.contentName === workspaceFile.contentName && i.peerName === extensionPeerName),
      `the terminal peer's O list should have ${workspaceFile.contentName} from ${extensionPeerName}: ${JSON.stringify(online)}`,
    );
  });

  it('reloads the window and finds the file shared again, under the same peer name', async function () {
    const { workspaceFile, terminal, extensionPeerName, screenshotsDir } = world();
    await runCommand(page, 'Developer: Reload Window');
    await waitForWorkbench(page);

    await showP2PContainer(page);
    await expandView(page, MY_SHARES);
    await treeRow(page, MY_SHARES, workspaceFile.contentName).waitFor({ timeout: UI_TIMEOUT_MS });
    await statusItem(page, `${extensionPeerName} · 1 shared`).waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, screenshotsDir, '01b-after-reload.png');

    const online = await terminal.online();
    assert.ok(
      online.some((i) => i.contentName === workspaceFile.contentName && i.peerName === extensionPeerName),
      `after the reload the terminal peer's O list should have ${workspaceFile.contentName} from ${extensionPeerName} again: ${JSON.stringify(online)}`,
    );
  });

  it("downloads the terminal peer's file by clicking it in Online Content, and opens it", async function () {
    const { terminalFile, terminal, downloadFolder, screenshotsDir } = world();
    await terminal.register(terminalFile.path);

    await showP2PContainer(page);
    await expandView(page, ONLINE);
    await clickViewAction(page, ONLINE, 'Refresh');
    const row = treeRow(page, ONLINE, terminalFile.contentName);
    await row.waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, screenshotsDir, '02-online.png');

    await row.click();
    await activeTab(page, terminalFile.contentName).waitFor({ timeout: UI_TIMEOUT_MS });
    assert.equal(await activeEditorText(page), terminalFile.text, 'the editor shows the text the terminal peer shared');
    // The download's progress notification goes away once the file is saved.
    await notification(page, `Downloading ${terminalFile.contentName}`).waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
    await screenshot(page, screenshotsDir, '03-downloaded.png');

    const saved = path.join(downloadFolder, terminalFile.contentName);
    assert.ok(fs.readFileSync(saved).equals(fs.readFileSync(terminalFile.path)), `${saved} has the same bytes as the terminal peer's file`);
  });

  it("lets the terminal peer download the user's file with identical bytes", async function () {
    const { workspaceFile, terminal, extensionPeerName } = world();
    const downloaded = await terminal.download(workspaceFile.contentName, extensionPeerName);
    assert.deepEqual(downloaded.sources, [extensionPeerName]);
    assert.ok(fs.readFileSync(downloaded.path).equals(fs.readFileSync(workspaceFile.path)), 'the terminal peer received the same bytes');
  });

  it('empties My Shares and the index with "P2P: Quit Sharing"', async function () {
    const { terminal, terminalFile, extensionPeerName, screenshotsDir } = world();
    await runCommand(page, 'P2P: Quit Sharing');
    // Quit Sharing asks first, in a modal dialog.
    await page.locator('.monaco-dialog-box .dialog-buttons .monaco-button', { hasText: 'Quit Sharing' }).click();

    await showP2PContainer(page);
    await expandView(page, MY_SHARES);
    // With nothing shared the view shows its welcome content instead of rows.
    await view(page, MY_SHARES).locator('.welcome-view-content').waitFor({ timeout: UI_TIMEOUT_MS });
    assert.deepEqual(await treeLabels(page, MY_SHARES), []);
    // The downloaded poem had two sources (the terminal peer and this user); after quitting only one is
    // left, and the view shows it by itself (background polling is off in this run).
    await treeRow(page, ONLINE, terminalFile.contentName).filter({ hasText: '1 source' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, screenshotsDir, '04-quit.png');

    const online = await terminal.online();
    assert.deepEqual(
      online.filter((i) => i.peerName === extensionPeerName),
      [],
      `the index should list nothing from ${extensionPeerName} after Quit Sharing`,
    );
  });
});
