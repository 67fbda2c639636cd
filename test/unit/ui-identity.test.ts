// The extension's identity: one 32-byte secret kept in SecretStorage, made once, a stored value that is not one replaced.
import * as assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { SECRET_KEY, loadPeerSecret } from '../../src/extension/identity';

/** An in-memory SecretStorage: the part of the API loadPeerSecret uses. */
function secretStore(initial?: string): { store: vscode.SecretStorage; values: Map<string, string> } {
  const values = new Map<string, string>(initial === undefined ? [] : [[SECRET_KEY, initial]]);
  const store = {
    get: async (key: string) => values.get(key),
    store: async (key: string, value: string) => void values.set(key, value),
  } as unknown as vscode.SecretStorage;
  return { store, values };
}

const warnings: string[] = [];
const log = { warn: (m: string) => warnings.push(m) } as unknown as vscode.LogOutputChannel;

describe('extension identity in SecretStorage', () => {
  beforeEach(() => (warnings.length = 0));

  it('makes a 32-byte secret once, stores it, and gives the same one at the next activation', async () => {
    const { store, values } = secretStore();
    const first = await loadPeerSecret(store, log);
    assert.equal(first.length, 32);
    assert.equal(values.get(SECRET_KEY), first.toString('hex'));
    assert.deepEqual(await loadPeerSecret(store, log), first);
    assert.deepEqual(warnings, []);
  });

  it('replaces a stored value that is not 64 hex digits, and says so in the log', async () => {
    const { store, values } = secretStore('not-a-secret');
    const secret = await loadPeerSecret(store, log);
    assert.equal(values.get(SECRET_KEY), secret.toString('hex'));
    assert.match(warnings.join('\n'), /not a secret this extension made/);
  });
});
