// The original report's scenario (figures C.2 to C.8) played step by step by two clients written to its 101-byte PDUs.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CLASSIC_SIZE, ClassicReply, ClassicRequest, ContentHeader, TcpError, decodeClassicReply, describeCode, encodeClassicRequest,
  encodeContentHeader, encodeDownloadRequest, encodeTcpError, tryDecodeContentResponse, tryDecodeDownloadRequest, validateContentName,
} from '../../src/protocol';
import { RunningIndexServer, UdpProbe, startIndexServer } from '../support/index-server';

/**
 * A peer written to the report: 101-byte PDUs to the index, and a TCP side that serves its folder
 * by content name. Classic registrations carry no hash, so its D asks for the all-zero hash the
 * index lists them with, and its content server serves by name alone (docs/protocol.md, TCP part).
 */
class ClassicPeer {
  private constructor(
    public name: string,
    readonly folder: string,
    private readonly udp: UdpProbe,
    private readonly tcp: net.Server,
  ) {}

  static async start(name: string, folder: string, index: RunningIndexServer): Promise<ClassicPeer> {
    fs.mkdirSync(folder, { recursive: true });
    const tcp = net.createServer((socket) => ClassicPeer.serve(folder, socket));
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    return new ClassicPeer(name, folder, await UdpProbe.open(index), tcp);
  }

  /** One D, one C (or E), as the protocol's TCP part defines them. */
  private static serve(folder: string, socket: net.Socket): void {
    let got = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      const d = tryDecodeDownloadRequest(got);
      if (!d) return;
      try {
        validateContentName(d.msg.contentName); // a name from the network never becomes a path unchecked
        const bytes = fs.readFileSync(path.join(folder, d.msg.contentName));
        socket.end(Buffer.concat([encodeContentHeader({ size: bytes.length, offset: 0, length: bytes.length }), bytes]));
      } catch {
        socket.end(encodeTcpError(14, 'not shared'));
      }
    });
    socket.on('error', () => undefined);
  }

  get port(): number {
    return (this.tcp.address() as net.AddressInfo).port;
  }

  async send(req: ClassicRequest): Promise<ClassicReply> {
    const raw = await this.udp.roundTrip(encodeClassicRequest(req));
    assert.equal(raw.length, CLASSIC_SIZE, 'every classic reply is 101 bytes');
    return decodeClassicReply(raw);
  }

  register(contentName: string): Promise<ClassicReply> {
    return this.send({ type: 'R', peerName: this.name, contentName, address: String(this.port) });
  }

  deregister(contentName: string): Promise<ClassicReply> {
    return this.send({ type: 'T', peerName: this.name, contentName });
  }

  /** Menu S: the peer name field carries this peer's own name. */
  search(contentName: string): Promise<ClassicReply> {
    return this.send({ type: 'S', peerName: this.name, contentName });
  }

  async list(): Promise<string[]> {
    const lines: string[] = [];
    let offset = 0;
    do {
      const page = await this.send({ type: 'O', offset });
      if (page.type !== 'O') throw new Error(`O answered with ${JSON.stringify(page)}`);
      lines.push(...page.lines.map((l) => `${l.peerName} ${l.contentName}`));
      offset = page.nextOffset;
    } while (offset !== 0);
    return lines;
  }

  /** Fetches `contentName` whole from `address` ("host:port") into this peer's folder. */
  async download(contentName: string, address: string): Promise<string> {
    const colon = address.lastIndexOf(':');
    const socket = net.connect(Number(address.slice(colon + 1)), address.slice(0, colon));
    socket.end(encodeDownloadRequest({ type: 'D', contentName, sha256: Buffer.alloc(32), offset: 0, length: 0 }));
    let got = Buffer.alloc(0);
    for await (const chunk of socket) got = Buffer.concat([got, chunk as Buffer]);
    const head = tryDecodeContentResponse(got);
    assert.ok(head, 'a whole C header arrived');
    const msg: ContentHeader | TcpError = head.msg;
    if (msg.type === 'E') throw new Error(`E ${msg.code} ${msg.message}`);
    const content = got.subarray(head.bytes);
    assert.equal(content.length, msg.length, 'exactly the announced bytes');
    // Written under a temporary name and renamed only once whole.
    const final = path.join(this.folder, contentName);
    fs.writeFileSync(`${final}.part`, content);
    fs.renameSync(`${final}.part`, final);
    return final;
  }

  async close(): Promise<void> {
    await this.udp.close();
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }
}

