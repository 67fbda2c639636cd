// The code-to-buttons mapping of error notifications, and the status bar text for each connection state.
import * as assert from 'node:assert/strict';
import { ErrorCode, ErrorCodes } from '../../src/protocol/errors';
import { ErrorAction, errorActions } from '../../src/extension/view-model/error-actions';
import { statusText } from '../../src/extension/view-model/status-text';

const ctx = { canRetry: true, localServerRunning: false };
const ids = (a: ErrorAction[]) => a.map((x) => x.id);

describe('ui error actions', () => {
  it('offers Retry, Start Local Index Server and Connect when the index does not answer', () => {
    assert.deepEqual(ids(errorActions('TIMEOUT', 'register', ctx)), ['retry', 'startLocalServer', 'connect', 'showLog']);
    assert.deepEqual(ids(errorActions('TIMEOUT', 'refresh', { ...ctx, localServerRunning: true })), ['retry', 'connect', 'showLog']);
  });

  it('offers the index setting when connecting failed', () => {
    const actions = errorActions('TIMEOUT', 'connect', ctx);
    assert.deepEqual(ids(actions), ['retry', 'startLocalServer', 'openSettings', 'showLog']);
    assert.equal(actions[2].setting, 'p2p.indexServer');
  });

  it('offers Set Peer Name on NAME_TAKEN', () => {
    assert.deepEqual(ids(errorActions('NAME_TAKEN', 'register', ctx)), ['setPeerName', 'showLog']);
    assert.deepEqual(ids(errorActions('NAME_TAKEN', 'peerName', ctx)), ['setPeerName', 'showLog']);
  });

  it('offers Retry for download failures another attempt may fix', () => {
    for (const code of ['SOURCE_GONE', 'NO_SOURCES', 'HASH_MISMATCH', 'STALLED', 'UNREACHABLE'] as const) {
      assert.deepEqual(ids(errorActions(code, 'download', ctx)), ['retry', 'showLog'], code);
    }
  });

  it('offers the download folder setting when the disk is full', () => {
    const actions = errorActions('DISK_FULL', 'download', ctx);
    assert.deepEqual(ids(actions), ['retry', 'openSettings', 'showLog']);
    assert.equal(actions[1].setting, 'p2p.downloadFolder');
  });

  it('offers Connect when the local server port is taken, and the listen port when the engine cannot start', () => {
    assert.deepEqual(ids(errorActions('ADDRESS_IN_USE', 'localServer', ctx)), ['connect', 'showLog']);
    const start = errorActions('ADDRESS_IN_USE', 'start', ctx);
    assert.deepEqual(ids(start), ['retry', 'openSettings', 'showLog']);
    assert.equal(start[1].setting, 'p2p.listenPort');
  });

  it('leaves Retry out when the call cannot run again', () => {
    assert.deepEqual(ids(errorActions('TIMEOUT', 'register', { ...ctx, canRetry: false })), ['startLocalServer', 'connect', 'showLog']);
  });

  it('offers Retry for a download of content nobody shares right now, and no Retry elsewhere for it', () => {
    assert.deepEqual(ids(errorActions('NOT_FOUND', 'download', ctx)), ['retry', 'showLog']);
    assert.deepEqual(ids(errorActions('NOT_FOUND', 'other', ctx)), ['showLog']);
  });

  it('offers Retry when the index asks to slow down, and another index when it is full or the peer is at its limit', () => {
    assert.deepEqual(ids(errorActions('RATE_LIMITED', 'register', ctx)), ['retry', 'showLog']);
    assert.deepEqual(ids(errorActions('RATE_LIMITED', 'download', ctx)), ['retry', 'showLog']);
    assert.deepEqual(ids(errorActions('PEER_LIMIT', 'register', ctx)), ['connect', 'showLog']);
    assert.deepEqual(ids(errorActions('INDEX_FULL', 'register', ctx)), ['connect', 'showLog']);
  });

  it('treats a refused cookie like an index that does not answer', () => {
    assert.deepEqual(ids(errorActions('BAD_COOKIE', 'refresh', ctx)), ids(errorActions('TIMEOUT', 'refresh', ctx)));
  });

  it('gives every code in every place a list without repeats, Retry only when possible, a setting with every Open Settings, Show Log last', () => {
    const ops = ['start', 'register', 'deregister', 'download', 'refresh', 'connect', 'peerName', 'localServer', 'other'] as const;
    for (const code of Object.keys(ErrorCodes) as ErrorCode[]) {
      for (const op of ops) {
        for (const canRetry of [true, false]) {
          const list = errorActions(code, op, { canRetry, localServerRunning: false });
          const where = `${code} during ${op}${canRetry ? '' : ' (no retry)'}`;
          if (code === 'CANCELLED') {
            assert.deepEqual(list, [], where);
            continue;
          }
          assert.equal(new Set(ids(list)).size, list.length, `${where}: ${ids(list)}`);
          assert.equal(list[list.length - 1].id, 'showLog', where);
          if (!canRetry) assert.ok(!ids(list).includes('retry'), where);
          for (const a of list) if (a.id === 'openSettings') assert.ok(a.setting, `${where}: Open Settings names no setting`);
        }
      }
    }
  });

  it('shows nothing for a cancellation and always ends other lists with Show Log', () => {
    assert.deepEqual(errorActions('CANCELLED', 'download', ctx), []);
    assert.deepEqual(ids(errorActions('FILE_NOT_FOUND', 'register', ctx)), ['showLog']);
    assert.deepEqual(ids(errorActions('BAD_SETTING', 'connect', ctx)), ['openSettings', 'showLog']);
  });
});

describe('ui status bar text', () => {
  it('shows peer name and share count when connected', () => {
    const s = statusText({ state: 'connected', peerName: 'sam', shareCount: 3, indexAddress: '127.0.0.1:7870', listenPort: 50123 });
    assert.equal(s.text, '$(radio-tower) sam · 3 shared');
    assert.equal(s.warning, false);
    assert.match(s.tooltip, /Index server: `127\.0\.0\.1:7870`/);
    assert.match(s.tooltip, /TCP port 50123/);
    assert.match(s.tooltip, /Sharing 3 files/);
  });

  it('shows offline with a warning when the index does not answer, and why', () => {
    const s = statusText({ state: 'unreachable', peerName: 'sam', shareCount: 0, reasonCode: 'TIMEOUT', detail: 'The index server did not answer: 127.0.0.1:7870' });
    assert.equal(s.text, '$(debug-disconnect) P2P offline: no answer');
    assert.equal(s.warning, true);
    assert.match(s.tooltip, /did not answer/);
  });

  it('shows connecting and stopped', () => {
    assert.equal(statusText({ state: 'connecting', shareCount: 0 }).text, '$(sync~spin) P2P connecting…');
    assert.equal(statusText({ state: 'stopped', shareCount: 0 }).text, '$(error) P2P stopped');
  });

  it('mentions a local index server', () => {
    assert.match(statusText({ state: 'connected', peerName: 'a', shareCount: 1, localServer: '127.0.0.1:7870' }).tooltip, /Local index server running on `127\.0\.0\.1:7870`/);
  });
});
