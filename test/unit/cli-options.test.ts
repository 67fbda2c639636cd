// The terminal peer's command line: options, environment defaults and one clear sentence for every bad value.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { parseInvocation, usageText, type CliOptions, type InvocationContext } from '../../src/cli/options';
import { P2PError } from '../../src/protocol/errors';

const CWD = path.resolve('/home/sam/work');

function context(env: Record<string, string> = {}, user: string | null = 'sam'): InvocationContext {
  return { env, cwd: CWD, userName: () => user ?? undefined };
}

function run(argv: string[], ctx = context()): CliOptions {
  const inv = parseInvocation(argv, ctx);
  assert.equal(inv.action, 'run');
  return (inv as { options: CliOptions }).options;
}

function rejects(argv: string[], pattern: RegExp, ctx = context()): void {
  assert.throws(
    () => parseInvocation(argv, ctx),
    (err: unknown) => {
      assert.ok(err instanceof P2PError);
      assert.equal(err.code, 'BAD_SETTING');
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes('\n'), 'one line');
      return true;
    },
  );
}

describe('terminal peer: command-line options', () => {
  it('defaults to the local index, the user name, any port and ./downloads', () => {
    const o = run([]);
    assert.deepEqual(o.index, { host: '127.0.0.1', port: 7870 });
    assert.equal(o.indexText, '127.0.0.1:7870');
    assert.equal(o.peerName, 'sam');
    assert.equal(o.port, 0);
    assert.equal(o.dir, path.join(CWD, 'downloads'));
    assert.equal(o.json, false);
    assert.equal(o.shareDownloads, true);
    assert.equal(o.verbose, false);
    assert.equal(o.indexTimeoutMs, 500);
    assert.equal(o.uploadLimit, 0);
  });

  it('reads every option', () => {
    const o = run(['--index', '[::1]:9000', '--name', 'Jo Smith', '--port', '4000', '--dir', '/tmp/dl', '--json', '--no-share-downloads', '-v', '--index-timeout', '100']);
    assert.deepEqual(o.index, { host: '::1', port: 9000 });
    assert.equal(o.indexText, '[::1]:9000');
    assert.equal(o.peerName, 'Jo Smith');
    assert.equal(o.port, 4000);
    assert.equal(o.dir, path.resolve('/tmp/dl'));
    assert.equal(o.json, true);
    assert.equal(o.shareDownloads, false);
    assert.equal(o.verbose, true);
    assert.equal(o.indexTimeoutMs, 100);
  });

  it('reads --upload-limit as bytes per second, with K, M and G as binary multiples', () => {
    assert.equal(run(['--upload-limit', '65536']).uploadLimit, 65536);
    assert.equal(run(['--upload-limit', '512K']).uploadLimit, 512 * 1024);
    assert.equal(run(['--upload-limit=2m']).uploadLimit, 2 * 1024 * 1024);
    assert.equal(run(['--upload-limit', '0']).uploadLimit, 0);
    rejects(['--upload-limit', 'fast'], /--upload-limit must be bytes per second.*"fast"/);
    rejects(['--upload-limit', '1.5M'], /--upload-limit/);
    rejects(['--upload-limit', '2MB'], /--upload-limit/);
  });

  it('reads --max-download as a size with K, M, G or T, and leaves the default to the engine', () => {
    assert.equal(run([]).maxDownloadBytes, undefined);
    assert.equal(run(['--max-download', '500M']).maxDownloadBytes, 500 * 1024 ** 2);
    assert.equal(run(['--max-download=1t']).maxDownloadBytes, 1024 ** 4);
    assert.equal(run([]).requireEncryption, false);
    assert.equal(run(['--require-encryption']).requireEncryption, true);
    rejects(['--max-download', '0'], /--max-download must be a size in bytes above 0.*"0"/);
    rejects(['--max-download', 'huge'], /--max-download/);
  });

  it('accepts --option=value', () => {
    assert.equal(run(['--index=10.0.0.5:7870']).indexText, '10.0.0.5:7870');
  });

  it('takes the index and the peer name from P2P_INDEX and P2P_PEER_NAME, options winning', () => {
    const ctx = context({ P2P_INDEX: '127.0.0.1:7999', P2P_PEER_NAME: 'Jo' });
    assert.equal(run([], ctx).indexText, '127.0.0.1:7999');
    assert.equal(run([], ctx).peerName, 'Jo');
    assert.equal(run(['--index', '127.0.0.1:1', '--name', 'Al'], ctx).indexText, '127.0.0.1:1');
    assert.equal(run(['--index', '127.0.0.1:1', '--name', 'Al'], ctx).peerName, 'Al');
  });

  it('treats an empty environment variable as unset', () => {
    const o = run([], context({ P2P_INDEX: '', P2P_PEER_NAME: ' ' }));
    assert.equal(o.indexText, '127.0.0.1:7870');
    assert.equal(o.peerName, 'sam');
  });

  it('asks for --name when the system has no user name', () => {
    rejects([], /no peer name.*--name/, context({}, null));
  });

  it('answers --help and --version before checking anything else', () => {
    assert.deepEqual(parseInvocation(['--help', '--port', 'x'], context()), { action: 'help' });
    assert.deepEqual(parseInvocation(['-V'], context()), { action: 'version' });
  });

  it('refuses a port that is not a whole number from 0 to 65535', () => {
    rejects(['--port', 'abc'], /--port must be a whole number from 0 to 65535.*"abc"/);
    rejects(['--port', '65536'], /--port/);
    rejects(['--port', '-1'], /--port needs a value; write --port=<value>/);
    rejects(['--port=-1'], /--port must be a whole number/);
  });

  it('refuses an index timeout that is not a whole number of milliseconds from 1 to 60000', () => {
    rejects(['--index-timeout', '0'], /--index-timeout must be a whole number of milliseconds from 1 to 60000, not "0"/);
    rejects(['--index-timeout', '1.5'], /--index-timeout/);
    rejects(['--index-timeout', '60001'], /--index-timeout/);
  });

  it('refuses an index address it cannot use, naming the option', () => {
    rejects(['--index', '127.0.0.1:99999'], /--index.*port/);
    rejects(['--index', 'http://x:1'], /--index.*scheme/);
    rejects([], /P2P_INDEX/, context({ P2P_INDEX: '1.2.3:80' }));
  });

  it('refuses a peer name the protocol does not allow, naming where it came from', () => {
    rejects(['--name', ' sam'], /--name.*white space/);
    rejects([], /P2P_PEER_NAME/, context({ P2P_PEER_NAME: 'a\u0001b' }));
  });

  it('refuses unknown options, arguments and missing values', () => {
    rejects(['--colour'], /unknown option --colour/);
    rejects(['R', 'x.txt'], /unexpected argument "R"; commands are read from standard input/);
    rejects(['--index'], /--index needs a value/);
    rejects(['--json=yes'], /--json takes no value/);
    rejects(['--dir', ''], /--dir is empty/);
  });

  it('lists every option and every menu command in --help', () => {
    const text = usageText();
    for (const word of ['--index', '--name', '--port', '--dir', '--json', '--no-share-downloads', '--index-timeout', '--upload-limit', '--verbose', '--help', '--version']) {
      assert.ok(text.includes(word), `help mentions ${word}`);
    }
    for (const usage of ['R <path> [content name]', 'T <content name>', 'D <content name> [from <peer>]', 'S <content name>', 'N <new peer name>']) {
      assert.ok(text.includes(usage), `help shows ${usage}`);
    }
  });
});
