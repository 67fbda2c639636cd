// Everything p2p-peer reports, as typed events: the JSON lines of --json mode (docs/cli.md) and the input of the human format.
import type { ConnectionState, DownloadProgress, DownloadResult, OnlineItem, SearchHit, Share } from '../peer/api';
import type { ErrorCode, P2PError } from '../protocol/errors';
import { escapeInvisibleJson } from '../common/control-escape';
import type { MenuEntry } from './commands';

/** A Share as JSON: the date as ISO 8601 text. */
export interface ShareJson {
  contentName: string;
  path: string;
  size: number;
  sha256: string;
  registeredAt: string;
}

export type CliEvent =
  | {
      event: 'ready';
      peerName: string;
      /** The index server in use. */
      index: string;
      /** Every index server given, "a:7870,b:7870", when more than one. */
      indexes?: string;
      port: number;
      folder: string;
      shareDownloads: boolean;
      version: string;
      /** Set when the index server did not answer at start: why, in one line. */
      indexProblem?: string;
    }
  | { event: 'help'; commands: { usage: string; description: string }[] }
  /** `more`: the command that shows the next page, present only when there is one. */
  | { event: 'online'; items: OnlineItem[]; more?: string }
  | { event: 'found'; text: string; hits: SearchHit[]; more?: string }
  | { event: 'local'; shares: ShareJson[] }
  | { event: 'registered'; share: ShareJson }
  | { event: 'deregistered'; contentName: string }
  | { event: 'sources'; contentName: string; items: OnlineItem[] }
  | { event: 'progress'; contentName: string; received: number; total: number; bytesPerSecond: number; sources: number }
  | {
      event: 'downloaded';
      contentName: string;
      path: string;
      size: number;
      sha256: string;
      sources: string[];
      resumedFrom: number;
      reused: boolean;
      /** False when some bytes came over plain TCP (a source without a pin). */
      encrypted: boolean;
      /** False: no source showed a piece root, so only the whole-file SHA-256 was checked. */
      pieceChecked: boolean;
      /** Sources dropped for lying (a bad piece, leaves not matching the root), "name (host:port)". */
      refused: string[];
      shared: boolean;
      /** When shared is false: why, and what to do about it. */
      notShared?: string;
    }
  | { event: 'peer-name'; peerName: string; previous: string }
  | { event: 'error'; code: ErrorCode; message: string; command?: string; contentName?: string; retry?: string }
  /** `index`: the index server in use, "host:port". */
  | { event: 'state'; state: ConnectionState; index: string; detail?: string }
  /** The index server in use changed: the one before stopped answering and `index` answered. */
  | { event: 'index'; index: string; previous: string }
  | { event: 'bye' };

export type CliEventName = CliEvent['event'];

export function shareJson(share: Share): ShareJson {
  return {
    contentName: share.contentName,
    path: share.path,
    size: share.size,
    sha256: share.sha256,
    registeredAt: share.registeredAt instanceof Date ? share.registeredAt.toISOString() : String(share.registeredAt),
  };
}

/** Copies only the documented fields, so an engine that adds fields does not change the JSON contract. */
export function onlineItemJson(item: OnlineItem): OnlineItem {
  return {
    peerName: item.peerName,
    contentName: item.contentName,
    host: item.host,
    port: item.port,
    size: item.size,
    sha256: item.sha256,
  };
}

/** Copies only the documented fields of a search hit. */
export function searchHitJson(hit: SearchHit): SearchHit {
  return { contentName: hit.contentName, size: hit.size, sha256: hit.sha256, sources: hit.sources };
}

export function progressEvent(p: DownloadProgress): CliEvent {
  return {
    event: 'progress',
    contentName: p.contentName,
    received: p.received,
    total: p.total,
    bytesPerSecond: Math.round(p.bytesPerSecond),
    sources: p.sources,
  };
}

export function downloadedEvent(r: DownloadResult): CliEvent {
  return {
    event: 'downloaded',
    contentName: r.contentName,
    path: r.path,
    size: r.size,
    sha256: r.sha256,
    sources: [...r.sources],
    resumedFrom: r.resumedFrom,
    reused: r.reused ?? false,
    encrypted: r.unencrypted.length === 0,
    pieceChecked: r.pieceChecked,
    refused: [...r.refused],
    shared: r.shared,
  };
}

export type ErrorEvent = Extract<CliEvent, { event: 'error' }>;

export function errorEvent(err: P2PError, command?: string, retry?: string): ErrorEvent {
  const ev: ErrorEvent = { event: 'error', code: err.code, message: err.message };
  if (command !== undefined) ev.command = command;
  if (retry !== undefined) ev.retry = retry;
  return ev;
}

export function helpEvent(menu: readonly MenuEntry[]): CliEvent {
  return { event: 'help', commands: menu.map((m) => ({ usage: m.usage, description: m.description })) };
}

/** One line of --json output: a single JSON object, no embedded newline, C1 control or bidi control (all written as \u escapes). */
export function jsonLine(ev: CliEvent): string {
  return escapeInvisibleJson(JSON.stringify(ev));
}
