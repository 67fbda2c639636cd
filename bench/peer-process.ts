// A real Peer engine in its own process, driven by the bench over IPC: start, register, download, quit.
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Downloader } from '../src/peer/download/downloader';
import { Peer } from '../src/peer/peer';
import { serveIpc } from './lib';

let peer: Peer | undefined;

function running(): Peer {
  if (!peer) throw new Error('the peer is not started');
  return peer;
}

serveIpc(
  {
    start: async (a: { peerName: string; index: string; downloadFolder: string; uploadRateLimit?: number }) => {
      peer = await Peer.start({
        peerName: a.peerName,
        index: a.index,
        listenHost: '127.0.0.1',
        downloadFolder: a.downloadFolder,
        uploadRateLimit: a.uploadRateLimit ?? 0,
        // The bench deletes each download itself; a watcher would only add noise.
        watchShares: false,
        shareDownloads: false,
        log: (level, message) => {
          if (level === 'warn' || level === 'error') process.stderr.write(`${a.peerName} ${level}: ${message}\n`);
        },
      });
      return { port: peer.listenPort, pin: peer.tlsPin };
    },
    register: async (a: { path: string; contentName?: string }) => {
      const share = await running().register(a.path, a.contentName);
      return { contentName: share.contentName, size: share.size, sha256: share.sha256, pieceRoot: share.pieceRoot };
    },
    /** Times one whole download in this process: S at the index, D/C from the sources, the SHA-256 check, the rename. */
    download: async (a: { contentName: string; sha256?: string }) => {
      const t0 = performance.now();
      const r = await running().download(a.contentName, { sha256: a.sha256, share: false });
      const ms = performance.now() - t0;
      return { ms, path: r.path, size: r.size, sha256: r.sha256, sources: r.sources, reused: r.reused ?? false };
    },
    /**
     * Times one Downloader fetch from one content server, with or without its piece root: the pieces
     * bench's side by side (no index, no sharing afterwards; the file is removed after).
     */
    fetch: async (a: { contentName: string; sha256: string; size: number; port: number; pin?: string; pieceRoot?: string; folder: string }) => {
      const source = {
        peerName: 'seed',
        host: '127.0.0.1',
        port: a.port,
        pin: a.pin ? Buffer.from(a.pin, 'hex') : undefined,
        pieceRoot: a.pieceRoot ? Buffer.from(a.pieceRoot, 'hex') : undefined,
      };
      const t0 = performance.now();
      const r = await new Downloader().fetch({ contentName: a.contentName, sha256: a.sha256, size: a.size, sources: [source], folder: a.folder });
      const ms = performance.now() - t0;
      await fsp.rm(path.join(r.path), { force: true });
      return { ms, pieceChecked: r.pieceChecked, reused: r.reused };
    },
    /** Collects garbage (needs --expose-gc) and settles, so the RSS read next is this peer's idle footprint. */
    settle: async () => {
      (globalThis as { gc?: () => void }).gc?.();
      await new Promise((r) => setTimeout(r, 200));
      (globalThis as { gc?: () => void }).gc?.();
      return { rss: process.memoryUsage.rss() };
    },
    remove: async (a: { path: string }) => {
      await fsp.rm(a.path, { force: true });
      return {};
    },
  },
  async () => {
    await peer?.quit();
  },
);
