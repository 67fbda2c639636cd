// Hostile names and messages through every output kind of the extension: nothing in them may become a link, an icon, markup, a line or a reordering.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { escapeInvisible } from '../../src/common/control-escape';
import type { OnlineItem, Share } from '../../src/peer/api';
import { labelText, logText, markdownText, notificationText } from '../../src/extension/view-model/inert-text';
import { statusText } from '../../src/extension/view-model/status-text';
import { buildOnlineTree, buildShareRows } from '../../src/extension/view-model/tree-model';

/** What an attacker would put in a peer name, a content name or a TCP E message. */
export const HOSTILE_TEXTS: readonly string[] = [
  '[Retry](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22rm%20-rf%20~%5Cn%22%7D)',
  '[Open](https://evil.example/steal)',
  '[passwd](file:///etc/passwd)',
  '[t](command:x "a title")',
  '![img](https://evil.example/pixel.png)',
  '<img src=x onerror=alert(1)>',
  '<a href="command:x">click</a>',
  '<script>alert(1)</script>',
  '`code` and ``double`` and ```fence',
  '`',
  'ends with `',
  'https://evil.example/x',
  'www.evil.example',
  'see 127.0.0.1:9 now',
  'http://[::1]:9/',
  'mail me@evil.example',
  '<https://evil.example>',
  '$(warning) admin',
  '$(sync~spin) busy',
  '\\$(check) pre-escaped',
  '**bold** _it_ # head ~~strike~~ > quote',
  '&lt;b&gt; &#x202e; &amp;',
  'invoice\u202Efdp.exe',
  '\u2066isolate\u2069 \u200Fmark',
  'pay\u200Bpal \uFEFFbom soft\u00ADhyphen',
  'x'.repeat(10_000) + '[a](command:x)',
  'csi \x1b[2J\x1b[31mred\x1b[0m',
  'osc \x1b]0;pwned\x07 title',
  'hyperlink \x1b]8;;https://evil.example\x1b\\text\x1b]8;;\x1b\\',
  'c1 \u009b31m \u009d0;t\u009c \u0085next',
  'line\nforged [error] line',
  'carriage\rreturn',
  'separator\u2028line\u2029para',
];

/** Anything invisible that reorders or breaks text; an emoji's joiner is allowed. */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|(?<!\p{Extended_Pictographic})\p{Cf}/u;

