// The terminal peer reports each failure as one line in human mode and one error event with --json, whatever the other side sent.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes } from '../../src/protocol/errors';
import { encodeTcpError } from '../../src/protocol/tcp';
import { CliPeer, IndexServerProcess, makeTempDir, removeTempDir } from '../support/cli';
import { UdpProbe } from '../support/index-server';
import { RawSource, RawSourceBehaviour, TestFile, headerFor, readRange, writeTestFile } from '../support/peers';

/** What `L` prints for a peer that shares nothing: the marker that a command's output is over. */
const NOTHING_SHARED = 'you have registered nothing; R <path> registers a file';

interface FailureCase {
  line: string;
  code: string;
  message: RegExp;
  /** The human line, when it says more in the user's terms than the JSON message. */
  human?: RegExp;
}

describe('hardening: one line or one event per failure in the terminal peer', function () {
  this.timeout(90_000);

  let server: IndexServerProcess;
  let root: string;
  const peers: CliPeer[] = [];
  const rawSources: RawSource[] = [];
  const closers: (() => Promise<void>)[] = [];

  async function peer(name: string, json: boolean, index = server.address, args: string[] = []): Promise<CliPeer> {
    const p = await CliPeer.start({ index, name, json, cwd: root, args });
    peers.push(p);
    if (!json) await p.nextLine((l) => l.startsWith(`peer "${name}" `));
    return p;
  }

  /** Serves `file` the way `behave` says and registers it at the index under `peerName`, as any peer would. */
  async function rawSource(peerName: string, file: TestFile, behave: RawSourceBehaviour): Promise<void> {
    const source = await RawSource.start(file, behave);
    rawSources.push(source);
    const probe = await UdpProbe.open({ host: server.host, port: server.port });
    closers.push(() => probe.close());
    const reply = await probe.ask({
      type: 'R', requestId: probe.id(), cookie: await probe.handshake(), secret: randomBytes(32), tcpPort: source.port, size: file.size,
      sha256: Buffer.from(file.sha256, 'hex'), peerName, contentName: file.name,
    });
    assert.equal(reply.type, 'A', JSON.stringify(reply));
  }

  /** Half the range, then the connection ends: the source went away mid-transfer. */
  const diesHalfWay: RawSourceBehaviour = async (req, socket, f) => {
    const body = await readRange(f, req.offset, req.length);
    socket.write(headerFor(req, f.size));
    socket.end(body.subarray(0, body.length >> 1));
  };

  /**
   * Runs `c.line` in human mode and returns what it printed: the lines before the output of an `L`
   * sent after it (commands run one at a time, in order), progress lines left out.
   */
  async function humanOutput(p: CliPeer, line: string): Promise<string[]> {
    const from = p.stdoutLines.length;
    p.send(line);
    p.send('L');
    await p.nextLine((l) => l === NOTHING_SHARED);
    const upTo = p.stdoutLines.lastIndexOf(NOTHING_SHARED);
    return p.stdoutLines.slice(from, upTo).filter((l) => !l.startsWith('downloading "'));
  }

  function expectOneErrorLine(lines: string[], c: FailureCase): void {
    assert.equal(lines.length, 1, `${c.line} printed:\n${lines.join('\n')}`);
    assert.match(lines[0], /^error: /, c.line);
    assert.match(lines[0], c.human ?? c.message, c.line);
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/u.test(lines[0]), `${c.line}: a control character reached the terminal: ${JSON.stringify(lines[0])}`);
  }

  async function expectErrorEvent(p: CliPeer, c: FailureCase): Promise<void> {
    const ev = await p.run(c.line);
    assert.equal(ev.event, 'error', `${c.line}: ${JSON.stringify(ev)}`);
    assert.equal(ev.code, c.code, `${c.line}: ${JSON.stringify(ev)}`);
    assert.equal(ev.command, c.line[0]);
    assert.match(String(ev.message), c.message, c.line);
  }

  before(async function () {
    root = makeTempDir('hardening-cli-errors');
    fs.mkdirSync(path.join(root, 'sources'));
    server = await IndexServerProcess.start();
    const file = (name: string) => writeTestFile(path.join(root, 'sources'), name, 200_000);

    await rawSource('Gone', await file('gone.bin'), diesHalfWay);
    const two = await file('two.bin');
    await rawSource('DeadA', two, diesHalfWay);
    await rawSource('DeadB', two, diesHalfWay);
    await rawSource('Liar', await file('liar.bin'), async (req, socket, f) => {
      const body = await readRange(f, req.offset, req.length);
      body[0] ^= 0xff;
      socket.write(headerFor(req, f.size));
      socket.write(body);
    });
    // A peer whose refusal tries to forge a second output line and clear the screen.
    await rawSource('Rude', await file('rude.bin'), (_req, socket) => {
      socket.end(encodeTcpError(ErrorCodes.NOT_SHARED, 'nope\nerror: forged second line\u001b[2J'));
    });
  });

  after(async function () {
    await Promise.all(peers.splice(0).map((p) => p.stop()));
    await Promise.all(rawSources.splice(0).map((s) => s.close()));
    for (const close of closers.splice(0)) await close();
    await server?.stop();
    removeTempDir(root);
  });

  const failures: FailureCase[] = [
    { line: 'S Missing.txt', code: 'NOT_FOUND', message: /No peer shares that content: "Missing\.txt"/ },
    { line: 'D Missing.txt', code: 'NOT_FOUND', message: /No peer shares that content.*Missing\.txt/ },
    // Part of the file arrived: a person reads how much in file sizes and how to resume; a program keeps the engine's detail.
    {
      line: 'D gone.bin',
      code: 'SOURCE_GONE',
      message: /closed the connection.*"Gone"|"Gone".*closed the connection/,
      human: /closed the connection.*"gone\.bin" stopped after .* of .*; the partial file is kept; D gone\.bin again resumes it$/,
    },
    {
      line: 'D two.bin',
      code: 'NO_SOURCES',
      message: /every source failed \(.*Dead[AB].*; .*Dead[AB].*\)/,
      human: /No source could provide the content: "two\.bin" stopped after .*; D two\.bin again resumes it$/,
    },
    { line: 'D liar.bin', code: 'HASH_MISMATCH', message: /do not match the registered SHA-256.*Liar/ },
    { line: 'D rude.bin', code: 'NOT_SHARED', message: /"Rude".*nope/ },
  ];

  it('prints each failure as exactly one "error:" line in human mode, control characters escaped', async function () {
    const p = await peer('Human', false);
    for (const c of failures) expectOneErrorLine(await humanOutput(p, c.line), c);
    const rude = p.stdoutLines.find((l) => l.includes('nope'))!;
    assert.ok(rude.includes('nope\\x0aerror: forged second line\\x1b[2J'), rude);
    assert.ok(!p.stdoutLines.some((l) => l.startsWith('error: forged')), 'the forged line never became a line of its own');
  });

  it('reports each failure as one error event with its code and command in --json mode', async function () {
    const p = await peer('Json', true);
    for (const c of failures) await expectErrorEvent(p, c);
    assert.equal(p.events.length, p.stdoutLines.length, 'every stdout line is one JSON event');
  });

  describe('when the index server does not answer', function () {
    let silent: dgram.Socket;
    let address: string;

    before(async function () {
      silent = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
      address = `127.0.0.1:${silent.address().port}`;
    });

    after(async function () {
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    const timeout = (): FailureCase => ({
      line: 'O',
      code: 'TIMEOUT',
      message: new RegExp(`did not answer: ${address.replace(/\./g, '\\.')} gave no answer within`),
    });

    it('prints one line naming the address for a command that timed out, in human mode', async function () {
      const p = await peer('LonelyHuman', false, address, ['--index-timeout', '20']);
      // At start it says once, instead of "ready", that the index does not answer (docs/cli.md); the command's failure is one more line.
      assert.match(p.stdoutLines[0], new RegExp(`started, but index server ${address.replace(/\./g, '\\.')} gave no answer`));
      expectOneErrorLine(await humanOutput(p, 'O'), timeout());
    });

    it('reports one TIMEOUT event naming the address with --json', async function () {
      const p = await peer('LonelyJson', true, address, ['--index-timeout', '20']);
      await expectErrorEvent(p, timeout());
    });
  });
});
