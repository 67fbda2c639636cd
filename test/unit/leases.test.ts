// Leases: refresh at a third of the lease, quick retries while lapsed, pause, drop and close, with real timers.
import * as assert from 'node:assert/strict';
import { Leases, LeasesOptions } from '../../src/peer/leases';
import { waitUntil } from '../support/peers';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A lease whose third is the 200 ms floor, so tests stay short. */
const SHORT_LEASE_S = 0.6;

interface Renewal {
  key: string;
  at: number;
  signal: AbortSignal;
  resolve: (leaseSeconds: number) => void;
  reject: (err: unknown) => void;
}

/** Leases whose renewals wait for the test to answer them. */
function harness(overrides: Partial<LeasesOptions> = {}) {
  const renewals: Renewal[] = [];
  const failures: Array<[string, unknown]> = [];
  const back: string[] = [];
  const leases = new Leases({
    renew: (key, signal) =>
      new Promise<number>((resolve, reject) => {
        // As an index request does: an abort ends it.
        signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true });
        renewals.push({ key, at: Date.now(), signal, resolve, reject });
      }),
    onRenewFailed: (key, err) => failures.push([key, err]),
    onRegisteredAgain: (key) => back.push(key),
    ...overrides,
  });
  return { leases, renewals, failures, back };
}

describe('Leases', () => {
  const open: Leases[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((l) => l.close()));
  });
  function start(overrides: Partial<LeasesOptions> = {}) {
    const h = harness(overrides);
    open.push(h.leases);
    return h;
  }

  it('renews at a third of the lease, again and again', async () => {
    const { leases, renewals } = start();
    const from = Date.now();
    leases.renewed('a', 0.9);
    await waitUntil(() => renewals.length === 1, 'the first renewal');
    const waited = renewals[0].at - from;
    assert.ok(waited >= 250, `renewed after ${waited} ms, expected about 300`);
    renewals[0].resolve(SHORT_LEASE_S);
    await waitUntil(() => renewals.length === 2, 'a second renewal', 5000);
    renewals[1].resolve(SHORT_LEASE_S);
    await waitUntil(() => renewals.length === 3, 'a third renewal', 5000);
    assert.deepEqual(renewals.map((r) => r.key), ['a', 'a', 'a']);
    assert.equal(leases.anyRegistered(), true);
  });

  it('never renews a lease of 0, which does not expire', async () => {
    const { leases, renewals } = start();
    leases.renewed('a', 0);
    await sleep(400);
    assert.equal(renewals.length, 0);
    assert.equal(leases.anyRegistered(), true);
  });

  it('reports a failed renewal, retries, and says when the registration is back', async () => {
    const { leases, renewals, failures, back } = start();
    leases.renewed('a', SHORT_LEASE_S);
    await waitUntil(() => renewals.length === 1, 'the first renewal');
    const err = new Error('no answer');
    renewals[0].reject(err);
    await waitUntil(() => renewals.length === 2, 'a retry');
    assert.deepEqual(failures, [['a', err]]);
    assert.equal(leases.anyRegistered(), false);
    renewals[1].resolve(SHORT_LEASE_S);
    await waitUntil(() => back.length === 1, 'registered again');
    assert.deepEqual(back, ['a']);
    assert.equal(leases.anyRegistered(), true);
  });

  it('stops renewing a registration with nothing left to renew', async () => {
    const { leases, failures } = start({ renew: () => undefined });
    leases.renewed('a', SHORT_LEASE_S);
    await sleep(500);
    assert.deepEqual(failures, []);
    assert.equal(leases.anyRegistered(), true);
  });

  it('renews at once only the lapsed registrations when asked to retry', async () => {
    const { leases, renewals } = start();
    leases.renewed('held', 3600);
    leases.lapsed('gone');
    leases.retryLapsed();
    assert.deepEqual(renewals.map((r) => r.key), ['gone']);
    // One already in flight is not started twice.
    leases.retryLapsed();
    assert.equal(renewals.length, 1);
  });

  it('pauses: no renewal while paused, the one in flight aborted and not reported; resume starts them again', async () => {
    const { leases, renewals, failures } = start();
    leases.renewed('a', SHORT_LEASE_S);
    await waitUntil(() => renewals.length === 1, 'the first renewal');
    const paused = leases.pause();
    assert.equal(renewals[0].signal.aborted, true);
    await paused;
    leases.renewed('b', SHORT_LEASE_S);
    await sleep(400);
    assert.equal(renewals.length, 1);
    assert.deepEqual(failures, []);
    leases.resume();
    await waitUntil(() => renewals.length === 3, 'both renewed after resume');
    assert.deepEqual(renewals.slice(1).map((r) => r.key).sort(), ['a', 'b']);
  });

  it('drops a registration: its renewal in flight is aborted and it is never renewed again', async () => {
    const { leases, renewals } = start();
    leases.renewed('a', SHORT_LEASE_S);
    await waitUntil(() => renewals.length === 1, 'the first renewal');
    const dropped = leases.drop('a');
    assert.equal(renewals[0].signal.aborted, true);
    renewals[0].resolve(SHORT_LEASE_S);
    await dropped;
    await sleep(400);
    assert.equal(renewals.length, 1);
    assert.equal(leases.anyRegistered(), false);
  });

  it('closes: nothing is renewed or reported afterwards, but it still knows what was registered', async () => {
    const { leases, renewals, failures } = start();
    leases.renewed('a', SHORT_LEASE_S);
    leases.lapsed('b');
    await waitUntil(() => renewals.length === 1, 'the first renewal');
    const closed = leases.close();
    assert.equal(renewals[0].signal.aborted, true);
    await closed;
    leases.failed('b');
    leases.resume();
    leases.retryLapsed();
    await sleep(400);
    assert.equal(renewals.length, 1);
    assert.deepEqual(failures, []);
    assert.equal(leases.anyRegistered(), true);
  });
});
