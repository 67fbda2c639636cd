// The version rule shared by downloads and the Online Content view: group by (hash, size), most sources wins.
import * as assert from 'node:assert/strict';
import type { OnlineItem } from '../../src/peer/api';
import { groupVersions, mostCommonVersion, rankVersions, versionKey } from '../../src/peer/versions';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);
const H3 = 'c'.repeat(64);

function item(peerName: string, sha256: string, size = 10, port = 5000): OnlineItem {
  return { peerName, contentName: 'v.txt', host: '10.0.0.1', port, size, sha256 };
}

describe('versions', () => {
  it('groups sources by hash and size, in the order each version first appears, sources in the order given', () => {
    const groups = groupVersions([item('a', H2), item('b', H1), item('c', H2), item('d', H2, 11)]);
    assert.deepEqual(
      groups.map((g) => [g.sha256, g.size, g.count, g.sources.map((s) => s.peerName)]),
      [
        [H2, 10, 2, ['a', 'c']],
        [H1, 10, 1, ['b']],
        [H2, 11, 1, ['d']],
      ],
    );
  });

  it('picks the version most sources have', () => {
    const best = mostCommonVersion([item('a', H1), item('b', H2), item('c', H2)]);
    assert.equal(best?.sha256, H2);
    assert.deepEqual(best?.sources.map((s) => s.peerName), ['b', 'c']);
  });

  it('breaks a tie by the lower hash, then the smaller size, whatever order the sources come in', () => {
    const tie = [item('a', H3), item('b', H1, 20), item('c', H2), item('d', H1, 5)];
    for (const order of [tie, [...tie].reverse(), [tie[2], tie[0], tie[3], tie[1]]]) {
      assert.deepEqual(
        rankVersions(order).map((v) => versionKey(v)),
        [`${H1}/5`, `${H1}/20`, `${H2}/10`, `${H3}/10`],
      );
    }
  });

  it('counts each peer once per version', () => {
    const best = mostCommonVersion([item('a', H1, 10, 1), item('a', H1, 10, 2), item('b', H2), item('c', H2)]);
    assert.equal(best?.sha256, H2);
    assert.equal(groupVersions([item('a', H1, 10, 1), item('a', H1, 10, 2)])[0].count, 1);
  });

  it('has no version without sources', () => {
    assert.equal(mostCommonVersion([]), undefined);
    assert.deepEqual(rankVersions([]), []);
  });
});
