// What the end-to-end tests share: the real index server, the terminal peer, the workbench page and the files they use.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { IndexServerProcess, startIndexServer, TerminalPeer } from '../integration/support/processes';

/** A file with known text, so what the editor shows and what a peer receives can be compared byte for byte. */
export interface SampleFile {
  contentName: string;
  path: string;
  text: string;
}

export interface Network {
  indexAddress: string;
  terminalPeerName: string;
  extensionPeerName: string;
  /** The workspace folder the workbench opens. */
  workspace: string;
  /** p2p.downloadFolder of the extension. */
  downloadFolder: string;
}

export interface World extends Network {
  index: IndexServerProcess;
  terminal: TerminalPeer;
  /** The workspace file the user registers from the editor. */
  workspaceFile: SampleFile;
  /** The file only the terminal peer has at first. */
  terminalFile: SampleFile;
  browser: Browser;
  page: Page;
  screenshotsDir: string;
}

let network: Omit<World, 'browser' | 'page' | 'screenshotsDir'> | undefined;
let current: World | undefined;
let networkLog = '';

function writeSample(file: string, text: string): SampleFile {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return { contentName: path.basename(file), path: file, text };
}

/**
 * Starts the index server (dist/index-server.js) and the terminal peer (dist/peer-cli.js) as child
 * processes and writes the files the scenario uses. The harness calls this before code-server starts,
 * because the user settings it writes point at this index server.
 */
export async function startNetwork(options: { root: string; log: string }): Promise<Network> {
  networkLog = options.log;
  // Peer names stay their owners' after their last share is gone (LMDB, as a public index keeps them):
  // a reloaded window gets its name back only by proving it holds the same secret.
  const index = await startIndexServer(['--data', path.join(options.root, 'index-owners')]);
  const terminalPeerName = 'shell-peer';
  let terminal: TerminalPeer;
  try {
    terminal = await TerminalPeer.start({
      index: index.address,
      name: terminalPeerName,
      dir: path.join(options.root, 'terminal-peer', 'downloads'),
    });
  } catch (err) {
    await index.stop();
    throw err;
  }
  const workspace = path.join(options.root, 'workspace');
  const workspaceFile = writeSample(
    path.join(workspace, 'greeting.txt'),
    'Hello from the editor!\nThis file was shared with P2P Share from VS Code.\n',
  );
  const terminalFile = writeSample(
    path.join(options.root, 'terminal-peer', 'files', 'poem.txt'),
    'Roses are shared,\nBytes are true,\nThis poem came over TCP\nStraight to you.\n',
  );
  network = {
    indexAddress: index.address,
    terminalPeerName,
    extensionPeerName: 'vscode-user',
    workspace,
    downloadFolder: path.join(options.root, 'vscode-downloads'),
    index,
    terminal,
    workspaceFile,
    terminalFile,
  };
  fs.mkdirSync(network.downloadFolder, { recursive: true });
  return network;
}

/** Hands the tests the workbench the harness opened. */
export function attachWorkbench(workbench: { browser: Browser; page: Page; screenshotsDir: string }): void {
  if (!network) throw new Error('startNetwork() must run before attachWorkbench()');
  current = { ...network, ...workbench };
}

/** Quits the terminal peer (so it de-registers) and stops the index server. */
export async function stopNetwork(): Promise<void> {
  if (!network) return;
  const { terminal, index } = network;
  network = undefined;
  current = undefined;
  await terminal.quit();
  await index.stop();
  // Their output explains a failed run; the harness keeps the run folder then.
  const section = (title: string, lines: string[]) => `== ${title}\n${lines.join('\n')}\n`;
  fs.writeFileSync(
    networkLog,
    section('terminal peer stdout', terminal.stdoutLines) +
      section('terminal peer stderr', terminal.stderrLines) +
      section('index server stderr', index.stderrLines),
  );
}

/** The world of the running scenario; only valid while run-e2e.js runs the suite. */
export function world(): World {
  if (!current) throw new Error('the e2e world is not set up: run the suite with node scripts/vscode/run-e2e.js');
  return current;
}
