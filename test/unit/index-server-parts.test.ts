// The index server's building blocks on their own: cookies, reply cache, rate buckets, classic addresses, logger.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { P2PError } from '../../src/protocol';
import { classicPort } from '../../src/server/classic-address';
import { COOKIE_WINDOW_SECONDS, CookieJar } from '../../src/server/cookies';
import { normalizeIp } from '../../src/server/index-server';
import { createLogger, parseLogLevel } from '../../src/server/log';
import { RateLimiter } from '../../src/server/rate-limiter';
import { sourceKey } from '../../src/protocol/address-text';
import { ReplyCache, requestFingerprint } from '../../src/server/reply-cache';
import { ManualClock } from '../support/index-server';

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof P2PError, `not a P2PError: ${err}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('index server parts', function () {
  describe('CookieJar', function () {
    it('ties a cookie to the address, port and window, and to the key', function () {
      const clock = new ManualClock();
      const key = randomBytes(32);
      const jar = new CookieJar(clock.now, key);
      const c = jar.issue('127.0.0.1', 5000);
      assert.equal(c.length, 16);
      assert.ok(jar.verify(c, '127.0.0.1', 5000));
      assert.ok(!jar.verify(c, '127.0.0.1', 5001));
      assert.ok(!jar.verify(c, '127.0.0.2', 5000));
      assert.ok(!new CookieJar(clock.now).verify(c, '127.0.0.1', 5000), 'another key');
      assert.ok(new CookieJar(clock.now, key).verify(c, '127.0.0.1', 5000), 'the same key');
      assert.ok(!jar.verify(c.subarray(0, 15), '127.0.0.1', 5000));
    });

    it('accepts the previous window and refuses older ones', function () {
      const clock = new ManualClock();
      const jar = new CookieJar(clock.now);
      const c = jar.issue('::1', 7);
      clock.advance(COOKIE_WINDOW_SECONDS * 1000 - 1);
      assert.ok(jar.verify(c, '::1', 7));
      clock.advance(1);
      assert.ok(jar.verify(c, '::1', 7), 'previous window');
      clock.advance(COOKIE_WINDOW_SECONDS * 1000);
      assert.ok(!jar.verify(c, '::1', 7), 'two windows later');
    });

    it('treats an IPv4-mapped address and its IPv4 form as one source', function () {
      const jar = new CookieJar();
      assert.ok(jar.verify(jar.issue('10.0.0.1', 9), '::ffff:10.0.0.1', 9));
      assert.equal(normalizeIp('::ffff:10.0.0.1'), '10.0.0.1');
      assert.equal(normalizeIp('::1'), '::1');
    });
  });

  describe('ReplyCache', function () {
    it('returns a reply for the same source, port, id and request, until it expires', function () {
      const clock = new ManualClock();
      const cache = new ReplyCache({ now: clock.now });
      const reply = Buffer.from('reply');
      cache.set('1.2.3.4', 5, 6, 99, reply);
      assert.deepEqual(cache.get('1.2.3.4', 5, 6, 99), reply);
      assert.equal(cache.get('1.2.3.4', 5, 6, 98), undefined, 'another request under the same id');
      assert.equal(cache.get('1.2.3.4', 7, 6, 99), undefined);
      assert.equal(cache.get('1.2.3.5', 5, 6, 99), undefined);
      clock.advance(30_000);
      assert.equal(cache.get('1.2.3.4', 5, 6, 99), undefined);
      assert.equal(cache.sweep(), 1);
      assert.equal(cache.size, 0);
      assert.equal(cache.byteSize, 0);
    });

    it('stays within its byte budget by evicting the oldest replies', function () {
      const cache = new ReplyCache({ maxBytes: 20_000 });
      for (let i = 0; i < 1000; i++) cache.set('10.0.0.1', 1000, i, 0, Buffer.alloc(1200));
      assert.ok(cache.byteSize <= 20_000, `${cache.byteSize} bytes`);
      assert.ok(cache.size >= 10 && cache.size < 20);
      assert.ok(cache.get('10.0.0.1', 1000, 999, 0), 'the newest is kept');
      assert.equal(cache.get('10.0.0.1', 1000, 0, 0), undefined, 'the oldest is gone');
    });

    it('keeps a copy of each reply, so the buffer it was given can be reused', function () {
      const cache = new ReplyCache();
      const reply = Buffer.from('A short reply');
      cache.set('1.2.3.4', 5, 6, 0, reply);
      reply.fill(0);
      assert.equal(cache.get('1.2.3.4', 5, 6, 0)!.toString(), 'A short reply');
    });

    it('keeps a reply that was set again for its full time, whatever its first setting left behind', function () {
      const clock = new ManualClock();
      const cache = new ReplyCache({ now: clock.now });
      cache.set('1.2.3.4', 5, 1, 0, Buffer.from('first'));
      cache.set('1.2.3.4', 5, 2, 0, Buffer.from('other'));
      clock.advance(20_000);
      cache.set('1.2.3.4', 5, 1, 0, Buffer.from('again'));
      clock.advance(10_000);
      assert.equal(cache.sweep(), 1, 'only the untouched reply has expired');
      assert.deepEqual(cache.get('1.2.3.4', 5, 1, 0), Buffer.from('again'));
      clock.advance(20_000);
      assert.equal(cache.sweep(), 1);
      assert.equal(cache.size, 0);
      assert.equal(cache.byteSize, 0);
    });

    it('evicts in insertion order once full, keeping within its byte bound', function () {
      const cache = new ReplyCache({ maxBytes: 64 * 1024 });
      const reply = Buffer.alloc(70);
      for (let i = 0; i < 300_000; i++) cache.set('10.0.0.1', 1000, i, 0, reply);
      assert.ok(cache.byteSize <= 64 * 1024);
      assert.ok(cache.get('10.0.0.1', 1000, 299_999, 0));
      assert.equal(cache.get('10.0.0.1', 1000, 299_000 - cache.size, 0), undefined);
    });

    it('fingerprints a request without its cookie bytes', function () {
      const a = Buffer.from('R\x81\0\0\0\x01COOKIECOOKIECOOKbody');
      const b = Buffer.from(a);
      b.write('XXXXXXXXXXXXXXXX', 6);
      const c = Buffer.from(a);
      c.write('Body', 22);
      assert.equal(requestFingerprint(a, 6, 22), requestFingerprint(b, 6, 22));
      assert.notEqual(requestFingerprint(a, 6, 22), requestFingerprint(c, 6, 22));
    });
  });

  describe('RateLimiter', function () {
    it('allows the burst, refills at the rate and gives one notice a second', function () {
      const clock = new ManualClock();
      const rl = new RateLimiter({ perSecond: 10, burst: 2, now: clock.now });
      assert.deepEqual([rl.take('1.1.1.1'), rl.take('1.1.1.1'), rl.take('1.1.1.1'), rl.take('1.1.1.1')], ['ok', 'ok', 'notify', 'drop']);
      assert.equal(rl.take('2.2.2.2'), 'ok');
      clock.advance(100);
      assert.deepEqual([rl.take('1.1.1.1'), rl.take('1.1.1.1')], ['ok', 'drop']);
      clock.advance(900);
      assert.equal(rl.take('1.1.1.1'), 'ok');
    });

    it('keeps one bucket per IPv6 /64, so rotating addresses in a /64 does not escape the limit', function () {
      assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), sourceKey('2001:db8:1:2:bbbb::2'));
      assert.notEqual(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:3::1'));
      assert.equal(sourceKey('::1'), '0:0:0:0');
      assert.equal(sourceKey('10.1.2.3'), '10.1.2.3');
      assert.equal(sourceKey('::ffff:10.1.2.3'), '10.1.2.3', 'an IPv4 client of a dual-stack socket is its own address');
      const clock = new ManualClock();
      const rl = new RateLimiter({ perSecond: 1, burst: 1, now: clock.now });
      assert.equal(rl.take('2001:db8:1:2::1'), 'ok');
      assert.equal(rl.take('2001:db8:1:2::99'), 'notify');
    });

    it('bounds its memory: sources beyond maxSources share one bucket, and refilled buckets are swept', function () {
      const clock = new ManualClock();
      const rl = new RateLimiter({ perSecond: 1, burst: 1, maxSources: 100, now: clock.now });
      for (let i = 0; i < 100; i++) assert.equal(rl.take(`10.0.${i >> 8}.${i & 255}`), 'ok');
      assert.equal(rl.take('10.9.9.9'), 'ok', 'the overflow bucket has its own burst');
      assert.equal(rl.take('10.9.9.8'), 'notify', 'and it is shared');
      assert.equal(rl.size, 100);
      clock.advance(999);
      assert.equal(rl.sweep(), 0, 'not refilled yet');
      clock.advance(1);
      assert.equal(rl.sweep(), 100);
      assert.equal(rl.size, 0);
    });
  });

  describe('classicPort', function () {
    it('reads "port", "host:port" with the source host or a wildcard, and bracketed IPv6', function () {
      assert.equal(classicPort('5000', '127.0.0.1'), 5000);
      assert.equal(classicPort('127.0.0.1:5001', '127.0.0.1'), 5001);
      assert.equal(classicPort('0.0.0.0:5002', '10.0.0.9'), 5002);
      assert.equal(classicPort(':5003', '10.0.0.9'), 5003);
      assert.equal(classicPort('[::1]:5004', '::1'), 5004);
      assert.equal(classicPort('::ffff:127.0.0.1:5005', '127.0.0.1'), 5005);
    });

    it('refuses another host, a bad port and text that is not an address, with BAD_ADDRESS', function () {
      throwsCode(() => classicPort('127.0.0.2:5000', '127.0.0.1'), 'BAD_ADDRESS', /names 127\.0\.0\.2/);
      throwsCode(() => classicPort('0', '127.0.0.1'), 'BAD_ADDRESS', /1\.\.65535/);
      throwsCode(() => classicPort('65536', '127.0.0.1'), 'BAD_ADDRESS');
      throwsCode(() => classicPort('', '127.0.0.1'), 'BAD_ADDRESS', /no port/);
      throwsCode(() => classicPort('example.com:80', '127.0.0.1'), 'BAD_ADDRESS', /not an IP/);
      throwsCode(() => classicPort('127.0.0.1:http', '127.0.0.1'), 'BAD_ADDRESS');
    });
  });

  describe('logger', function () {
    it('writes "time level message" lines at or above its level, with control characters escaped', function () {
      const lines: string[] = [];
      const log = createLogger({ level: 'info', write: (l) => lines.push(l), now: () => Date.UTC(2026, 10, 24, 6) });
      log('info', 'R sam Text.txt from 127.0.0.1:41234 -> A');
      log('debug', 'not shown');
      log('error', 'two\nlines');
      assert.deepEqual(lines, [
        '2026-11-24T06:00:00.000Z info  R sam Text.txt from 127.0.0.1:41234 -> A\n',
        '2026-11-24T06:00:00.000Z error two\\x0alines\n',
      ]);
    });

    it('parses level names and refuses others with BAD_SETTING', function () {
      assert.equal(parseLogLevel(' DEBUG '), 'debug');
      throwsCode(() => parseLogLevel('verbose'), 'BAD_SETTING', /error, warn, info, debug/);
    });
  });
});
