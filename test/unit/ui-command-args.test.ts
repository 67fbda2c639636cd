// Arguments of p2p.download, p2p.deregisterFile and p2p.registerFile from tree rows, menus, keybindings and tests.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { P2PError } from '../../src/protocol/errors';
import { contentNameFrom, downloadTargetFrom, registerPathsFrom } from '../../src/extension/view-model/command-args';
import { CLASSIC_SHA256_HEX as CLASSIC_SHA256 } from '../../src/protocol/classic';
import { buildOnlineTree, buildShareRows } from '../../src/extension/view-model/tree-model';

const H = 'c'.repeat(64);

function code(fn: () => unknown, expected: string): void {
  assert.throws(fn, (e: unknown) => e instanceof P2PError && e.code === expected);
}

describe('ui command arguments: download', () => {
  const [content] = buildOnlineTree([{ peerName: 'sam', contentName: 'x.txt', host: '1.2.3.4', port: 5, size: 3, sha256: H }], 'me');
  const [classic] = buildOnlineTree([{ peerName: 'old', contentName: 'c.txt', host: '1.2.3.4', port: 5, size: 0, sha256: CLASSIC_SHA256 }], 'me');

  it('asks the user when there is no argument', () => {
    assert.equal(downloadTargetFrom(undefined), undefined);
  });

  it('takes a content name', () => {
    assert.deepEqual(downloadTargetFrom('x.txt'), { contentName: 'x.txt' });
  });

  it('takes a content row (its main version) and a source row (that peer, that version)', () => {
    assert.deepEqual(downloadTargetFrom(content), { contentName: 'x.txt', sha256: H });
    assert.deepEqual(downloadTargetFrom(content.sources[0]), { contentName: 'x.txt', fromPeer: 'sam', sha256: H });
  });

  it('takes {contentName, fromPeer, sha256}, normalising the hash', () => {
    assert.deepEqual(downloadTargetFrom({ contentName: 'x.txt', fromPeer: 'sam', sha256: H.toUpperCase() }), {
      contentName: 'x.txt',
      fromPeer: 'sam',
      sha256: H,
    });
    assert.deepEqual(downloadTargetFrom({ contentName: 'x.txt' }), { contentName: 'x.txt', fromPeer: undefined, sha256: undefined });
  });

  it('refuses classic rows: there is no hash to check the bytes against', () => {
    code(() => downloadTargetFrom(classic), 'NO_SOURCES');
    code(() => downloadTargetFrom(classic.sources[0]), 'NO_SOURCES');
    code(() => downloadTargetFrom({ contentName: 'c.txt', sha256: CLASSIC_SHA256 }), 'NO_SOURCES');
  });

  it('refuses bad names, bad hashes and other shapes', () => {
    code(() => downloadTargetFrom('../etc/passwd'), 'BAD_NAME');
    code(() => downloadTargetFrom({ contentName: 'x', sha256: 'abc' }), 'BAD_COMMAND');
    code(() => downloadTargetFrom({ contentName: 5 }), 'BAD_COMMAND');
    code(() => downloadTargetFrom(42), 'BAD_COMMAND');
  });
});

describe('ui command arguments: de-register', () => {
  it('takes a share row or a content name', () => {
    const [row] = buildShareRows([{ contentName: 'a.txt', path: '/x/a.txt', size: 1, sha256: H, registeredAt: new Date() }]);
    assert.equal(contentNameFrom(row), 'a.txt');
    assert.equal(contentNameFrom('a.txt'), 'a.txt');
    assert.equal(contentNameFrom(undefined), undefined);
    code(() => contentNameFrom(3), 'BAD_COMMAND');
  });
});

describe('ui command arguments: register', () => {
  const file = path.resolve('/tmp/a.txt');
  const uri = (fsPath: string, scheme = 'file') => ({ scheme, fsPath, toString: () => `${scheme}://${fsPath}` });

  it('asks the user when there is no argument', () => {
    assert.equal(registerPathsFrom([]), undefined);
    assert.equal(registerPathsFrom([undefined]), undefined);
  });

  it('takes an absolute path, a file URL and a file Uri', () => {
    assert.deepEqual(registerPathsFrom([file]), [file]);
    assert.deepEqual(registerPathsFrom([pathToFileURL(file).href]), [file]);
    assert.deepEqual(registerPathsFrom([uri(file)]), [file]);
  });

  it('takes every file of an explorer multi-selection, once each', () => {
    const b = path.resolve('/tmp/b.txt');
    assert.deepEqual(registerPathsFrom([uri(file), [uri(file), uri(b), uri(b)]]), [file, b]);
  });

  it('refuses relative paths and files that are not on this disk', () => {
    code(() => registerPathsFrom(['a.txt']), 'BAD_PATH');
    code(() => registerPathsFrom([uri('/a.txt', 'vscode-remote')]), 'BAD_PATH');
    code(() => registerPathsFrom([{}]), 'BAD_COMMAND');
  });
});
