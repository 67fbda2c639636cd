// Baseline for the download benchmark: a plain node:http server handing out one file (what curl fetches), in its own process.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import { serveIpc } from './lib';

/** The content server's read size, so the baseline is not handicapped by smaller reads. */
const READ_BYTES = 512 * 1024;

let server: http.Server | undefined;

serveIpc(
  {
    serve: async (a: { file: string; size: number }) => {
      server = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': a.size });
        fs.createReadStream(a.file, { highWaterMark: READ_BYTES }).pipe(res);
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      return { port: (server.address() as net.AddressInfo).port };
    },
  },
  () => {
    server?.close();
  },
);
