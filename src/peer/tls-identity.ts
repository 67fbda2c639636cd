// A peer's TLS identity: a P-256 key derived from its secret, a self-signed certificate, and the pin (SHA-256 of the SPKI) it registers.
import type * as X509 from '@peculiar/x509';
import { createECDH, createHash, createPrivateKey, createPublicKey, hkdfSync, webcrypto } from 'node:crypto';
import { P2PError } from '../protocol/errors';
import { SECRET_BYTES } from '../protocol/messages';

/** What the content server needs to speak TLS, and the claim the peer registers. */
export interface TlsIdentity {
  /** PEM of the private key and of the self-signed certificate, as node:tls takes them. */
  key: string;
  cert: string;
  /** DER SubjectPublicKeyInfo of the key. */
  spki: Buffer;
  /** SHA-256 of `spki`: the `pin` claim of every R. */
  pin: Buffer;
}

/** Domain separation: this key is for nothing but TLS, and a later scheme gets its own label. */
export const TLS_KEY_INFO = 'p2p-share tls key v1';
/** Order of the P-256 group: a derived scalar must lie in [1, n-1]. */
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
/** Validity of a certificate made at start: nobody checks it (the pin is over the key), but TLS stacks want a sane window. */
const CERT_DAYS = 3650;

let x509Module: typeof X509 | undefined;

/**
 * @peculiar/x509 with reflect-metadata takes about 100 ms to load, most of what loading the bundled
 * extension costs: only a start that makes a certificate pays it, not every module that imports this one.
 */
function x509(): typeof X509 {
  if (!x509Module) {
    /* eslint-disable @typescript-eslint/no-require-imports */
    require('reflect-metadata');
    const loaded = require('@peculiar/x509') as typeof X509;
    /* eslint-enable @typescript-eslint/no-require-imports */
    loaded.cryptoProvider.set(webcrypto as unknown as Parameters<typeof loaded.cryptoProvider.set>[0]);
    x509Module = loaded;
  }
  return x509Module;
}

/**
 * The P-256 private scalar for `secret`: HKDF-SHA-256 (no salt, info TLS_KEY_INFO) to 32 bytes.
 * The secret survives restarts already, so the key and its pin do too with nothing more stored.
 * An out-of-range scalar (odds about 2^-32) is derived again with a counter byte after the info.
 */
export function tlsPrivateScalar(secret: Buffer): Buffer {
  if (!Buffer.isBuffer(secret) || secret.length !== SECRET_BYTES) throw new P2PError('BAD_SETTING', `secret must be ${SECRET_BYTES} bytes`);
  for (let counter = 0; counter < 256; counter++) {
    const info = counter === 0 ? Buffer.from(TLS_KEY_INFO) : Buffer.concat([Buffer.from(TLS_KEY_INFO), Buffer.from([counter])]);
    const d = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
    const n = BigInt(`0x${d.toString('hex')}`);
    if (n > 0n && n < P256_ORDER) return d;
  }
  throw new P2PError('INTERNAL', 'no valid TLS key could be derived from this secret');
}

interface EcJwk {
  [field: string]: string;
  kty: string;
  crv: string;
  x: string;
  y: string;
}

/** The key of `secret` as a JWK (private, and the public half alone). */
function keyJwk(secret: Buffer): { priv: EcJwk; pub: EcJwk } {
  const d = tlsPrivateScalar(secret);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey(); // 0x04 ‖ x ‖ y
  const pub = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') };
  return { priv: { ...pub, d: d.toString('base64url') }, pub };
}

/** DER SubjectPublicKeyInfo of the key `secret` derives: what the pin is taken over. */
export function tlsSpki(secret: Buffer): Buffer {
  return createPublicKey({ key: keyJwk(secret).pub, format: 'jwk' }).export({ type: 'spki', format: 'der' });
}

/** The pin of a DER SubjectPublicKeyInfo. */
export function pinOf(spki: Buffer): Buffer {
  return createHash('sha256').update(spki).digest();
}

/** Makes this start's certificate; the key and therefore the pin depend on the secret only. */
export async function makeTlsIdentity(secret: Buffer): Promise<TlsIdentity> {
  const jwk = keyJwk(secret);
  const privateKey = await webcrypto.subtle.importKey('jwk', jwk.priv, ECDSA_P256, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('jwk', jwk.pub, ECDSA_P256, true, ['verify']);
  const now = Date.now();
  const cert = await x509().X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    // The name carries nothing: peers are known by their pin, never by a name in a certificate.
    name: 'CN=p2p-share peer',
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + CERT_DAYS * 86_400_000),
    keys: { privateKey, publicKey },
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  const key = createPrivateKey({ key: jwk.priv, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }) as string;
  const spki = createPublicKey({ key: jwk.pub, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  return { key, cert: cert.toString('pem'), spki, pin: pinOf(spki) };
}
