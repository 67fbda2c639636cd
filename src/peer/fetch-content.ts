// One download from the sources the index listed: choose the version and its sources, fetch, and say what happened.
import { P2PError, toP2PError } from '../protocol/errors';
import { Source } from '../protocol/messages';
import type { DownloadOptions, DownloadResult } from './api';
import type { Downloader } from './download/downloader';
import { pickSources, SelfView, SourceWish } from './source-choice';

/** Where and how a fetch runs: the folder, the peer's lifetime signal, and how a cut-short failure is worded. */
export interface FetchContext {
  folder: string;
  lifetime: AbortSignal;
  closedOr: (err: unknown) => P2PError;
}

/** Fetches `contentName` from `found` into the folder; the result says it is not shared yet (the caller may share it). */
export async function fetchContent(
  downloader: Downloader,
  contentName: string,
  found: Source[],
  wish: SourceWish,
  self: SelfView,
  opts: DownloadOptions,
  ctx: FetchContext,
): Promise<DownloadResult> {
  const pick = pickSources(contentName, found, wish, self);
  const signal = opts.signal ? AbortSignal.any([opts.signal, ctx.lifetime]) : ctx.lifetime;
  self.log('info', `downloading "${contentName}" (${pick.size} bytes) from ${pick.sources.map((s) => s.peerName).join(', ')}`);
  let fetched: Awaited<ReturnType<Downloader['fetch']>>;
  try {
    fetched = await downloader.fetch({
      contentName,
      sha256: pick.sha256,
      size: pick.size,
      sources: pick.sources,
      folder: ctx.folder,
      signal,
      onProgress: opts.onProgress,
      maxBytes: opts.maxBytes,
    });
  } catch (err) {
    throw opts.signal?.aborted ? toP2PError(err) : ctx.closedOr(err);
  }
  self.log('info', `downloaded "${contentName}" to ${fetched.path}`);
  return {
    path: fetched.path,
    contentName,
    size: pick.size,
    sha256: pick.sha256,
    sources: fetched.sources,
    resumedFrom: fetched.resumedFrom,
    reused: fetched.reused,
    pieceChecked: fetched.pieceChecked,
    refused: fetched.refused,
    shared: false,
    unencrypted: pick.sources.filter((s) => s.pin === undefined && fetched.sources.includes(s.peerName)).map((s) => s.peerName),
  };
}
