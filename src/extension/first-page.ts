// The Online Content's first page read straight from the index, so the view need not wait for the engine's certificate and content server.
import type { OnlinePage } from '../peer/api';
import { parseAddressList } from '../peer/address';
import { IndexClient } from '../peer/index-client';
import { readSlice } from '../peer/list-pages';
import { toItem } from '../peer/source-choice';
import { entryBytes } from '../protocol/udp';

/**
 * Two short tries, at the first index of the list only: an index that does not answer at once is the
 * engine's to find out about (its probe, its failover over the list) and to report.
 */
const TRIES = 2;
/**
 * How long the engine's start waits for the first page before it begins anyway. The start holds the
 * extension host's one thread for a while (loading the certificate code, signing): begun at once, it
 * delays the page's reply and the rows VS Code asks for. A silent index delays the engine no longer than this.
 */
const HEAD_START_MS = 300;

/**
 * The first `maxItems` entries of the online list at the first index `index` names, read as the engine's
 * listOnline reads them (the same bounds on items, bytes and requests) but by a client of its own, which
 * needs no secret, certificate or content server. The caller shows it until the engine's own list comes.
 */
export async function readFirstPage(index: string, maxItems: number): Promise<OnlinePage> {
  const client = new IndexClient({ address: parseAddressList(index)[0], requestTries: TRIES });
  try {
    const fetch = (at: number) => client.onlinePage(at).then((p) => ({ items: p.entries, next: p.next }));
    const slice = await readSlice(fetch, entryBytes, { maxItems }, `index server ${index}`);
    return { items: slice.items.map((e) => toItem(e, e.contentName)), next: slice.next };
  } finally {
    await client.close();
  }
}

/** Settles when `first` does, or after HEAD_START_MS, whichever comes first. */
export function headStart(first: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, HEAD_START_MS);
    void first.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
