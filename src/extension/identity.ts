// The extension peer's identity across reloads: its 32-byte secret, kept in VS Code's SecretStorage (the OS keychain).
import { randomBytes } from 'node:crypto';
import type * as vscode from 'vscode';
import { SECRET_BYTES } from '../protocol/messages';

/** The one key the secret is stored under. */
export const SECRET_KEY = 'p2p.peerSecret';

/**
 * The peer's secret: the stored one, else a new one that is stored. A stored value that is not 64 hex
 * digits cannot be an identity we made; it is replaced and the log says so. When SecretStorage fails
 * (no keychain), the peer still runs with a secret for this session only, and the log says that too.
 */
export async function loadPeerSecret(secrets: vscode.SecretStorage, log: vscode.LogOutputChannel): Promise<Buffer> {
  let stored: string | undefined;
  try {
    stored = await secrets.get(SECRET_KEY);
  } catch (err) {
    log.warn(`could not read the peer's identity from SecretStorage (${(err as Error).message}); using a new one for this session`);
    return randomBytes(SECRET_BYTES);
  }
  if (stored !== undefined && new RegExp(`^[0-9a-f]{${SECRET_BYTES * 2}}$`, 'u').test(stored)) return Buffer.from(stored, 'hex');
  if (stored !== undefined) log.warn('the stored peer identity is not a secret this extension made; a new one replaces it');
  const secret = randomBytes(SECRET_BYTES);
  try {
    await secrets.store(SECRET_KEY, secret.toString('hex'));
  } catch (err) {
    log.warn(`could not save the peer's identity in SecretStorage (${(err as Error).message}); after a reload the index refuses this peer name until its lease ends`);
  }
  return secret;
}
