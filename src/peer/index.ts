// The peer engine's public face for the terminal peer and the extension: Peer, its shapes, and address text.
export { Peer } from './peer';
export * from './api';
export { DEFAULT_INDEX_PORT, formatAddress, parseAddress } from './address';
export type { HostPort, ParseAddressOptions } from './address';
export { IndexClient } from './index-client';
export type { IndexClientOptions, RequestOptions } from './index-client';
export { ShareBook } from './share-book';
export { hashFile } from './file-hash';
export type { ShareBookEvents, ShareBookOptions, SharedFile } from './share-book';
export { P2PError, describeCode } from '../protocol/errors';
export type { ErrorCode } from '../protocol/errors';
