// A hostile index server for tests: a real UDP socket speaking the codec, listing whatever sources the test makes up.
import * as dgram from 'node:dgram';
import { COOKIE_BYTES, IndexReply, IndexRequest, Source } from '../../src/protocol/messages';
import { decodeIndexRequest, encodeIndexReply } from '../../src/protocol/udp';
import { formatHostPort } from '../../src/protocol/address-text';
import { exchangeKeyPair } from '../../src/protocol/proof';

/** The fake index's exchange key: a real X25519 key, so peers can claim their names to it. */
export const FAKE_EXCHANGE_KEY = exchangeKeyPair().publicKey;

/** Answers every request through `answer`; `undefined` leaves it unanswered. */
export class FakeIndex {
  readonly requests: IndexRequest[] = [];

  private constructor(
    readonly socket: dgram.Socket,
    answer: (req: IndexRequest) => IndexReply | undefined,
  ) {
    socket.on('message', (buf, from) => {
      let req: IndexRequest;
      try {
        req = decodeIndexRequest(buf);
      } catch {
        return;
      }
      this.requests.push(req);
      const reply = answer(req);
      if (reply) socket.send(encodeIndexReply(reply), from.port, from.address);
    });
  }

  static async start(answer: (req: IndexRequest) => IndexReply | undefined, host = '127.0.0.1'): Promise<FakeIndex> {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
    return new FakeIndex(socket, answer);
  }

  /**
   * An index that hands out a cookie, lists nothing online, and answers every S with `sources(name)`:
   * the lie a hostile index tells a downloader.
   */
  static listing(sources: (contentName: string) => Source[], host = '127.0.0.1'): Promise<FakeIndex> {
    return FakeIndex.start((req) => {
      switch (req.type) {
        case 'H':
          return { type: 'H', requestId: req.requestId, cookie: Buffer.alloc(COOKIE_BYTES, 7), exchangeKey: FAKE_EXCHANGE_KEY };
        case 'O':
          return { type: 'O', requestId: req.requestId, next: 0, entries: [] };
        case 'S':
          return { type: 'S', requestId: req.requestId, sources: sources(req.contentName) };
        default:
          return { type: 'A', requestId: req.requestId, leaseSeconds: 120, message: '' };
      }
    }, host);
  }

  get address(): string {
    const { address, port } = this.socket.address();
    return formatHostPort(address, port);
  }

  searchedFor(contentName: string): boolean {
    return this.requests.some((r) => r.type === 'S' && r.contentName === contentName);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
