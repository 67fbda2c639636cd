// The integration suite's shared surroundings: the extension's API, a real index server, a terminal peer, temp files.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Peer } from '../../../src/peer';
import type { OnlineItem, Share } from '../../../src/peer/api';
import type { RestoreReport } from '../../../src/extension/share-memory';
import { IndexServerProcess, startIndexServer, TerminalPeer } from './processes';

export const EXTENSION_ID = 'p2p-share.p2p-share';

/** What activate() returns (src/extension/extension.ts). */
export interface P2PApi {
  peer(): Peer | undefined;
  localServer(): { host: string; port: number } | undefined;
  /** Resolves once the engine has started (undefined when it could not). */
  ready(): Promise<Peer | undefined>;
  /** Resolves once the shares remembered from the last activation were checked and registered again. */
  restored(): Promise<RestoreReport>;
  /** deactivate(), dispose the contributions, activate again with the same storage: a window reload's effect. */
  reload(whileAway?: () => unknown): Promise<void>;
}

/** The peer name the extension goes back to before each test that changes it. */
export const EXTENSION_PEER_NAME = 'vscode-it';
export const TERMINAL_PEER_NAME = 'shell-peer';

export interface WorkspaceFile {
  contentName: string;
  path: string;
  uri: vscode.Uri;
  bytes: Buffer;
  sha256: string;
}

export interface Network {
  index: IndexServerProcess;
  terminal: TerminalPeer;
}

/** Stops a stoppable thing and swallows the failure: teardown must reach everything. */
async function quietly(work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (err) {
    console.error(`teardown: ${err instanceof Error ? err.message : String(err)}`);
  }
}

