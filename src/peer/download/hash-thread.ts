// A download's hashing off the receiving thread: each block checked against its piece leaf, and the whole-file SHA-256 taken in file order, on a worker thread.
import { Worker } from 'node:worker_threads';
import { P2PError } from '../../protocol/errors';
import { HASH_BYTES } from '../../protocol/messages';
import { HASH_READ_BYTES } from '../file-hash';

/** What the thread tells the run besides verdicts. */
export interface HashThreadHooks {
  /** The in-order hash reached `pos`: every byte before it is hashed. */
  advanced(pos: number): void;
  /** Reading the .part back failed, or the thread died. */
  failed(err: P2PError): void;
}

type FromThread =
  | { t: 'verdict'; id: number; ok: boolean; pos: number }
  | { t: 'pos'; pos: number }
  | { t: 'digest'; id: number; hex: string }
  | { t: 'error'; message: string };

/**
 * The thread's body, run from its source text (so it needs no file of its own next to a bundle):
 * only Node built-ins, nothing from this module's scope.
 *
 * Messages in: `check` (a block at `at`, its piece `index` or -1 when pieces are not checked, its bytes
 * at `off`+`len` in the shared ring or in `buf`, a SharedArrayBuffer of its own), whose
 * bytes go into the file hash at once when they sit at the in-order point; `written` (a range now on
 * disk, read back when the in-order point reaches it); `digest`.
 */
function hashThreadBody(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('node:fs') as typeof import('node:fs');
  const { fd, leaves, ring, hashBytes, readBytes } = workerData as { fd: number; leaves: Uint8Array | null; ring: SharedArrayBuffer; hashBytes: number; readBytes: number };
  const port = parentPort!;
  const file = createHash('sha256');
  const leafPrefix = Buffer.from([0x00]);
  let pos = 0;
  /** Ranges on disk at or past `pos`, sorted, disjoint. */
  let onDisk: [number, number][] = [];
  let readBuf: Buffer | undefined;

  const leafMatches = (index: number, bytes: Buffer): boolean => {
    if (!leaves || (index + 1) * hashBytes > leaves.length) return false;
    const leaf = createHash('sha256').update(leafPrefix).update(bytes).digest();
    return leaf.equals(leaves.subarray(index * hashBytes, (index + 1) * hashBytes));
  };

  const addOnDisk = (a: number, b: number): void => {
    onDisk.push([a, b]);
    onDisk.sort((x, y) => x[0] - y[0]);
    const merged: [number, number][] = [];
    for (const r of onDisk) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    onDisk = merged;
  };

  /** Reads back and hashes whatever is on disk from the in-order point on. */
  const catchUp = (): void => {
    while (onDisk.length > 0 && onDisk[0][1] <= pos) onDisk.shift();
    while (onDisk.length > 0 && onDisk[0][0] <= pos) {
      const end = onDisk[0][1];
      readBuf ??= Buffer.allocUnsafe(readBytes);
      while (pos < end) {
        const n = fs.readSync(fd, readBuf, 0, Math.min(readBuf.length, end - pos), pos);
        if (n === 0) throw new Error(`the .part file ends at ${pos}, before bytes recorded as written`);
        file.update(readBuf.subarray(0, n));
        pos += n;
      }
      onDisk.shift();
    }
  };

  port.on('message', (m: { t: string; id: number; at: number; a: number; b: number; index: number; off: number; len: number; buf?: Uint8Array }) => {
    try {
      if (m.t === 'check') {
        const bytes = m.buf ? Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength) : Buffer.from(ring, m.off, m.len);
        const ok = m.index < 0 || leafMatches(m.index, bytes);
        if (ok && m.at === pos) {
          file.update(bytes);
          pos += bytes.length;
          catchUp();
        }
        port.postMessage({ t: 'verdict', id: m.id, ok, pos });
      } else if (m.t === 'written') {
        if (m.b <= pos) return;
        const before = pos;
        addOnDisk(Math.max(m.a, pos), m.b);
        catchUp();
        if (pos !== before) port.postMessage({ t: 'pos', pos });
      } else if (m.t === 'digest') {
        port.postMessage({ t: 'digest', id: m.id, hex: file.digest('hex') });
      }
    } catch (err) {
      port.postMessage({ t: 'error', message: (err as Error).message });
    }
  });
}

