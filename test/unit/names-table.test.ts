// Checks every example of the Names table in docs/protocol.md against the one home of the name rules.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { P2PError } from '../../src/protocol/errors';
import { validateContentName, validatePeerName } from '../../src/protocol/names';

const DOC = path.resolve(__dirname, '../../../docs/protocol.md');

interface Row { kind: 'content' | 'peer'; name: string; verdict: string }

function readTable(): Row[] {
  const text = fs.readFileSync(DOC, 'utf8');
  const section = text.slice(text.indexOf('### Names'), text.indexOf('## UDP'));
  const re = /^\| (content|peer) \| `(".*")` \| (.+) \|$/gmu;
  return [...section.matchAll(re)].map((m) => ({ kind: m[1] as Row['kind'], name: JSON.parse(m[2]) as string, verdict: m[3] }));
}

/** The part of a verdict an error's detail must contain: "format character U+202E" → /U\+202E/. */
function expectedWords(verdict: string): RegExp {
  const cp = /U\+[0-9A-F]{4}/u.exec(verdict);
  if (cp) return new RegExp(`format character ${cp[0].replace('+', '\\+')}`);
  if (verdict.includes('`$(`')) return /"\$\("/;
  return new RegExp(verdict.replace(/^refused: /, ''));
}

describe('the Names table in docs/protocol.md', () => {
  const rows = readTable();

  it('has rows for both kinds of name, accepted and refused', () => {
    assert.ok(rows.length >= 12, `only ${rows.length} rows read`);
    for (const kind of ['content', 'peer']) {
      assert.ok(rows.some((r) => r.kind === kind && r.verdict === 'ok'));
      assert.ok(rows.some((r) => r.kind === kind && r.verdict.startsWith('refused')));
    }
  });

  for (const row of rows) {
    it(`${row.kind} name ${JSON.stringify(row.name)}: ${row.verdict}`, () => {
      const validate = row.kind === 'content' ? validateContentName : validatePeerName;
      if (row.verdict === 'ok') {
        assert.equal(validate(row.name), row.name);
        return;
      }
      assert.throws(
        () => validate(row.name),
        (e: unknown) => e instanceof P2PError && e.code === 'BAD_NAME' && expectedWords(row.verdict).test(e.detail ?? e.message),
      );
    });
  }
});
