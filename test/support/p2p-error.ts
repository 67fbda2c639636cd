// A predicate for assert.throws / assert.rejects: the error is a P2PError with this code (and message).
import assert from 'node:assert/strict';
import { P2PError } from '../../src/protocol/errors';

export function isP2P(code: string, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof P2PError, `expected a P2PError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}
