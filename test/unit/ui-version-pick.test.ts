// The download's version picker: what the user is asked when peers share different files under one name.
import * as assert from 'node:assert/strict';
import type { OnlineItem } from '../../src/peer/api';
import { versionChoices } from '../../src/extension/view-model/version-pick';
import { downloadTargetFrom } from '../../src/extension/view-model/command-args';
import { buildOnlineTree } from '../../src/extension/view-model/tree-model';

const HONEST = '3fa2b9c1'.repeat(8);
const FORGED = '0f0f0f0f'.repeat(8);

function at(peerName: string, host: string, sha256: string, size = 2048): OnlineItem {
  return { peerName, contentName: 'report.pdf', host, port: 4000, size, sha256 };
}

describe('ui: choosing a version', () => {
  const listed = [at('m1', '203.0.113.9', FORGED), at('m2', '203.0.113.9', FORGED), at('m3', '203.0.113.9', FORGED), at('author', '198.51.100.7', HONEST), at('me', '192.0.2.1', HONEST)];

  it('offers each version with its hash prefix, size and hosts (names made up on one host count once), never the own share', () => {
    assert.deepEqual(versionChoices(listed, 'me'), [
      { label: '0f0f0f0f0f0f', description: '2.0 KiB · 1 host · 3 sources', detail: `SHA-256 ${FORGED}, 2,048 bytes`, sha256: FORGED },
      { label: '3fa2b9c13fa2', description: '2.0 KiB · 1 host · 1 source', detail: `SHA-256 ${HONEST}, 2,048 bytes`, sha256: HONEST },
    ]);
  });

  it('has nothing to ask when one version is left, as for a download from one peer', () => {
    assert.equal(versionChoices(listed, 'me', 'author').length, 1);
  });

  it('a click on a content row with several versions leaves the choice to the picker', () => {
    const row = buildOnlineTree(listed, 'me').find((r) => r.contentName === 'report.pdf')!;
    assert.equal(row.versions, 2);
    assert.deepEqual(downloadTargetFrom(row), { contentName: 'report.pdf', sha256: undefined });
  });
});
