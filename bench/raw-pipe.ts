// Baseline for the download benchmark: a raw Node TCP pipe of a file (createReadStream -> socket) hashed on arrival, optionally written to disk.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { serveIpc } from './lib';

/** Read size of the sender: the content server reads 512 KiB at a time, so the baseline is not handicapped by smaller reads. */
const READ_BYTES = 512 * 1024;

let server: net.Server | undefined;

serveIpc(
  {
    /** Sender: every connection gets the whole file, then the end of the stream. */
    serve: async (a: { file: string }) => {
      server = net.createServer({ noDelay: true }, (socket) => {
        socket.on('error', () => undefined);
        fs.createReadStream(a.file, { highWaterMark: READ_BYTES }).pipe(socket);
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      return { port: (server.address() as net.AddressInfo).port };
    },
    /** Receiver: times connect to last byte hashed (and, with `writeTo`, written and closed). */
    receive: async (a: { port: number; writeTo?: string }) => {
      const t0 = performance.now();
      const socket = net.connect({ port: a.port, host: '127.0.0.1' });
      const hash = createHash('sha256');
      let bytes = 0;
      if (a.writeTo) {
        const hashing = new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            bytes += chunk.length;
            done(null, chunk);
          },
        });
        await pipeline(socket, hashing, fs.createWriteStream(a.writeTo, { flags: 'wx' }));
      } else {
        await new Promise<void>((resolve, reject) => {
          socket.on('data', (chunk: Buffer) => {
            hash.update(chunk);
            bytes += chunk.length;
          });
          socket.on('end', resolve);
          socket.on('error', reject);
        });
      }
      const sha256 = hash.digest('hex');
      return { ms: performance.now() - t0, bytes, sha256 };
    },
  },
  () => {
    server?.close();
  },
);
