// The version rule shared by downloads and the Online Content view: group by (hash, size), most sources wins.
import * as assert from 'node:assert/strict';
import type { OnlineItem } from '../../src/peer/api';
import { chooseVersion, groupVersions, isHashPrefix, mostCommonVersion, rankVersions, versionKey } from '../../src/peer/versions';
import { isP2P } from '../support/p2p-error';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);
const H3 = 'c'.repeat(64);

/** One source; each peer name on a host of its own unless `host` says otherwise. */
function item(peerName: string, sha256: string, size = 10, port = 5000, host = `10.0.0.${peerName.charCodeAt(0)}`): OnlineItem {
  return { peerName, contentName: 'v.txt', host, port, size, sha256 };
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

  it('counts hosts, not peer names: three names from one machine are one vote', () => {
    const sybils = ['m1', 'm2', 'm3'].map((n) => item(n, H2, 10, 5000, '203.0.113.9'));
    const ranked = rankVersions([...sybils, item('honest', H1)]);
    assert.deepEqual(ranked.map((v) => [v.sha256, v.count, v.sources.length]), [[H1, 1, 1], [H2, 1, 3]]);
  });

  it('makes the user choose when versions disagree, and pins one by a hash prefix', () => {
    const both = [item('a', H1), item('b', H2)];
    assert.throws(() => chooseVersion('v.txt', both), isP2P('VERSIONS_DIFFER', /"v\.txt" has 2 versions: aaaaaaaaaaaa \(10 B, 1 host\); bbbbbbbbbbbb/));
    assert.equal(chooseVersion('v.txt', both, 'BBBBBBBB').sha256, H2);
    assert.equal(chooseVersion('v.txt', [item('a', H1), item('c', H1)]).count, 2);
    assert.throws(() => chooseVersion('v.txt', both, 'cccccccc'), isP2P('NOT_FOUND', /starting cccccccc/));
    assert.throws(() => chooseVersion('v.txt', [item('a', 'ab'.repeat(32)), item('b', 'ab'.repeat(31) + 'cd')], 'abababab'), isP2P('VERSIONS_DIFFER', /starts 2 versions/));
    assert.equal(isHashPrefix('abcd123'), false);
    assert.equal(isHashPrefix('abcd1234'), true);
    assert.equal(isHashPrefix('abcd123g'), false);
  });

  it('has no version without sources', () => {
    assert.equal(mostCommonVersion([]), undefined);
    assert.deepEqual(rankVersions([]), []);
  });
});