// VS Code's notification renderer (parseLinkedText in vs/base/common/linkedText.ts): the only markup a notification has.
const NOTIFICATION_LINK = /\[([^\]]+)\]\(((?:https?:\/\/|command:|file:)[^)\s]+)(?: (["'])(.+?)(\3))?\)/gi;
// VS Code's label renderer (renderLabelWithIcons): "$(name)" is an icon unless a backslash precedes it.
const LABEL_ICON = /(\\)?\$\(([a-z0-9-]+(?:~[a-z0-9-]+)?)\)/gi;

interface MarkdownIt { render(src: string): string; linkify: { set(o: object): void } }
const load = createRequire(__filename);
// A real CommonMark renderer with autolinking at its most eager (bare hosts and IPs), as a hover might be.
const md = (load('markdown-it') as (o: object) => MarkdownIt)({ html: true, linkify: true });
md.linkify.set({ fuzzyIP: true, fuzzyLink: true, fuzzyEmail: true });

/** Fails when a line of `text` (its own line breaks aside) holds a control or an invisible character. */
function assertVisible(text: string, what = text): void {
  for (const line of text.split('\n')) assert.doesNotMatch(line, INVISIBLE, what);
}

function htmlDecode(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** Every element name in rendered HTML. */
function tags(html: string): Set<string> {
  return new Set([...html.matchAll(/<([a-z0-9]+)/gi)].map((m) => m[1].toLowerCase()));
}

function short(t: string): string {
  return JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}…` : t);
}

const item = (peerName: string, contentName: string): OnlineItem => ({
  peerName, contentName, host: '127.0.0.1', port: 9, size: 1000, sha256: 'ab'.repeat(32),
});

describe('remote text is inert in every output kind of the extension', () => {
  describe('notificationText (error notifications, progress titles)', () => {
    for (const t of HOSTILE_TEXTS) {
      it(`forms no link from ${short(t)}`, () => {
        const shown = notificationText(`Could not download "${t}" from ${t}: ${t}`);
        assert.deepEqual([...shown.matchAll(NOTIFICATION_LINK)].map((m) => m[0]), []);
        assert.doesNotMatch(shown, INVISIBLE);
      });
    }

    it('leaves ordinary text as it was', () => {
      assert.equal(notificationText('Could not download "Report (final) [v2].pdf" from sam: stalled'), 'Could not download "Report (final) [v2].pdf" from sam: stalled');
    });
  });

  describe('markdownText (tooltips), rendered by a real Markdown renderer', () => {
    for (const t of HOSTILE_TEXTS) {
      it(`renders ${short(t)} as one code span, letter for letter`, () => {
        const html = md.render(`**P2P**: ${markdownText(t)} and more`);
        assert.deepEqual([...tags(html)].sort(), ['code', 'p', 'strong']);
        const code = /<code>([\s\S]*)<\/code>/.exec(html)?.[1];
        // Letter for letter: only the invisible characters are written out.
        assert.equal(htmlDecode(code ?? ''), escapeInvisible(t));
        assertVisible(html);
      });
    }
  });

  describe('labelText (tree labels, quick picks, the status bar)', () => {
    for (const t of HOSTILE_TEXTS) {
      it(`draws no icon from ${short(t)}`, () => {
        const shown = labelText(t);
        assert.deepEqual([...shown.matchAll(LABEL_ICON)].filter((m) => !m[1]).map((m) => m[0]), []);
        assert.doesNotMatch(shown, INVISIBLE);
      });
    }

    it('keeps names people use, emoji sequences included', () => {
      for (const n of ['Report (final) [v2].pdf', 'naïve résumé 日本語 🎉.txt', '👩\u200d💻 notes.md']) assert.equal(labelText(n), n);
    });
  });

  describe('logText (the P2P log channel)', () => {
    for (const t of HOSTILE_TEXTS) {
      it(`writes ${short(t)} without forging a line or an escape`, () => {
        const lines = logText(`could not download: ${t}`).split('\n');
        for (const [i, line] of lines.entries()) {
          assert.doesNotMatch(line, INVISIBLE);
          if (i > 0) assert.match(line, /^ {4}/, 'a continuation line is indented, never a line of its own');
        }
      });
    }
  });

  describe('the rows and texts built from hostile names', () => {
    const peers = HOSTILE_TEXTS.map((t, i) => ({ t, item: item(t.slice(0, 255), `file ${i}.txt`) }));
    const contents = HOSTILE_TEXTS.map((t) => item('sam', t.slice(0, 255)));
    const tree = buildOnlineTree([...peers.map((p) => p.item), ...contents], 'me');
    const shares = buildShareRows(contents.map((c): Share => ({ contentName: c.contentName, path: `/tmp/${c.contentName}`, size: 1, sha256: c.sha256, registeredAt: new Date(0) })));

    it('Online Content tooltips render with no link, image or HTML element', () => {
      for (const row of [...tree, ...tree.flatMap((r) => r.sources), ...shares]) {
        const found = [...tags(md.render(row.tooltip))].filter((t) => !['p', 'strong', 'code', 'br', 'ul', 'li'].includes(t));
        assert.deepEqual(found, [], `${row.id}: ${row.tooltip}`);
        assertVisible(row.tooltip);
      }
    });

    it('tree labels draw no icon and hold nothing invisible', () => {
      for (const row of [...tree, ...tree.flatMap((r) => r.sources), ...shares]) {
        assert.deepEqual([...row.label.matchAll(LABEL_ICON)].filter((m) => !m[1]).map((m) => m[0]), [], row.label);
        assert.doesNotMatch(row.label, INVISIBLE);
        assert.doesNotMatch(row.description, INVISIBLE);
      }
    });

    it('the status bar shows a hostile state detail as text', () => {
      for (const t of HOSTILE_TEXTS) {
        const s = statusText({ state: 'unreachable', peerName: 'sam', shareCount: 0, detail: `the index server said: ${t}` });
        const found = [...tags(md.render(s.tooltip))].filter((x) => !['p', 'strong', 'code', 'br'].includes(x));
        assert.deepEqual(found, [], s.tooltip);
        assertVisible(s.tooltip);
      }
      const named = statusText({ state: 'connected', peerName: '$(warning) admin', shareCount: 1 });
      assert.equal(named.text, '$(radio-tower) \\$(warning) admin · 1 shared');
    });
  });
});
