// Runs in its own process with --expose-gc: fills Registries of several sizes in-process and times lookups of random existing names.
import { createHash } from 'node:crypto';
import { Registry, ownerOfSecret } from '../src/server/registry';
import { MemoryStore } from '../src/server/store';
import { percentile, serveIpc } from './lib';

const ENTRIES_PER_PEER = 10;

interface SizeResult {
  entries: number;
  bytesPerEntry: number;
  heapBytes: number;
  buildMs: number;
  searchMedianUs: number;
  searchP99Us: number;
  storeMedianUs: number;
  storeP99Us: number;
  mapMedianUs: number;
  mapP99Us: number;
  /** Entry slots the store's columns hold room for, per entry: bytes per entry depend on where a size falls against the columns' growth. */
  slotsPerEntry: number;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with --expose-gc');
  collect();
  collect();
}

/** Heap a registry can hold: JS heap plus off-heap memory (Buffers). */
function heapNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function contentName(i: number): string {
  return `shared-file-${i}.dat`;
}

/** A fresh flat string, as the UDP decoder hands the registry one: not a cached constant, not a rope. */
function wireString(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/** Registers `n` entries the way the server does: fresh strings, owner and hash per request, 10 per peer name. */
function fill(n: number): Registry {
  const registry = new Registry(new MemoryStore(), { maxEntries: n, maxPerPeer: n, ttlSeconds: 3600 });
  const digests: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const p = Math.floor(i / ENTRIES_PER_PEER);
    digests[p] ??= createHash('sha256').update(`secret ${p}`).digest();
    const sha256 = Buffer.alloc(32);
    sha256.writeUInt32BE(i);
    registry.register({
      peerName: wireString(`peer-${p}`),
      contentName: wireString(contentName(i)),
      owner: ownerOfSecret(digests[p]),
      host: wireString(`10.${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}`),
      port: 40000 + (p % 20000),
      size: 1_000_000 + i,
      sha256,
    });
  }
  return registry;
}

serveIpc({
  measure: (a: { sizes: number[]; lookups: number; rounds: number }) => {
    const registries: Registry[] = [];
    /** The floor: a plain Map from the same names to small objects, for what any hash lookup costs at that size. */
    const plainMaps: Map<string, { i: number }>[] = [];
    const results: SizeResult[] = [];
    for (const n of a.sizes) {
      gc();
      const before = heapNow();
      const t0 = performance.now();
      const registry = fill(n);
      const buildMs = performance.now() - t0;
      gc();
      const heapBytes = heapNow() - before;
      registries.push(registry);
      const plain = new Map<string, { i: number }>();
      for (let i = 0; i < n; i++) plain.set(wireString(contentName(i)), { i });
      plainMaps.push(plain);
      results.push({
        entries: n, bytesPerEntry: heapBytes / n, heapBytes, buildMs, slotsPerEntry: (registry.store as MemoryStore).cols.capacity / n,
        searchMedianUs: 0, searchP99Us: 0, storeMedianUs: 0, storeP99Us: 0, mapMedianUs: 0, mapP99Us: 0,
      });
    }

    // Lookups of every size alternate in rounds, so a noisy moment hits all sizes alike; round 0 is warm-up.
    const perRound = Math.ceil(a.lookups / a.rounds);
    const search: number[][] = a.sizes.map(() => []);
    const store: number[][] = a.sizes.map(() => []);
    const plainTimes: number[][] = a.sizes.map(() => []);
    for (let round = 0; round <= a.rounds; round++) {
      for (let k = 0; k < registries.length; k++) {
        const registry = registries[k];
        const n = a.sizes[k];
        const names = Array.from({ length: perRound }, () => wireString(contentName(Math.floor(Math.random() * n))));
        const probeNames = Array.from({ length: perRound }, () => wireString(contentName(Math.floor(Math.random() * n))));
        const plainNames = Array.from({ length: perRound }, () => wireString(contentName(Math.floor(Math.random() * n))));
        const plain = plainMaps[k];
        const s = search[k];
        const st = store[k];
        const pt = plainTimes[k];
        for (let i = 0; i < perRound; i++) {
          const t0 = performance.now();
          const found = registry.searchEntries(names[i]);
          const t1 = performance.now();
          if (found.length !== 1) throw new Error(`search of ${names[i]} found ${found.length} sources`);
          const t2 = performance.now();
          const bucket = registry.store.sourcesOf(probeNames[i]);
          const t3 = performance.now();
          if (bucket.length !== 1) throw new Error(`sourcesOf(${probeNames[i]}) found ${bucket.length}`);
          const t4 = performance.now();
          const hit = plain.get(plainNames[i]);
          const t5 = performance.now();
          if (!hit) throw new Error(`plain map has no ${plainNames[i]}`);
          if (round > 0) {
            s.push((t1 - t0) * 1000);
            st.push((t3 - t2) * 1000);
            pt.push((t5 - t4) * 1000);
          }
        }
      }
    }
    for (let k = 0; k < results.length; k++) {
      const s = Float64Array.from(search[k]).sort();
      const st = Float64Array.from(store[k]).sort();
      results[k].searchMedianUs = percentile(s, 50);
      results[k].searchP99Us = percentile(s, 99);
      results[k].storeMedianUs = percentile(st, 50);
      results[k].storeP99Us = percentile(st, 99);
      const pt = Float64Array.from(plainTimes[k]).sort();
      results[k].mapMedianUs = percentile(pt, 50);
      results[k].mapP99Us = percentile(pt, 99);
    }
    // Empty timing: what performance.now() itself costs, to read the figures against.
    const empty: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      const t0 = performance.now();
      const t1 = performance.now();
      empty.push((t1 - t0) * 1000);
    }
    return { results, timerMedianUs: percentile(Float64Array.from(empty).sort(), 50), entriesPerPeer: ENTRIES_PER_PEER };
  },
});
