// A hostile source's words and a hostile peer's names, tried against the real index server and the real terminal peer: they arrive as text, never as an escape or a look-alike.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { Peer } from '../../src/peer/peer';
import { ErrorCodes, IndexReply } from '../../src/protocol';
import { encodeTcpError } from '../../src/protocol/tcp';
import { CliPeer, IndexServerProcess, makeTempDir, removeTempDir } from '../support/cli';
import { RunningIndexServer, UdpProbe, startIndexServer } from '../support/index-server';
import { IndexPeer, assertRefused } from '../support/index-peer';
import { RawSource, writeTestFile } from '../support/peers';
import { isP2P } from '../support/p2p-error';

/** An E text that sets the window title (OSC), clears the screen (CSI), uses an 8-bit CSI and forges a second line. */
const HOSTILE_E_TEXT = 'not shared\x1b]0;pwned\x07\x1b[2J\u009b31m\nforged line';
/** Raw terminal controls: ESC, BEL, C1 CSI. */
const RAW_ESCAPE = /[\x1b\x07\u009b]/u;

describe('hardening: remote text reaches the user as inert text', function () {
  this.timeout(60_000);

  describe("a source's E text in the terminal peer", function () {
    let server: IndexServerProcess;
    let root: string;
    let source: RawSource;
    let peer: CliPeer | undefined;
    let probe: UdpProbe;

    beforeEach(async function () {
      root = makeTempDir('inert-cli');
      server = await IndexServerProcess.start();
      const file = await writeTestFile(root, 'report.pdf', 5000);
      // Whatever is asked, the source answers with an E whose text is made for a terminal.
      source = await RawSource.start(file, (_req, socket) => void socket.end(encodeTcpError(ErrorCodes.NOT_SHARED, HOSTILE_E_TEXT)));
      probe = await UdpProbe.open({ host: server.host, port: server.port });
      const reply = await probe.ask({
        type: 'R', requestId: probe.id(), cookie: await probe.handshake(), secret: randomBytes(32), tcpPort: source.port,
        size: file.size, sha256: Buffer.from(file.sha256, 'hex'), peerName: 'mallory', contentName: file.name,
      });
      assert.equal(reply.type, 'A', JSON.stringify(reply));
    });

    afterEach(async function () {
      await peer?.stop();
      peer = undefined;
      await probe.close();
      await source.close();
      await server.stop();
      removeTempDir(root);
    });

    it('shows it escaped on stderr and stdout, on one line each, in human mode', async function () {
      // -v: in human mode the engine's warnings (which quote the source's E text) reach stderr only when verbose.
      peer = await CliPeer.start({ index: server.address, name: 'victim', json: false, dir: path.join(root, 'downloads'), cwd: root, args: ['-v'] });
      await peer.nextLine((l) => l.startsWith('peer "victim" is ready'));
      peer.send('D report.pdf');
      const shown = await peer.nextStderrLine((l) => l.includes('pwned'));
      const failed = await peer.nextLine((l) => l.startsWith('error:'));

      assert.doesNotMatch(shown, RAW_ESCAPE, `stderr: ${JSON.stringify(shown)}`);
      assert.ok(shown.includes('\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x0aforged line'), `stderr: ${JSON.stringify(shown)}`);
      assert.doesNotMatch(failed, RAW_ESCAPE, `stdout: ${JSON.stringify(failed)}`);
      for (const line of [...peer.stdoutLines, ...peer.stderrLines]) {
        assert.doesNotMatch(line, RAW_ESCAPE, JSON.stringify(line));
        assert.ok(!line.startsWith('forged line'), `a forged line: ${JSON.stringify(line)}`);
      }
    });

    it('writes it as \\u escapes in --json mode, the same text for a JSON reader', async function () {
      peer = await CliPeer.start({ index: server.address, name: 'victim', dir: path.join(root, 'downloads'), cwd: root });
      const ev = await peer.run('D report.pdf');
      assert.equal(ev.event, 'error');
      assert.ok(String(ev.message).endsWith(HOSTILE_E_TEXT), `a JSON reader gets the source's words as sent: ${JSON.stringify(ev)}`);
      const raw = peer.stdoutLines.find((l) => l.includes('pwned'));
      assert.ok(raw?.includes('\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\nforged line'), `stdout: ${raw}`);
      for (const line of peer.stdoutLines) assert.doesNotMatch(line, RAW_ESCAPE, JSON.stringify(line));
    });
  });

  describe('names that could pass for others, sent to the index server over UDP', function () {
    let srv: RunningIndexServer;
    let peer: IndexPeer;

    beforeEach(async function () {
      srv = await startIndexServer();
      peer = await IndexPeer.open(srv);
    });

    afterEach(async function () {
      await peer.close();
      await srv.close();
    });

    const register = (peerName: string, contentName: string): Promise<IndexReply> => peer.register(peerName, contentName);
    const expectRefused = (reply: IndexReply, rule: RegExp, what: string): void => assertRefused(reply, ErrorCodes.BAD_NAME, rule, what);

    it('refuses bidi controls, zero-width characters, BOM and soft hyphens in content and peer names', async function () {
      const invisible: [string, string][] = [
        ['invoice\u202Efdp.exe', 'U\\+202E'], // right-to-left override: shows as "invoiceexe.pdf"
        ['\u2066report\u2069.pdf', 'U\\+2066'],
        ['pay\u200Bpal.txt', 'U\\+200B'],
        ['a\u200Db.txt', 'U\\+200D'],
        ['\uFEFFreadme.md', 'U\\+FEFF'],
        ['soft\u00ADhyphen.txt', 'U\\+00AD'],
        ['tag\u{E0061}.txt', 'U\\+E0061'],
      ];
      for (const [name, cp] of invisible) {
        expectRefused(await register('sam', name), new RegExp(`content name contains the invisible format character ${cp}`), `content ${JSON.stringify(name)}`);
        expectRefused(await register(name, 'ok.txt'), new RegExp(`peer name contains the invisible format character ${cp}`), `peer ${JSON.stringify(name)}`);
      }
      expectRefused(await register('$(warning) admin', 'ok.txt'), /\$\(/, 'peer with an icon');
      expectRefused(await register('👩\u200d💻', 'ok.txt'), /U\+200D/, 'peer with an emoji joiner');
      assert.equal(srv.server.registry.size, 0, 'nothing was registered');
    });

    it('still accepts what real file names hold: spaces, brackets, accents, CJK and emoji, joined ones included', async function () {
      for (const name of ['Quarterly report (final) [v2].pdf', 'naïve résumé – 日本語 🎉.txt', '👩\u200d💻 notes.md', '$(check) done.txt']) {
        const reply = await register('sam', name);
        assert.equal(reply.type, 'A', `${JSON.stringify(name)}: ${JSON.stringify(reply)}`);
      }
    });
  });

  describe('names that could pass for others, in the peer engine', function () {
    let srv: RunningIndexServer;
    let root: string;

    beforeEach(async function () {
      srv = await startIndexServer();
      root = makeTempDir('inert-engine');
    });

    afterEach(async function () {
      await srv.close();
      removeTempDir(root);
    });

    it('will not start under a peer name with a bidi control, nor share a file under such a content name', async function () {
      const downloadFolder = path.join(root, 'downloads');
      // Should it start after all, it quits at once so the failure is reported and nothing keeps running.
      const refused = Peer.start({ peerName: 'sam\u202Enimda', index: srv.address, downloadFolder }).then((p) => p.quit());
      await assert.rejects(refused, isP2P('BAD_NAME', /U\+202E/));
      const peer = await Peer.start({ peerName: 'sam', index: srv.address, downloadFolder, listenHost: '127.0.0.1' });
      try {
        const file = await writeTestFile(root, 'invoice.pdf', 100);
        await assert.rejects(peer.register(file.path, 'invoice\u202Efdp.exe'), isP2P('BAD_NAME', /U\+202E/));
        await assert.rejects(peer.setPeerName('sam\u200B'), isP2P('BAD_NAME', /U\+200B/));
        await assert.rejects(peer.download('pay\u200Bpal.txt'), isP2P('BAD_NAME', /U\+200B/));
        assert.equal(srv.server.registry.size, 0, 'nothing reached the index');
      } finally {
        await peer.quit();
      }
    });
  });
});
