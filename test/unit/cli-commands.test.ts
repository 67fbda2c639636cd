// The terminal peer's input grammar: splitting a line into words and turning words into menu commands.
import * as assert from 'node:assert/strict';
import { parseCommand, parsePeerNameAnswer } from '../../src/cli/commands';
import { quoteWord, tokenizeCommandLine } from '../../src/cli/tokenize';
import { P2PError } from '../../src/protocol/errors';

function rejects(fn: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof P2PError, `expected a P2PError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe('terminal peer: splitting an input line into words', () => {
  it('separates words by any run of white space and ignores it at both ends', () => {
    assert.deepEqual(tokenizeCommandLine('  R \t a.txt   b  '), ['R', 'a.txt', 'b']);
  });

  it('gives no words for a blank line', () => {
    assert.deepEqual(tokenizeCommandLine(''), []);
    assert.deepEqual(tokenizeCommandLine('   \t '), []);
  });

  it('keeps the spaces of a double-quoted part', () => {
    assert.deepEqual(tokenizeCommandLine('R "my file.txt" "the  name"'), ['R', 'my file.txt', 'the  name']);
  });

  it('joins a quoted part to the text it touches', () => {
    assert.deepEqual(tokenizeCommandLine('a"b c"d e'), ['ab cd', 'e']);
  });

  it('keeps an empty quoted word', () => {
    assert.deepEqual(tokenizeCommandLine('R "" x'), ['R', '', 'x']);
  });

  it('reads \\" and \\\\ inside quotes as a quote and a backslash', () => {
    assert.deepEqual(tokenizeCommandLine('"say \\"hi\\"" "a\\\\b"'), ['say "hi"', 'a\\b']);
  });

  it('leaves other backslashes alone so Windows paths need no doubling', () => {
    assert.deepEqual(tokenizeCommandLine('R C:\\dir\\file.txt "C:\\my dir\\f.txt"'), [
      'R',
      'C:\\dir\\file.txt',
      'C:\\my dir\\f.txt',
    ]);
  });

  it('rejects a quote that is never closed, saying where it opened', () => {
    rejects(() => tokenizeCommandLine('R "my file.txt'), 'BAD_COMMAND', /column 3/);
  });

  it('quotes exactly the words that need it, so quoting then splitting gives the word back', () => {
    const words = ['plain', 'with space', '', 'quote"in', 'back\\slash', 'end\\', 'both \\"', 'tab\there', 'ünïcødé 文件'];
    for (const w of words) assert.deepEqual(tokenizeCommandLine(quoteWord(w)), [w], `round trip of ${JSON.stringify(w)}`);
    assert.equal(quoteWord('plain'), 'plain');
    assert.equal(quoteWord('with space'), '"with space"');
  });
});

describe('terminal peer: menu commands', () => {
  it('reads the letters of the original menu, in either case', () => {
    assert.deepEqual(parseCommand('O'), { kind: 'online', more: false });
    assert.deepEqual(parseCommand('l'), { kind: 'local' });
    assert.deepEqual(parseCommand('q'), { kind: 'quit' });
    assert.deepEqual(parseCommand('H'), { kind: 'help' });
    assert.deepEqual(parseCommand('?'), { kind: 'help' });
  });

  it('accepts help, quit and exit spelled out', () => {
    assert.deepEqual(parseCommand('help'), { kind: 'help' });
    assert.deepEqual(parseCommand('QUIT'), { kind: 'quit' });
    assert.deepEqual(parseCommand('exit'), { kind: 'quit' });
  });

  it('ignores a blank line', () => {
    assert.equal(parseCommand('   '), undefined);
  });

  it('registers a path under its own name or under a given content name', () => {
    assert.deepEqual(parseCommand('R Text.txt'), { kind: 'register', path: 'Text.txt' });
    assert.deepEqual(parseCommand('r ./docs/a.txt "Report 2024.txt"'), {
      kind: 'register',
      path: './docs/a.txt',
      contentName: 'Report 2024.txt',
    });
  });

  it('de-registers, searches and downloads by content name', () => {
    assert.deepEqual(parseCommand('T Text.txt'), { kind: 'deregister', contentName: 'Text.txt' });
    assert.deepEqual(parseCommand('s "my file.txt"'), { kind: 'search', contentName: 'my file.txt' });
    assert.deepEqual(parseCommand('D Text1.txt'), { kind: 'download', contentName: 'Text1.txt' });
  });

  it('downloads from one peer with "from <peer>", the keyword in any case', () => {
    assert.deepEqual(parseCommand('D Text1.txt from Jo'), { kind: 'download', contentName: 'Text1.txt', fromPeer: 'Jo' });
    assert.deepEqual(parseCommand('d "a b.txt" FROM "Jo Smith"'), {
      kind: 'download',
      contentName: 'a b.txt',
      fromPeer: 'Jo Smith',
    });
  });

  it('takes a content name called "from" when it is the only argument', () => {
    assert.deepEqual(parseCommand('D from'), { kind: 'download', contentName: 'from' });
  });

  it('changes the peer name with N', () => {
    assert.deepEqual(parseCommand('N "Sam 2"'), { kind: 'rename', peerName: 'Sam 2' });
  });

  it('names the unknown word and points to H', () => {
    rejects(() => parseCommand('X foo'), 'BAD_COMMAND', /"X" is not a menu letter; type H for help/);
  });

  it('says which argument is missing and shows the usage', () => {
    rejects(() => parseCommand('R'), 'BAD_COMMAND', /R needs the path of a file; usage: R <path> \[content name\]/);
    rejects(() => parseCommand('T'), 'BAD_COMMAND', /T needs a content name/);
    rejects(() => parseCommand('S'), 'BAD_COMMAND', /S needs a content name/);
    rejects(() => parseCommand('D'), 'BAD_COMMAND', /D needs a content name/);
    rejects(() => parseCommand('N'), 'BAD_COMMAND', /N needs the new peer name/);
  });

  it('suggests quotes when a name with spaces was not quoted', () => {
    rejects(() => parseCommand('T my file.txt'), 'BAD_COMMAND', /double quotes/);
    rejects(() => parseCommand('R a.txt my name.txt'), 'BAD_COMMAND', /double quotes/);
  });

  it('refuses arguments to commands that take none', () => {
    rejects(() => parseCommand('O now'), 'BAD_COMMAND', /usage: O/);
    rejects(() => parseCommand('Q please'), 'BAD_COMMAND', /usage: Q/);
  });

  it('accepts only "from <peer>" and "hash <prefix>" after the content name of D', () => {
    rejects(() => parseCommand('D a.txt Jo'), 'BAD_COMMAND', /only "from <peer>" and "hash <prefix>"/);
    rejects(() => parseCommand('D a.txt by Jo'), 'BAD_COMMAND', /only "from <peer>"/);
    rejects(() => parseCommand('D a.txt from Jo from Al'), 'BAD_COMMAND', /each once/);
    rejects(() => parseCommand('D a.txt hash'), 'BAD_COMMAND', /only "from <peer>"/);
  });

  it('pins the version of D by a hash prefix of 8 to 64 hex digits, with or without "from <peer>"', () => {
    assert.deepEqual(parseCommand('D report.pdf hash 3FA2B9C1'), { kind: 'download', contentName: 'report.pdf', sha256: '3fa2b9c1' });
    assert.deepEqual(parseCommand('D report.pdf hash 3fa2b9c1 from Jo'), { kind: 'download', contentName: 'report.pdf', fromPeer: 'Jo', sha256: '3fa2b9c1' });
    rejects(() => parseCommand('D report.pdf hash 3fa2b9c'), 'BAD_COMMAND', /8 to 64 hex digits.*"3fa2b9c"/);
    rejects(() => parseCommand('D report.pdf hash 3fa2b9cz'), 'BAD_COMMAND', /hex digits/);
  });

  it('checks content names and peer names against the protocol rules before asking anyone', () => {
    rejects(() => parseCommand('T ../etc/passwd'), 'BAD_NAME', /path separator/);
    rejects(() => parseCommand('R a.txt "con.txt"'), 'BAD_NAME', /reserved device name/);
    rejects(() => parseCommand('S ""'), 'BAD_NAME', /empty/);
    rejects(() => parseCommand('N " sam"'), 'BAD_NAME', /white space/);
    rejects(() => parseCommand('D a.txt from ""'), 'BAD_NAME', /empty/);
  });

  it('refuses an empty path', () => {
    rejects(() => parseCommand('R ""'), 'BAD_COMMAND', /path is empty/);
  });
});

describe('terminal peer: the answer to "choose another peer name"', () => {
  it('takes the whole line as the name, spaces included', () => {
    assert.equal(parsePeerNameAnswer('  Sam the Second  '), 'Sam the Second');
  });

  it('unquotes a fully quoted answer', () => {
    assert.equal(parsePeerNameAnswer('"Sam 2"'), 'Sam 2');
  });

  it('keeps an unbalanced quote as part of the name', () => {
    assert.equal(parsePeerNameAnswer('"Sam'), '"Sam');
  });

  it('reads a blank line as giving up', () => {
    assert.equal(parsePeerNameAnswer('   '), undefined);
  });

  it('refuses a name the protocol does not allow', () => {
    rejects(() => parsePeerNameAnswer('x'.repeat(256)), 'BAD_NAME', /255/);
  });
});