/**
 * The hashing of one download run on its own thread. Blocks sit on SharedArrayBuffers the thread reads
 * in place (not copied, not transferred; most in the ring it was given at its start); the run leaves a block untouched until its verdict, so it
 * writes exactly the bytes that were checked. The thread reads the .part through the run's fd;
 * `close()` ends it before the run closes that fd.
 */
export class HashThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: FromThread) => void }>();
  private exited = false;
  private readonly exit: Promise<void>;
  /** Every byte before this is in the whole-file hash (the thread's in-order point, as last told). */
  private hashedTo = 0;

  constructor(
    fd: number,
    leaves: Buffer | undefined,
    /** The block ring (blocks.ts), shared once here so a block in it crosses as its place alone. */
    private readonly ring: SharedArrayBuffer,
    private readonly hooks: HashThreadHooks,
  ) {
    this.worker = new Worker(`(${hashThreadBody.toString()})()`, {
      eval: true,
      workerData: { fd, leaves: leaves ? new Uint8Array(leaves) : null, ring, hashBytes: HASH_BYTES, readBytes: HASH_READ_BYTES },
      // Hashing needs little heap; a thread that wanted more would be a bug, not a reason to grow.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    this.worker.on('message', (m: FromThread) => this.onMessage(m));
    this.worker.on('error', (err) => this.hooks.failed(new P2PError('INTERNAL', `the hashing thread failed: ${err.message}`, err)));
    this.exit = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.exit.then(() => {
      this.exited = true;
      // Nobody waits forever on a thread that is gone.
      for (const w of this.waiting.values()) w.resolve({ t: 'error', message: 'the hashing thread ended' });
      this.waiting.clear();
    });
  }

  /**
   * Checks `block` (on a SharedArrayBuffer, read in place: the caller must not touch it until the
   * verdict) at `at` against the leaf of piece `index` (-1: no piece check). Resolves with the
   * verdict, or undefined when the thread is gone.
   */
  async check(at: number, block: Buffer, index: number): Promise<boolean | undefined> {
    if (this.exited) return undefined;
    const id = this.nextId++;
    const reply = new Promise<FromThread>((resolve) => this.waiting.set(id, { resolve }));
    if (block.buffer === this.ring) this.worker.postMessage({ t: 'check', id, at, index, off: block.byteOffset, len: block.length });
    else this.worker.postMessage({ t: 'check', id, at, index, buf: block });
    const m = await reply;
    return m.t === 'verdict' ? m.ok : undefined;
  }

  /** [a, b) is on the .part: the thread reads it back when the in-order point reaches it. */
  written(a: number, b: number): void {
    // In order, the block was hashed with its verdict: the thread would only drop the message.
    if (!this.exited && b > this.hashedTo) this.worker.postMessage({ t: 'written', a, b });
  }

  /** The whole-file SHA-256 of what was hashed, once every message before this one is done. */
  async digest(): Promise<string | undefined> {
    if (this.exited) return undefined;
    const id = this.nextId++;
    const reply = new Promise<FromThread>((resolve) => this.waiting.set(id, { resolve }));
    this.worker.postMessage({ t: 'digest', id });
    const m = await reply;
    return m.t === 'digest' ? m.hex : undefined;
  }

  async close(): Promise<void> {
    if (!this.exited) await this.worker.terminate();
    await this.exit;
  }

  private onMessage(m: FromThread): void {
    if (m.t === 'error') {
      this.hooks.failed(new P2PError('IO', `hashing the .part file: ${m.message}`));
      return;
    }
    if (m.t === 'verdict' || m.t === 'pos') {
      this.hashedTo = Math.max(this.hashedTo, m.pos);
      this.hooks.advanced(m.pos);
    }
    if (m.t === 'verdict' || m.t === 'digest') {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      w?.resolve(m);
    }
  }
}