function expectA(reply: ClassicReply, words: RegExp): void {
  assert.equal(reply.type, 'A', `expected A, got ${JSON.stringify(reply)}`);
  if (reply.type === 'A') assert.match(reply.message, words);
}

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('the original report scenario, played by classic 101-byte clients', function () {
  let index: RunningIndexServer;
  let root: string;
  let sam: ClassicPeer;
  let second: ClassicPeer;

  before(async function () {
    index = await startIndexServer({ classic: true });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'classic-scenario-'));
    sam = await ClassicPeer.start('Sam', path.join(root, 'sam'), index);
    second = await ClassicPeer.start('Sam', path.join(root, 'jo'), index); // starts with the same name: figure C.2.2
    fs.writeFileSync(path.join(sam.folder, 'Text.txt'), 'Text.txt as Sam has it\n');
    fs.writeFileSync(path.join(second.folder, 'Text.txt'), 'Text.txt as Jo has it\n');
    fs.writeFileSync(path.join(second.folder, 'Text1.txt'), randomBytes(64 * 1024 + 7));
  });

  after(async function () {
    await sam?.close();
    await second?.close();
    await index?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('C.2.1: Sam registers Text.txt and gets A', async function () {
    expectA(await sam.register('Text.txt'), /^registered Text\.txt at 127\.0\.0\.1:\d+$/);
  });

  it('C.2.2: a second peer registering "Sam" + "Text.txt" gets E, picks another name, and is registered as Jo', async function () {
    const clash = await second.register('Text.txt');
    assert.deepEqual(clash, { type: 'E', message: describeCode('ALREADY_LISTED') });
    assert.equal(clash.type === 'E' && clash.message, 'Username and file already exists in list, please pick another username/file combination');
    second.name = 'Jo';
    expectA(await second.register('Text.txt'), /^registered Text\.txt/);
    expectA(await second.register('Text1.txt'), /^registered Text1\.txt/);
  });

  it('C.3: O lists every registration, in registration order', async function () {
    assert.deepEqual(await sam.list(), ['Sam Text.txt', 'Jo Text.txt', 'Jo Text1.txt']);
  });

  it('C.4: Sam searches Text1.txt (its own name in the peer name field) and is told Jo has it', async function () {
    assert.deepEqual(await sam.search('Text1.txt'), { type: 'S', peerName: 'Jo', contentName: 'Text1.txt', address: `127.0.0.1:${second.port}` });
  });

  it('C.5: Sam downloads Text1.txt from Jo over TCP, whole and identical', async function () {
    const found = await sam.search('Text1.txt');
    assert.equal(found.type, 'S');
    if (found.type !== 'S') return;
    const file = await sam.download('Text1.txt', found.address);
    assert.equal(sha(file), sha(path.join(second.folder, 'Text1.txt')));
  });

  it('C.6: Sam registers the downloaded Text1.txt as a new source, and Jo searching it is sent to Sam', async function () {
    expectA(await sam.register('Text1.txt'), /^registered Text1\.txt/);
    assert.deepEqual(await sam.list(), ['Sam Text.txt', 'Jo Text.txt', 'Jo Text1.txt', 'Sam Text1.txt']);
    // The source is picked from a random start: 20 tries leave a one-in-a-million chance of luck.
    for (let i = 0; i < 20; i++) {
      const found = await second.search('Text1.txt');
      assert.equal(found.type === 'S' && found.peerName, 'Sam', 'Jo asking is sent to the other source');
    }
  });

  it('C.7: Jo de-registers Text.txt with T and gets A; it is gone from the list', async function () {
    expectA(await second.deregister('Text.txt'), /^removed 1 registration$/);
    assert.deepEqual(await sam.list(), ['Sam Text.txt', 'Jo Text1.txt', 'Sam Text1.txt']);
  });

  it('C.8: both quit, sending one T per file, and the index is empty', async function () {
    for (const content of ['Text.txt', 'Text1.txt']) expectA(await sam.deregister(content), /^removed 1 registration$/);
    expectA(await second.deregister('Text1.txt'), /^removed 1 registration$/);
    const empty = await sam.send({ type: 'O', offset: 0 });
    assert.equal(empty.type === 'E' && empty.message, `${describeCode('NOT_FOUND')}: nothing is registered`);
    assert.equal(index.server.registry.size, 0);
  });
});
