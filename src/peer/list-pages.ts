// Reads a bounded slice of a paged index list (O entries, F hits): caps on entries, bytes and requests per call, a cursor that must move forward.
import { isWholeNumberIn } from '../common/numbers';
import { P2PError } from '../protocol/errors';
import { MAX_DATAGRAM, NameHit } from '../protocol/messages';
import { HASH_BYTES } from '../protocol/messages';
import type { ListCursor, PageRequest, SearchHit } from './api';

/** One call's slice: the items, and the cursor to go on from (absent when the index said it was the end). */
export interface ListSlice<T> {
  items: T[];
  next?: ListCursor;
}

export const DEFAULT_PAGE_ITEMS = 200;
export const MAX_PAGE_ITEMS = 1000;
export const DEFAULT_PAGE_BYTES = 256 * 1024;
export const MAX_PAGE_BYTES = 1024 * 1024;
/**
 * Index requests one call makes, at most. An honest O page holds at least 2 entries and an F page
 * scans at least 131 072 names, so 64 reach 1000 entries or a whole 8-million-name index; a hostile
 * index that sends empty or one-item pages only makes the call return early with a `next`.
 */
export const MAX_PAGE_REQUESTS = 64;

/** One page as the index sent it: items and the index's next cursor (0 = the end). */
export interface IndexPage<T> {
  items: T[];
  next: number;
}

/**
 * Reads pages from `request.cursor` on until `maxItems` items or `maxBytes` bytes (each item counted
 * by `bytesOf`) are held, the index says it is the end, or MAX_PAGE_REQUESTS requests were made. Never
 * holds more than the caller asked for plus the one page in hand. A cursor that does not move forward
 * is a PROTOCOL error naming `what`.
 */
export async function readSlice<T>(
  fetch: (cursor: number) => Promise<IndexPage<T>>,
  bytesOf: (item: T) => number,
  request: PageRequest,
  what: string,
): Promise<ListSlice<T>> {
  const maxItems = bounded('maxItems', request.maxItems, DEFAULT_PAGE_ITEMS, 1, MAX_PAGE_ITEMS);
  // At least one datagram's worth, so every call moves on by at least one item.
  const maxBytes = bounded('maxBytes', request.maxBytes, DEFAULT_PAGE_BYTES, MAX_DATAGRAM, MAX_PAGE_BYTES);
  let at = request.cursor?.at ?? 0;
  let skip = request.cursor?.skip ?? 0;
  if (!isWholeNumberIn(at, 0, 0xffff_ffff) || !isWholeNumberIn(skip, 0, 0xffff)) {
    throw new P2PError('BAD_SETTING', `a list cursor is two whole numbers (page 0..4294967295, skip 0..65535), got ${JSON.stringify(request.cursor)}`);
  }
  const items: T[] = [];
  let bytes = 0;
  for (let requests = 0; requests < MAX_PAGE_REQUESTS; requests++) {
    const page = await fetch(at);
    for (let i = Math.min(skip, page.items.length); i < page.items.length; i++) {
      const size = bytesOf(page.items[i]);
      if (items.length >= maxItems || bytes + size > maxBytes) return { items, next: { at, skip: i } };
      items.push(page.items[i]);
      bytes += size;
    }
    if (page.next === 0) return { items };
    // The cursor only moves forward; one that stays or goes back would make the walk endless.
    if (page.next <= at) throw new P2PError('PROTOCOL', `${what} sent cursor ${page.next} after ${at}`);
    at = page.next;
    skip = 0;
    if (items.length >= maxItems) break;
  }
  return { items, next: { at, skip: 0 } };
}

function bounded(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!isWholeNumberIn(value, min, max)) throw new P2PError('BAD_SETTING', `${name} must be a whole number ${min}..${max}, got ${value}`);
  return value;
}

/** An F page's hits as the engine reports them: one per version, so several versions are several hits. */
export function flattenHits(hits: NameHit[]): SearchHit[] {
  return hits.flatMap((h) =>
    h.versions.map((v) => ({ contentName: h.contentName, size: v.size, sha256: v.sha256.toString('hex'), sources: v.sources })),
  );
}

/** Wire bytes a flattened hit stands for: its name and one version (what maxBytes counts). */
export function searchHitBytes(h: SearchHit): number {
  return 1 + Buffer.byteLength(h.contentName) + 1 + 8 + HASH_BYTES + 4;
}
