// The Online Content and My Shares rows built from engine lists: grouping, order, "(you)", classic marking, text.
import * as assert from 'node:assert/strict';
import type { OnlineItem, Share } from '../../src/peer/api';
import { ContextValues } from '../../src/extension/view-model/ids';
import { CLASSIC_SHA256_HEX as CLASSIC_SHA256, isClassicHash } from '../../src/protocol/classic';
import { buildOnlineTree, buildShareRows } from '../../src/extension/view-model/tree-model';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

function item(peerName: string, contentName: string, extra: Partial<OnlineItem> = {}): OnlineItem {
  return { peerName, contentName, host: '10.0.0.1', port: 5000, size: 1258291, sha256: H1, ...extra };
}

describe('ui tree model: online content', () => {
  it('groups sources under one row per content name, names sorted as people read them', () => {
    const rows = buildOnlineTree(
      [item('sam', 'b.txt'), item('alex', 'a10.txt'), item('kim', 'a2.txt'), item('alex', 'b.txt'), item('kim', 'B.md')],
      'me',
    );
    assert.deepEqual(rows.map((r) => r.label), ['a2.txt', 'a10.txt', 'B.md', 'b.txt']);
    const b = rows.find((r) => r.contentName === 'b.txt')!;
    assert.deepEqual(b.sources.map((s) => s.label), ['alex', 'sam']);
    assert.equal(b.kind, 'content');
    assert.equal(b.sources[0].kind, 'source');
  });

  it('labels content rows with the content name and source rows with the peer name', () => {
    const [row] = buildOnlineTree([item('sam', 'Text.txt')], 'me');
    assert.equal(row.label, 'Text.txt');
    assert.equal(row.sources[0].label, 'sam');
    assert.equal(row.contextValue, ContextValues.content);
    assert.equal(row.sources[0].contextValue, ContextValues.source);
  });

  it('describes a content by its number of sources and size', () => {
    const [two] = buildOnlineTree([item('sam', 'x.bin'), item('alex', 'x.bin')], 'me');
    assert.equal(two.description, '2 sources · 1.2 MiB');
    const [one] = buildOnlineTree([item('sam', 'y.bin', { size: 512 })], 'me');
    assert.equal(one.description, '1 source · 512 B');
  });

  it('describes a source by its size and marks this peer\'s own source "(you)"', () => {
    const [row] = buildOnlineTree([item('sam', 'x.bin'), item('me', 'x.bin', { port: 6000 })], 'me');
    const me = row.sources.find((s) => s.peerName === 'me')!;
    const sam = row.sources.find((s) => s.peerName === 'sam')!;
    assert.equal(me.own, true);
    assert.equal(me.description, '1.2 MiB (you)');
    assert.equal(me.label, 'me');
    assert.equal(sam.own, false);
    assert.equal(sam.description, '1.2 MiB');
    assert.equal(row.sharedByYou, true);
  });

  it('knows when only this peer shares a content (nothing to download, the file is here)', () => {
    const [mine] = buildOnlineTree([item('me', 'x.bin')], 'me');
    assert.equal(mine.onlyYou, true);
    assert.match(mine.tooltip, /Only you share this/);
    const [both] = buildOnlineTree([item('me', 'x.bin'), item('sam', 'x.bin')], 'me');
    assert.equal(both.onlyYou, false);
    assert.match(both.tooltip, /Click to download/);
  });

  it('marks classic registrations (all-zero hash) as not downloadable', () => {
    const [row] = buildOnlineTree([item('old', 'Text.txt', { sha256: CLASSIC_SHA256, size: 0 })], 'me');
    assert.equal(row.downloadable, false);
    assert.equal(row.sha256, undefined);
    assert.equal(row.contextValue, ContextValues.classicContent);
    assert.match(row.description, /^1 source · classic, not downloadable$/);
    assert.match(row.tooltip, /cannot be downloaded/);
    const [source] = row.sources;
    assert.equal(source.classic, true);
    assert.equal(source.contextValue, ContextValues.classicSource);
    assert.match(source.description, /classic, not downloadable/);
  });

  it('keeps a content with both classic and hashed sources downloadable, classic sources last', () => {
    const [row] = buildOnlineTree([item('aaa', 'm.txt', { sha256: CLASSIC_SHA256, size: 0 }), item('zed', 'm.txt')], 'me');
    assert.equal(row.downloadable, true);
    assert.equal(row.contextValue, ContextValues.content);
    assert.deepEqual(row.sources.map((s) => s.peerName), ['zed', 'aaa']);
    assert.equal(row.description, '2 sources · 1.2 MiB');
    assert.match(row.tooltip, /1 classic source without a hash/);
  });

  it('picks the version most sources have and lists its sources first', () => {
    const [row] = buildOnlineTree(
      [item('a', 'v.txt', { sha256: H2, size: 10 }), item('b', 'v.txt', { size: 20 }), item('c', 'v.txt', { size: 20 })],
      'me',
    );
    assert.equal(row.sha256, H1);
    assert.equal(row.size, 20);
    assert.equal(row.versions, 2);
    assert.equal(row.description, '3 sources · 20 B · 2 versions');
    assert.deepEqual(row.sources.map((s) => s.peerName), ['b', 'c', 'a']);
    // With several versions each source shows which one it has.
    assert.equal(row.sources[2].description, `10 B · ${H2.slice(0, 8)}`);
    assert.match(row.tooltip, /2 different versions/);
  });

  it('breaks a tie between versions by hash, so the choice is stable across refreshes', () => {
    const one = buildOnlineTree([item('a', 'v', { sha256: H2 }), item('b', 'v', { sha256: H1 })], 'me')[0];
    const two = buildOnlineTree([item('b', 'v', { sha256: H1 }), item('a', 'v', { sha256: H2 })], 'me')[0];
    assert.equal(one.sha256, H1);
    assert.equal(two.sha256, H1);
  });

  it('puts SHA-256, size and address in the tooltips', () => {
    const [row] = buildOnlineTree([item('sam', 'x.bin', { host: '::1', port: 7000 })], 'me');
    assert.match(row.tooltip, new RegExp(`SHA-256: \`${H1}\``));
    assert.match(row.tooltip, /1\.2 MiB \(1,258,291 bytes\)/);
    assert.match(row.tooltip, /`\[::1\]:7000`/);
    const src = row.sources[0];
    assert.equal(src.address, '[::1]:7000');
    assert.match(src.tooltip, /Address: `\[::1\]:7000`/);
    assert.match(src.tooltip, new RegExp(H1));
  });

  it('escapes names in tooltips so they cannot become links or markup', () => {
    const [row] = buildOnlineTree([item('[x](command:evil)', '*bold*.txt')], 'me');
    // Each name is one code span, where Markdown forms nothing (ui-inert-text.test.ts renders them).
    assert.ok(row.tooltip.includes('`*bold*.txt`'));
    assert.ok(row.sources[0].tooltip.includes('**`[x](command:evil)`**'));
  });

  it('shows one row per (content, peer) even when a page boundary repeated an entry', () => {
    const [row] = buildOnlineTree([item('sam', 'x'), item('sam', 'x')], 'me');
    assert.equal(row.sources.length, 1);
  });

  it('gives rows stable ids that differ between contents and sources', () => {
    const [row] = buildOnlineTree([item('sam', 'x')], 'me');
    assert.notEqual(row.id, row.sources[0].id);
    assert.equal(buildOnlineTree([item('sam', 'x')], 'me')[0].id, row.id);
  });

  it('is empty for an empty list', () => {
    assert.deepEqual(buildOnlineTree([], 'me'), []);
  });

  it('recognises the classic hash', () => {
    assert.equal(isClassicHash(CLASSIC_SHA256), true);
    assert.equal(isClassicHash(H1), false);
  });
});

describe('ui tree model: my shares', () => {
  const share = (contentName: string, size: number): Share => ({
    contentName,
    path: `/home/sam/${contentName}`,
    size,
    sha256: H1,
    registeredAt: new Date(0),
  });

  it('lists shares sorted by content name with size as description', () => {
    const rows = buildShareRows([share('b.txt', 2048), share('a.txt', 3)]);
    assert.deepEqual(rows.map((r) => r.label), ['a.txt', 'b.txt']);
    assert.equal(rows[1].description, '2.0 KiB');
    assert.equal(rows[0].contextValue, ContextValues.share);
    assert.equal(rows[0].kind, 'share');
  });

  it('puts the path and the hash in the tooltip', () => {
    const [row] = buildShareRows([share('a.txt', 3)]);
    assert.match(row.tooltip, /Path: `\/home\/sam\/a\.txt`/);
    assert.match(row.tooltip, new RegExp(`SHA-256: \`${H1}\``));
  });
});
