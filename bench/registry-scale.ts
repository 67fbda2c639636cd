// Benchmark 3: the Registry in-process at 1k..1M entries: heap bytes per entry and search latency, 1M against 1k.
import * as path from 'node:path';
import { IpcChild, Section, fixed, metText, table } from './lib';

export interface RegistryBenchOptions {
  quick: boolean;
  log: (line: string) => void;
}

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
}

/** "Flat": search at 1M within this factor of search at 1k. */
const TARGET_FLAT = 1.25;

export async function runRegistryBench(opts: RegistryBenchOptions): Promise<Section> {
  const sizes = [1_000, 10_000, 100_000, 1_000_000];
  const lookups = opts.quick ? 50_000 : 300_000;
  const rounds = opts.quick ? 3 : 6;
  // Room for 1.1M entries at a few hundred bytes each, whatever the machine's default heap limit.
  const worker = new IpcChild('registry worker', path.join(__dirname, 'registry-worker.js'), { execArgv: ['--expose-gc', '--max-old-space-size=4096'] });
  try {
    opts.log(`registry: filling registries of ${sizes.join(', ')} entries, then ${lookups} lookups per size`);
    const r = await worker.call<{ results: SizeResult[]; timerMedianUs: number; entriesPerPeer: number }>('measure', { sizes, lookups, rounds }, 300_000);
    const small = r.results[0];
    const big = r.results[r.results.length - 1];
    const ratio = big.searchMedianUs / small.searchMedianUs;
    const p99Ratio = big.searchP99Us / small.searchP99Us;
    const met = ratio <= TARGET_FLAT;
    for (const x of r.results) opts.log(`registry: ${x.entries}: ${Math.round(x.bytesPerEntry)} B/entry, search median ${x.searchMedianUs.toFixed(2)} us`);

    const mapRatio = big.mapMedianUs / small.mapMedianUs;
    const storeRatio = big.storeMedianUs / small.storeMedianUs;
    const rows = r.results.map((x) => [
      x.entries.toLocaleString('en'),
      Math.round(x.bytesPerEntry),
      `${(x.heapBytes / 2 ** 20).toFixed(1)} MiB`,
      Math.round(x.entries / (x.buildMs / 1000)).toLocaleString('en'),
      fixed(x.searchMedianUs, 2),
      fixed(x.searchP99Us, 2),
      fixed(x.searchMedianUs / small.searchMedianUs),
      `${fixed(x.storeMedianUs, 2)} / ${fixed(x.storeP99Us, 2)}`,
      `${fixed(x.mapMedianUs, 2)} / ${fixed(x.mapP99Us, 2)}`,
      fixed(x.mapMedianUs / small.mapMedianUs),
    ]);
    const md = [
      `server/registry.ts over its MemoryStore, in one process started with --expose-gc (bench/registry-worker.ts). Entries are registered the way `
        + `the server does it (fresh name strings, an owner and a hash Buffer per request), ${r.entriesPerPeer} per peer name, every content name `
        + `different (\`shared-file-<i>.dat\`, peer names \`peer-<p>\`). Bytes per entry: heap (JS heap + external) after two full GCs, minus the `
        + `heap before, divided by the entries. Search: \`Registry.search(name)\` (what S runs: name check, map lookup, building the sources) for `
        + `random existing names (fresh flat strings, as the decoder makes them), each call timed alone; also the store's own lookup `
        + `(\`store.sourcesOf\`) and, as the floor any hash index pays, a plain \`Map<string, object>\` of the same names. `
        + `${lookups.toLocaleString('en')} calls of each per size in ${rounds} rounds that alternate across the sizes after a warm-up round, so `
        + `1,000 entries (the baseline) and 1,000,000 share the same noise. Timer overhead (an empty pair of performance.now()): `
        + `${fixed(r.timerMedianUs, 3)} µs, included in every figure.`,
      '',
      table(
        [
          'entries', 'bytes / entry', 'heap', 'registrations / s (fill)', 'search median µs', 'search p99 µs', 'search / search at 1k',
          'store.sourcesOf median / p99 µs', 'plain Map.get median / p99 µs', 'Map.get / Map.get at 1k',
        ],
        rows,
      ),
      '',
      `**search at 1M / at 1k = ${fixed(ratio)}** (median; p99: ${fixed(p99Ratio)}); target: flat, ~1.0 (read as <= ${TARGET_FLAT}): ${metText(met)}. `
        + `Bytes per entry at 1M: **${Math.round(big.bytesPerEntry)}**. A plain Map of the same names grows ${fixed(mapRatio)}x over the same range, `
        + `the store's lookup ${fixed(storeRatio)}x.`,
    ];
    if (!met) {
      const inherent = mapRatio >= 0.75 * storeRatio;
      md.push(
        '',
        `What holds it back: ${inherent
          ? `the same growth shows in a bare \`Map.get\` (${fixed(mapRatio)}x), so it is the memory hierarchy, not the registry's algorithm: at 1M `
            + `entries the index (${(big.heapBytes / 2 ** 20).toFixed(0)} MiB) is far larger than the CPU caches, and a lookup of a random name `
            + `misses cache and TLB on the hash table, the entry and its strings, where at 1k everything stays in L1/L2. Fewer, smaller objects `
            + `per entry is the only lever (fewer dependent loads per lookup).`
          : `the store's lookup grows ${fixed(storeRatio)}x where a plain Map grows ${fixed(mapRatio)}x: the store does more dependent memory reads `
            + `per lookup than one hash probe.`}`,
      );
    }
    return {
      name: 'registry',
      title: 'Registry: memory per entry and search latency from 1,000 to 1,000,000 entries',
      markdown: md.join('\n'),
      summary: [
        { figure: 'Registry search median, 1M entries / 1k entries', value: fixed(ratio), target: `flat (~1.0, <= ${TARGET_FLAT})`, met },
        { figure: 'Registry heap per entry at 1M', value: `${Math.round(big.bytesPerEntry)} B`, target: '(reported)', met: true },
      ],
    };
  } finally {
    await worker.quit();
  }
}
