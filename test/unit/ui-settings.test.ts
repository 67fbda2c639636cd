// Settings checks: index address forms, bad ports, peer names, folder expansion, the refresh minimum, last good values.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { P2PError } from '../../src/protocol/errors';
import {
  FALLBACK_PEER_NAME,
  SettingDefaults,
  defaultPeerName,
  defaultSettings,
  indexAddressProblem,
  isLoopbackHost,
  localServerPort,
  parseDownloadFolder,
  parseIndexServer,
  parseListenPort,
  parsePeerName,
  parseRefreshInterval,
  parseSettings,
  parseShareDownloads,
  peerNameProblem,
} from '../../src/extension/view-model/settings-parse';

const HOME = path.resolve('/home/sam');
const WS = path.resolve('/work/project');
const env = { homeDir: HOME, workspaceFolder: WS, userName: 'sam' };

function badSetting(fn: () => unknown, key: string, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof P2PError, `expected a P2PError, got ${String(err)}`);
    assert.equal(err.code, 'BAD_SETTING');
    assert.ok(err.message.includes(key), `"${err.message}" should name ${key}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe('ui settings: p2p.indexServer', () => {
  it('reads host:port, host alone, IPv6 in brackets and bare IPv6', () => {
    assert.deepEqual(parseIndexServer('10.0.0.5:7871'), { host: '10.0.0.5', port: 7871, text: '10.0.0.5:7871' });
    assert.deepEqual(parseIndexServer('index.example.org'), { host: 'index.example.org', port: 7870, text: 'index.example.org:7870' });
    assert.deepEqual(parseIndexServer('[::1]:9000'), { host: '::1', port: 9000, text: '[::1]:9000' });
    assert.deepEqual(parseIndexServer('::1'), { host: '::1', port: 7870, text: '[::1]:7870' });
    assert.deepEqual(parseIndexServer('  127.0.0.1:7870 '), { host: '127.0.0.1', port: 7870, text: '127.0.0.1:7870' });
  });

  it('uses the default for an empty value', () => {
    assert.equal(parseIndexServer('').text, SettingDefaults.indexServer);
  });

  it('refuses bad ports, schemes, bad hosts and non-text with a message naming the setting', () => {
    badSetting(() => parseIndexServer('host:0'), 'p2p.indexServer', /port/);
    badSetting(() => parseIndexServer('host:65536'), 'p2p.indexServer', /port/);
    badSetting(() => parseIndexServer('host:abc'), 'p2p.indexServer', /port/);
    badSetting(() => parseIndexServer('host:'), 'p2p.indexServer');
    badSetting(() => parseIndexServer('udp://host:7870'), 'p2p.indexServer', /scheme/);
    badSetting(() => parseIndexServer('300.1.1.1:7870'), 'p2p.indexServer');
    badSetting(() => parseIndexServer('a b:7870'), 'p2p.indexServer');
    badSetting(() => parseIndexServer(7870), 'p2p.indexServer', /text/);
  });

  it('gives the input box a live message, or none for a good address', () => {
    assert.equal(indexAddressProblem('127.0.0.1:7870'), undefined);
    assert.match(indexAddressProblem('127.0.0.1:99999') ?? '', /port/);
  });
});

describe('ui settings: p2p.peerName', () => {
  it('falls back to the OS user name when empty', () => {
    assert.equal(parsePeerName('', { userName: 'sam' }), 'sam');
    assert.equal(parsePeerName(undefined, { userName: 'kim' }), 'kim');
  });

  it('falls back to "peer" when the OS user name is unusable', () => {
    assert.equal(defaultPeerName(undefined), FALLBACK_PEER_NAME);
    assert.equal(defaultPeerName(''), FALLBACK_PEER_NAME);
    assert.equal(defaultPeerName(' sam\u0007 '), 'sam');
  });

  it('keeps a valid name and refuses one the protocol refuses', () => {
    assert.equal(parsePeerName('Sam Smith', env), 'Sam Smith');
    badSetting(() => parsePeerName(' sam', env), 'p2p.peerName', /white space/);
    badSetting(() => parsePeerName('a\nb', env), 'p2p.peerName', /control/);
    badSetting(() => parsePeerName('x'.repeat(256), env), 'p2p.peerName', /255/);
    badSetting(() => parsePeerName(42, env), 'p2p.peerName', /text/);
  });

  it('validates live for the input box', () => {
    assert.equal(peerNameProblem('sam'), undefined);
    assert.match(peerNameProblem('') ?? '', /empty/);
  });
});

describe('ui settings: numbers and switches', () => {
  it('reads p2p.listenPort from 0 to 65535', () => {
    assert.equal(parseListenPort(0), 0);
    assert.equal(parseListenPort(65535), 65535);
    assert.equal(parseListenPort('7000'), 7000);
    badSetting(() => parseListenPort(-1), 'p2p.listenPort', /0 to 65535/);
    badSetting(() => parseListenPort(65536), 'p2p.listenPort');
    badSetting(() => parseListenPort(80.5), 'p2p.listenPort');
    badSetting(() => parseListenPort('80x'), 'p2p.listenPort');
  });

  it('holds p2p.refreshIntervalSeconds to at least 2 seconds', () => {
    assert.equal(parseRefreshInterval(2), 2);
    assert.equal(parseRefreshInterval(undefined), 10);
    badSetting(() => parseRefreshInterval(1), 'p2p.refreshIntervalSeconds', /from 2/);
    badSetting(() => parseRefreshInterval(0), 'p2p.refreshIntervalSeconds');
    badSetting(() => parseRefreshInterval(2.5), 'p2p.refreshIntervalSeconds');
    badSetting(() => parseRefreshInterval(10_000_000), 'p2p.refreshIntervalSeconds');
  });

  it('reads p2p.shareDownloads as a boolean', () => {
    assert.equal(parseShareDownloads(false), false);
    assert.equal(parseShareDownloads(undefined), true);
    badSetting(() => parseShareDownloads('yes'), 'p2p.shareDownloads');
  });
});

describe('ui settings: p2p.downloadFolder', () => {
  it('defaults to ~/Downloads/P2P Share', () => {
    assert.equal(parseDownloadFolder('', env), path.join(HOME, 'Downloads', 'P2P Share'));
    assert.equal(parseDownloadFolder('  ', env), path.join(HOME, 'Downloads', 'P2P Share'));
  });

  it('expands ~ to the home folder', () => {
    assert.equal(parseDownloadFolder('~', env), HOME);
    assert.equal(parseDownloadFolder('~/in', env), path.join(HOME, 'in'));
    assert.equal(parseDownloadFolder('~\\in', env), path.join(HOME, 'in'));
  });

  it('resolves relative paths against the first workspace folder, else the home folder', () => {
    assert.equal(parseDownloadFolder('downloads', env), path.join(WS, 'downloads'));
    assert.equal(parseDownloadFolder('../x', env), path.resolve(WS, '../x'));
    assert.equal(parseDownloadFolder('downloads', { homeDir: HOME }), path.join(HOME, 'downloads'));
  });

  it('keeps absolute paths, normalised', () => {
    const abs = path.resolve('/data/p2p/../in');
    assert.equal(parseDownloadFolder(abs, env), path.normalize(abs));
  });

  it('refuses ~user, NUL and non-text', () => {
    badSetting(() => parseDownloadFolder('~bob/x', env), 'p2p.downloadFolder', /~user/);
    badSetting(() => parseDownloadFolder('a\u0000b', env), 'p2p.downloadFolder', /NUL/);
    badSetting(() => parseDownloadFolder(3, env), 'p2p.downloadFolder');
  });
});

describe('ui settings: all at once', () => {
  it('gives the defaults for an empty configuration', () => {
    const { settings, problems } = parseSettings({}, env);
    assert.deepEqual(problems, []);
    assert.deepEqual(settings, defaultSettings(env));
    assert.equal(settings.peerName, 'sam');
    assert.equal(settings.indexServer.text, '127.0.0.1:7870');
    assert.equal(settings.refreshIntervalSeconds, 10);
    assert.equal(settings.listenPort, 0);
    assert.equal(settings.shareDownloads, true);
  });

  it('keeps the last good value of a bad setting and reports it, the rest still applies', () => {
    const first = parseSettings({ indexServer: '10.0.0.1:7000', refreshIntervalSeconds: 5 }, env).settings;
    const { settings, problems } = parseSettings({ indexServer: 'host:99999', refreshIntervalSeconds: 1, listenPort: 4000 }, env, first);
    assert.equal(settings.indexServer.text, '10.0.0.1:7000');
    assert.equal(settings.refreshIntervalSeconds, 5);
    assert.equal(settings.listenPort, 4000);
    assert.deepEqual(problems.map((p) => p.key).sort(), ['p2p.indexServer', 'p2p.refreshIntervalSeconds']);
    for (const p of problems) assert.equal(p.error.code, 'BAD_SETTING');
  });
});

describe('ui settings: p2p.indexServer as a list', () => {
  it('takes a comma-separated list; a bad, repeated or 1000-long list is refused naming why, and the last good list stays', () => {
    const good = parseSettings({ indexServer: '10.0.0.1:7000, 10.0.0.2:7000' }, env).settings;
    assert.equal(good.indexServer.text, '10.0.0.1:7000,10.0.0.2:7000');
    assert.deepEqual([good.indexServer.host, good.indexServer.port], ['10.0.0.1', 7000], 'the first is the one tried first');
    const thousand = Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255}:7870`).join(',');
    for (const [raw, why] of [
      ['10.0.0.1:7000,not valid,10.0.0.3:1', /p2p\.indexServer, entry 2 "not valid"/],
      ['10.0.0.1:7000,10.0.0.1:7000', /entry 2 "10\.0\.0\.1:7000" repeats entry 1/],
      [thousand, /names 1000 index servers; at most 8/],
      ['10.0.0.1:7000,', /entry 2 of 2 is empty/],
    ] as const) {
      const { settings, problems } = parseSettings({ indexServer: raw }, env, good);
      assert.equal(settings.indexServer.text, '10.0.0.1:7000,10.0.0.2:7000', `kept after ${raw.slice(0, 40)}`);
      assert.equal(problems.length, 1);
      assert.match(problems[0].error.message, why);
    }
  });
});

describe('ui settings: local index server port', () => {
  it('takes the configured port when the configured index is on this machine', () => {
    assert.equal(localServerPort({ host: '127.0.0.1', port: 7999 }), 7999);
    assert.equal(localServerPort({ host: 'localhost', port: 7001 }), 7001);
    assert.equal(localServerPort({ host: '::1', port: 7002 }), 7002);
  });

  it('takes 7870 when the configured index is elsewhere', () => {
    assert.equal(localServerPort({ host: '10.0.0.1', port: 7999 }), 7870);
  });

  it('prefers an explicit port, 0 meaning any free port', () => {
    assert.equal(localServerPort({ host: '10.0.0.1', port: 7999 }, 0), 0);
    assert.equal(localServerPort({ host: '127.0.0.1', port: 7999 }, '7100'), 7100);
    assert.throws(() => localServerPort({ host: '127.0.0.1', port: 1 }, 70000), /0 to 65535/);
  });

  it('knows loopback names', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', 'app.localhost']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['10.0.0.1', '0.0.0.0', 'example.org', '::']) assert.ok(!isLoopbackHost(h), h);
  });
});
