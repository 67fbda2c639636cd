// A sending process for the TLS bench: one file served by two content servers at once, one over plain TCP and one over TLS 1.3.
import { randomBytes } from 'node:crypto';
import { ContentServer } from '../src/peer/content-server';
import { makeTlsIdentity } from '../src/peer/tls-identity';
import { serveIpc } from './lib';

const servers: ContentServer[] = [];

serveIpc(
  {
    serve: async (a: { name: string; path: string; size: number; sha256: string; dev: number; ino: number }) => {
      const identity = await makeTlsIdentity(randomBytes(32));
      const lookup = (name: string, hash: string) => (name === a.name && hash === a.sha256 ? { path: a.path, size: a.size, sha256: a.sha256, dev: a.dev, ino: a.ino } : undefined);
      const plain = new ContentServer({ lookup });
      const secure = new ContentServer({ lookup, tls: { key: identity.key, cert: identity.cert } });
      servers.push(plain, secure);
      return { plainPort: await plain.listen(0, '127.0.0.1'), tlsPort: await secure.listen(0, '127.0.0.1'), pin: identity.pin.toString('hex') };
    },
  },
  async () => {
    await Promise.all(servers.map((s) => s.close()));
  },
);
