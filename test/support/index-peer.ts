// A peer as the index sees it, for tests that speak the wire: one UDP socket, one cookie, one secret.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { IndexReply } from '../../src/protocol/messages';
import { decodeIndexReply } from '../../src/protocol/udp';
import { UdpProbe } from './index-server';

export class IndexPeer {
  private constructor(readonly probe: UdpProbe, readonly cookie: Buffer, readonly secret: Buffer) {}

  /** Opens a socket towards `server` and takes a cookie (and the exchange key R and T are proved to). */
  static async open(server: { host?: string; port: number }, secret: Buffer = randomBytes(32)): Promise<IndexPeer> {
    const probe = await UdpProbe.open({ host: server.host ?? '127.0.0.1', port: server.port });
    try {
      return new IndexPeer(probe, await probe.handshake(), secret);
    } catch (err) {
      await probe.close();
      throw err;
    }
  }

  register(peerName: string, contentName: string): Promise<IndexReply> {
    return this.probe.ask(this.registration(peerName, contentName));
  }

  deregister(peerName: string, contentName = ''): Promise<IndexReply> {
    return this.probe.ask({ type: 'T', requestId: this.probe.id(), cookie: this.cookie, secret: this.secret, peerName, contentName });
  }

  search(contentName: string): Promise<IndexReply> {
    return this.probe.ask({ type: 'S', requestId: this.probe.id(), cookie: this.cookie, contentName });
  }

  online(cursor = 0): Promise<IndexReply> {
    return this.probe.ask({ type: 'O', requestId: this.probe.id(), cookie: this.cookie, cursor });
  }

  /** Sends every R at once and reads the replies, however they interleave with other peers'. */
  async registerAll(peerName: (i: number) => string, contents: string[]): Promise<IndexReply[]> {
    await Promise.all(contents.map((c, i) => this.probe.send(this.probe.encode(this.registration(peerName(i), c)))));
    const out: IndexReply[] = [];
    for (let i = 0; i < contents.length; i++) out.push(decodeIndexReply(await this.probe.next()));
    return out;
  }

  close(): Promise<void> {
    return this.probe.close();
  }

  private registration(peerName: string, contentName: string) {
    return {
      type: 'R' as const, requestId: this.probe.id(), cookie: this.cookie, secret: this.secret, tcpPort: 4000, size: 5, sha256: Buffer.alloc(32, 7), peerName, contentName,
    };
  }
}

/** "A", "S", … or "E<code>": a reply as the assertions of these tests name it. */
export function codeOf(reply: IndexReply): string {
  return reply.type === 'E' ? `E${reply.code}` : reply.type;
}

/** Asserts `reply` is an E with `code` whose message matches `rule`; `what` names the case in the failure. */
export function assertRefused(reply: IndexReply, code: number, rule: RegExp, what: string): void {
  assert.equal(reply.type, 'E', `${what}: expected E ${code}, got ${JSON.stringify(reply)}`);
  if (reply.type !== 'E') return;
  assert.equal(reply.code, code, `${what}: code ${reply.code}, ${reply.message}`);
  assert.match(reply.message, rule, what);
}
