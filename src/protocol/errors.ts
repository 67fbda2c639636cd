// The one error type of P2P Share, shared by codec, index server, peer engine, terminal peer and extension.

/**
 * Every failure has a code. Codes 1..99 may cross the wire inside an E PDU (their number is the wire
 * code); codes 100 and up are local to one process but use the same type so every layer reports
 * failures the same way.
 */
export const ErrorCodes = {
  // On the wire (E PDU), index server or content server to peer.
  MALFORMED: 1,
  UNKNOWN_TYPE: 2,
  TOO_LARGE: 3,
  BAD_NAME: 4,
  NAME_TAKEN: 5,
  NOT_OWNER: 6,
  NOT_FOUND: 7,
  NOT_REGISTERED: 8,
  BAD_COOKIE: 9,
  RATE_LIMITED: 10,
  PEER_LIMIT: 11,
  INDEX_FULL: 12,
  CLASSIC_DISABLED: 13,
  NOT_SHARED: 14,
  BAD_RANGE: 15,
  BAD_ADDRESS: 16,
  BUSY: 17,
  INTERNAL: 18,
  ALREADY_LISTED: 19,
  ADDRESS_LIMIT: 20,
  SECRET_LIMIT: 21,
  REPLAYED: 22,
  BAD_PROOF: 23,
  STORE_UNAVAILABLE: 24,
  // Local to one process.
  TIMEOUT: 100,
  UNREACHABLE: 101,
  SOURCE_GONE: 102,
  HASH_MISMATCH: 103,
  STALLED: 104,
  CANCELLED: 105,
  NO_SOURCES: 106,
  IO: 107,
  DISK_FULL: 108,
  FILE_NOT_FOUND: 109,
  NOT_A_FILE: 110,
  BAD_PATH: 111,
  BAD_SETTING: 112,
  CLOSED: 113,
  PROTOCOL: 114,
  BAD_COMMAND: 115,
  ADDRESS_IN_USE: 116,
  SIZE_LIMIT: 117,
  VERSIONS_DIFFER: 118,
  PIN_MISMATCH: 120,
  NOT_ENCRYPTED: 121,
  UNKNOWN: 199,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

const byNumber = new Map<number, ErrorCode>(
  (Object.keys(ErrorCodes) as ErrorCode[]).map((k) => [ErrorCodes[k], k]),
);

/** Words for each code: the only place that turns a code into something a person reads. */
const WORDS: Record<ErrorCode, string> = {
  MALFORMED: 'The message is malformed',
  UNKNOWN_TYPE: 'Unknown message type',
  TOO_LARGE: 'The message is too large',
  BAD_NAME: 'The name is not allowed',
  NAME_TAKEN: 'That peer name is already used by another peer; choose another peer name',
  NOT_OWNER: 'Only the peer that registered this content can remove it',
  NOT_FOUND: 'No peer shares that content',
  NOT_REGISTERED: 'Could not remove: that content is not registered under this peer name',
  BAD_COOKIE: 'The handshake cookie is missing or expired',
  RATE_LIMITED: 'Too many requests from this address; slow down',
  PEER_LIMIT: 'This peer has registered the most content the index server allows',
  INDEX_FULL: 'The index server is full',
  CLASSIC_DISABLED: 'This index server does not accept classic 101-byte PDUs',
  NOT_SHARED: 'That content is not shared by this peer',
  BAD_RANGE: 'The requested byte range is outside the content',
  BAD_ADDRESS: 'The address is not valid for this sender',
  BUSY: 'The server is busy; try again',
  INTERNAL: 'Internal server error',
  // The original report's own words (its figure C.2.2): classic clients show this E as it is.
  ALREADY_LISTED: 'Username and file already exists in list, please pick another username/file combination',
  ADDRESS_LIMIT: 'This address has registered the most content the index server allows from one address',
  SECRET_LIMIT: 'This peer has registered the most content the index server allows under one secret',
  REPLAYED: 'That request was already carried out once; a new request needs a new request id',
  BAD_PROOF: 'The request does not prove its peer name: its MAC does not match the key it claims',
  STORE_UNAVAILABLE: 'The index server cannot reach its store, so registrations cannot change now; searches still work. Try again shortly',
  TIMEOUT: 'The index server did not answer',
  UNREACHABLE: 'Could not connect',
  SOURCE_GONE: 'The source closed the connection before sending all the content',
  HASH_MISMATCH: 'The downloaded bytes do not match the registered SHA-256',
  STALLED: 'The source stopped sending data',
  CANCELLED: 'Cancelled',
  NO_SOURCES: 'No source could provide the content',
  IO: 'File system error',
  DISK_FULL: 'The disk is full',
  FILE_NOT_FOUND: 'File not found',
  NOT_A_FILE: 'Not a regular file',
  BAD_PATH: 'The path is not allowed',
  BAD_SETTING: 'Invalid setting',
  CLOSED: 'The peer has stopped',
  PROTOCOL: 'The other side broke the protocol',
  BAD_COMMAND: 'Not a valid command',
  ADDRESS_IN_USE: 'Another program is already using that address and port',
  SIZE_LIMIT: 'The content is larger than this peer downloads',
  VERSIONS_DIFFER: 'Peers share different files under this name; choose one by its SHA-256',
  PIN_MISMATCH: 'The source showed a TLS key other than the one it registered; nothing was requested from it',
  NOT_ENCRYPTED: 'Encryption is required, and no source of this content offers it',
  UNKNOWN: 'Unknown error',
};

export function describeCode(code: ErrorCode): string {
  return WORDS[code];
}

export function codeFromWire(n: number): ErrorCode {
  return byNumber.get(n) ?? 'UNKNOWN';
}

export class P2PError extends Error {
  override readonly name = 'P2PError';
  /**
   * The specifics (a name, a path, an address, the other side's own words), kept apart from the
   * code's words so that nobody has to cut them back off `message`. Empty when there are none.
   */
  readonly detail: string;
  constructor(
    readonly code: ErrorCode,
    detail?: string,
    override readonly cause?: unknown,
  ) {
    super(detail ? `${WORDS[code]}: ${detail}` : WORDS[code]);
    this.detail = detail ?? '';
  }

  get wireCode(): number {
    return ErrorCodes[this.code];
  }
}

/**
 * The specifics of `err`, or the code's words when it has none: what an E message carries (the
 * receiver turns the code into words itself) and what a reply quotes after words of its own.
 */
export function detailOrWords(err: P2PError): string {
  return err.detail || err.message;
}

/** Turns anything thrown (Node system errors included) into a P2PError with a code. */
export function toP2PError(err: unknown, context?: string): P2PError {
  if (err instanceof P2PError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const where = context ? `${context}: ` : '';
  switch (e?.code) {
    case 'ENOENT':
      // A context that already names the path says it all: the path once, not twice.
      return new P2PError('FILE_NOT_FOUND', context && e.path && context.includes(e.path) ? context : where + (e.path ?? e.message), err);
    case 'ENOSPC':
    case 'EDQUOT':
      return new P2PError('DISK_FULL', where + e.message, err);
    case 'EISDIR':
      return new P2PError('NOT_A_FILE', where + (e.path ?? e.message), err);
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return new P2PError('UNREACHABLE', where + e.message, err);
    case 'ECONNRESET':
    case 'EPIPE':
      return new P2PError('SOURCE_GONE', where + e.message, err);
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
    case 'ELOOP':
      // A part of the path is a file, too long, or a loop of links: the path itself is at fault.
      return new P2PError('BAD_PATH', where + e.message, err);
    case 'ABORT_ERR':
      return new P2PError('CANCELLED', context, err);
    case 'EACCES':
    case 'EPERM':
    case 'EEXIST':
    case 'EMFILE':
    case 'EIO':
      return new P2PError('IO', where + e.message, err);
  }
  if (e instanceof Error && e.name === 'AbortError') return new P2PError('CANCELLED', context, err);
  return new P2PError('UNKNOWN', where + (e instanceof Error ? e.message : String(err)), err);
}