class World {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'p2p-it-'));
  private network?: Promise<Network>;
  private readonly extraServers: IndexServerProcess[] = [];
  private readonly extraPeers: TerminalPeer[] = [];
  private fileCounter = 0;

  /**
   * The activated extension's API. The extension activates when its views open or a command runs, so
   * the suite activates it, after pointing p2p.indexServer at the suite's index server: the engine
   * then starts connected instead of first probing the unanswered address the runner configured.
   */
  async api(): Promise<P2PApi> {
    const ext = vscode.extensions.getExtension<P2PApi>(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is not installed in this VS Code`);
    if (ext.isActive) return ext.exports;
    const { index } = await this.main();
    await vscode.workspace.getConfiguration('p2p').update('indexServer', index.address, vscode.ConfigurationTarget.Global);
    return ext.activate();
  }

  /** The main index server and the terminal peer "shell-peer" on it, started once for the whole suite. */
  main(): Promise<Network> {
    this.network ??= (async () => {
      const index = await startIndexServer();
      try {
        const terminal = await TerminalPeer.start({ index: index.address, name: TERMINAL_PEER_NAME, dir: path.join(this.root, 'shell-peer', 'downloads') });
        return { index, terminal };
      } catch (err) {
        await index.stop();
        throw err;
      }
    })();
    return this.network;
  }

  /** Another index server (with extra flags), stopped with the suite. */
  async extraIndexServer(args: string[] = []): Promise<IndexServerProcess> {
    const server = await startIndexServer(args);
    this.extraServers.push(server);
    return server;
  }

  /** Another terminal peer on `index`, stopped with the suite (or earlier with quit()). */
  async extraTerminalPeer(index: string, name: string): Promise<TerminalPeer> {
    const peer = await TerminalPeer.start({ index, name, dir: path.join(this.root, name, 'downloads') });
    this.extraPeers.push(peer);
    return peer;
  }

  /**
   * Puts the extension where every test starts: connected to the main index server under its own
   * name, sharing nothing, so a failed test leaves nothing that the next one trips over.
   */
  async freshExtension(): Promise<{ api: P2PApi; peer: Peer; network: Network }> {
    const network = await this.main();
    const api = await this.api();
    if (api.localServer()) await vscode.commands.executeCommand('p2p.stopLocalServer');
    const baseline: Record<string, unknown> = { downloadFolder: this.downloadFolder, listenPort: 0, shareDownloads: true };
    for (const [key, value] of Object.entries(baseline)) {
      if (vscode.workspace.getConfiguration('p2p').inspect(key)?.globalValue !== value) await changeSetting(api, key, value);
    }
    const connected = await vscode.commands.executeCommand<{ index: string; state: string }>('p2p.connect', network.index.address);
    assert.equal(connected?.state, 'connected', `the extension could not connect to ${network.index.address}: ${JSON.stringify(connected)}`);
    const peer = this.peerOf(api);
    if (peer.peerName !== EXTENSION_PEER_NAME) await vscode.commands.executeCommand('p2p.setPeerName', EXTENSION_PEER_NAME);
    for (const share of peer.listLocal()) await vscode.commands.executeCommand('p2p.deregisterFile', share.contentName);
    assert.deepEqual(peer.listLocal(), [], 'the extension still shares files after de-registering them all');
    return { api, peer: this.peerOf(api), network };
  }

  /** The running engine; fails the test when the extension has none. */
  peerOf(api: P2PApi): Peer {
    const peer = api.peer();
    assert.ok(peer, 'the extension has no running peer engine');
    return peer;
  }

  get downloadFolder(): string {
    const dir = path.join(this.root, 'vscode-downloads');
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** The folder VS Code has open (the runners open one), else a temp folder. */
  get workspaceFolder(): string {
    const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath;
    const dir = folder ?? path.join(this.root, 'workspace');
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Writes a new file with a unique content name into the workspace folder. */
  workspaceFile(stem: string, text?: string): WorkspaceFile {
    return this.writeFile(this.workspaceFolder, stem, text);
  }

  /** Writes a new file with a unique content name into a folder only a terminal peer reads from. */
  terminalFile(stem: string, text?: string): WorkspaceFile {
    return this.writeFile(path.join(this.root, 'terminal-files'), stem, text);
  }

  private writeFile(dir: string, stem: string, text?: string): WorkspaceFile {
    fs.mkdirSync(dir, { recursive: true });
    const contentName = `${stem}-${process.pid}-${++this.fileCounter}.txt`;
    const file = path.join(dir, contentName);
    // Text plus random bytes: a file that could only be matched by moving the real bytes.
    const bytes = Buffer.from(text ?? `${contentName}\nshared by the P2P Share integration suite\n${crypto.randomBytes(24).toString('hex')}\n`);
    fs.writeFileSync(file, bytes);
    return { contentName, path: file, uri: vscode.Uri.file(file), bytes, sha256: sha256(bytes) };
  }

  async dispose(): Promise<void> {
    const network = await this.network?.catch(() => undefined);
    this.network = undefined;
    for (const peer of this.extraPeers.splice(0)) await quietly(() => peer.quit());
    if (network) await quietly(() => network.terminal.quit());
    for (const server of this.extraServers.splice(0)) await quietly(() => server.stop());
    if (network) await quietly(() => network.index.stop());
    fs.rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
  }
}

export const world = new World();

/**
 * Resolves when `emitter` emits `event` and `accept` holds afterwards (checked at once as well, in case
 * it already does); rejects after `timeoutMs` naming what was awaited.
 */
export function eventually(
  emitter: { on(event: string, listener: (...args: never[]) => void): unknown; off(event: string, listener: (...args: never[]) => void): unknown },
  event: string,
  accept: () => boolean,
  what: string,
  timeoutMs = 60000,
): Promise<void> {
  if (accept()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const listener = () => {
      if (!accept()) return;
      finish();
      resolve();
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      emitter.off(event, listener);
    };
    emitter.on(event, listener);
  });
}

/**
 * Changes one p2p.* user setting and waits until the extension has applied it. The extension applies
 * setting changes one at a time on a queue, from its configuration listener, which runs before ours
 * (it subscribed at activation). Stop Local Index Server with no local server running joins that same
 * queue and does nothing, so once it returns every change queued before it is done.
 */
export async function changeSetting(api: P2PApi, key: string, value: unknown): Promise<void> {
  assert.equal(api.localServer(), undefined, 'changeSetting uses Stop Local Index Server as a barrier: none may run');
  const config = vscode.workspace.getConfiguration('p2p');
  assert.notDeepEqual(config.inspect(key)?.globalValue, value, `p2p.${key} is already ${JSON.stringify(value)}: no change event would come`);
  const seen = new Promise<void>((resolve) => {
    const sub = vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(`p2p.${key}`)) return;
      sub.dispose();
      resolve();
    });
  });
  await config.update(key, value, vscode.ConfigurationTarget.Global);
  await seen;
  await vscode.commands.executeCommand('p2p.stopLocalServer');
}

export function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** Entries of an online list from one peer, by content name. */
export function fromPeer(items: readonly OnlineItem[], peerName: string): string[] {
  return items
    .filter((i) => i.peerName === peerName)
    .map((i) => i.contentName)
    .sort();
}

export function contentNames(shares: readonly Share[]): string[] {
  return shares.map((s) => s.contentName).sort();
}
