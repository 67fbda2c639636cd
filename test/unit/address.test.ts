// Index server address text: what parses, what is refused with BAD_SETTING, and that formatting round-trips.
import * as assert from 'node:assert/strict';
import { DEFAULT_INDEX_PORT, formatAddress, parseAddress } from '../../src/peer/address';
import { P2PError } from '../../src/protocol/errors';

function refused(input: unknown, mentions: RegExp): void {
  assert.throws(
    () => parseAddress(input as string),
    (err: unknown) => err instanceof P2PError && err.code === 'BAD_SETTING' && mentions.test(err.message),
    `expected BAD_SETTING matching ${mentions} for ${JSON.stringify(input)}`,
  );
}

describe('index server address', () => {
  describe('parsing text', () => {
    it('reads an IPv4 address with a port', () => {
      assert.deepEqual(parseAddress('127.0.0.1:7871'), { host: '127.0.0.1', port: 7871 });
    });

    it('uses port 7870 when the text names none', () => {
      assert.equal(DEFAULT_INDEX_PORT, 7870);
      assert.deepEqual(parseAddress('10.1.2.3'), { host: '10.1.2.3', port: 7870 });
      assert.deepEqual(parseAddress('index.example.org'), { host: 'index.example.org', port: 7870 });
    });

    it('uses a caller-chosen default port', () => {
      assert.deepEqual(parseAddress('localhost', { defaultPort: 9000 }), { host: 'localhost', port: 9000 });
    });

    it('reads a bracketed IPv6 address with and without a port', () => {
      assert.deepEqual(parseAddress('[::1]:7870'), { host: '::1', port: 7870 });
      assert.deepEqual(parseAddress('[2001:db8::5]'), { host: '2001:db8::5', port: 7870 });
    });

    it('reads a bare IPv6 address as a host on the default port', () => {
      assert.deepEqual(parseAddress('::1'), { host: '::1', port: 7870 });
      assert.deepEqual(parseAddress('fe80::1%eth0'), { host: 'fe80::1%eth0', port: 7870 });
    });

    it('ignores white space around the text', () => {
      assert.deepEqual(parseAddress('  localhost:1234 \n'), { host: 'localhost', port: 1234 });
    });

    it('accepts a {host, port} object and checks it', () => {
      assert.deepEqual(parseAddress({ host: '::1', port: 1 }), { host: '::1', port: 1 });
      assert.deepEqual(parseAddress({ host: '[::1]', port: 65535 }), { host: '::1', port: 65535 });
      assert.throws(() => parseAddress({ host: '127.0.0.1', port: 0 }), /BAD_SETTING|Invalid setting/);
    });
  });

  describe('refusing bad text with BAD_SETTING', () => {
    it('refuses empty text', () => refused('   ', /empty/));
    it('refuses a port of 0', () => refused('127.0.0.1:0', /1 to 65535.*"0"/));
    it('refuses a port above 65535', () => refused('127.0.0.1:65536', /1 to 65535.*"65536"/));
    it('refuses a port that is not a number', () => refused('host:http', /1 to 65535.*"http"/));
    it('refuses an empty port', () => refused('host:', /1 to 65535/));
    it('refuses an empty host', () => refused(':7870', /host is empty/));
    it('refuses an IPv6 address with a port but no brackets', () => refused('::1:7870:x', /brackets.*\[::1\]:7870/));
    it('refuses brackets around something that is not IPv6', () => refused('[localhost]:7870', /not a valid IPv6/));
    it('refuses a URL', () => refused('udp://127.0.0.1:7870', /scheme/));
    it('refuses white space inside', () => refused('my host:7870', /white space/));
    it('refuses a broken IPv4 address', () => refused('256.1.1.1', /not a valid IPv4/));
    it('refuses a host name with bad characters', () => refused('bad_host!:7870', /neither an IP address nor a host name/));
    it('refuses something that is not text', () => refused(42, /expected text/));
    it('names what the address is for', () => {
      assert.throws(() => parseAddress('x:0', { what: '--index' }), /--index: the port/);
    });
  });

  describe('formatting', () => {
    it('writes IPv4 and host names as host:port', () => {
      assert.equal(formatAddress({ host: '127.0.0.1', port: 7870 }), '127.0.0.1:7870');
      assert.equal(formatAddress({ host: 'localhost', port: 1 }), 'localhost:1');
    });

    it('writes IPv6 in brackets so the text parses back to the same address', () => {
      const text = formatAddress({ host: '::1', port: 7871 });
      assert.equal(text, '[::1]:7871');
      assert.deepEqual(parseAddress(text), { host: '::1', port: 7871 });
    });
  });
});
