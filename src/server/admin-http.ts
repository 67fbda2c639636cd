// The operator's HTTP endpoint of an index server: /metrics, /stats.json and /healthz, GET or HEAD only, bounded and quick.
import * as http from 'node:http';
import { isIPv6 } from 'node:net';
import { formatHostPort } from '../protocol/address-text';
import { P2PError } from '../protocol/errors';
import type { IndexServer } from './index-server';
import { serverMetrics } from './metrics';

/** A client that has not sent its whole request within this time is cut off. */
const REQUEST_TIMEOUT_MS = 5000;
/** Sockets at once: a scraper needs one; more are refused by the kernel backlog, not queued here. */
const MAX_CONNECTIONS = 16;

export interface AdminEndpoint {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** Serves `server`'s counts on host:port; rejects with ADDRESS_IN_USE or BAD_SETTING when it cannot bind. */
export async function startAdmin(server: IndexServer, host: string, port: number): Promise<AdminEndpoint> {
  const registry = serverMetrics(server);
  const http1 = http.createServer({ maxHeaderSize: 8192, requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 }, (req, res) => {
    void answer(req, res).catch(() => {
      if (!res.headersSent) send(res, req, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  http1.maxConnections = MAX_CONNECTIONS;
  http1.keepAliveTimeout = 2000;
  // Idle sockets (a slow reader of the response included) are closed, so none can hold a slot.
  http1.setTimeout(REQUEST_TIMEOUT_MS, (socket) => socket.destroy());

  async function answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, req, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
      return;
    }
    // The query is ignored; the path alone picks the page.
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics') send(res, req, 200, registry.contentType, await registry.metrics());
    else if (path === '/stats.json') send(res, req, 200, 'application/json', JSON.stringify({ ...server.stats, ...server.population, storeReachable: server.storeReachable }) + '\n');
    else if (path === '/healthz') {
      const up = server.address !== undefined && server.storeReachable;
      send(res, req, up ? 200 : 503, 'text/plain; charset=utf-8', up ? 'ok\n' : server.address ? 'shared store unreachable\n' : 'not listening\n');
    } else send(res, req, 404, 'text/plain; charset=utf-8', 'not found: /metrics, /stats.json, /healthz\n');
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const where = `tcp ${formatHostPort(host, port)}`;
      reject(err.code === 'EADDRINUSE' ? new P2PError('ADDRESS_IN_USE', where, err) : new P2PError('BAD_SETTING', `cannot listen on ${where}: ${err.message}`, err));
    };
    http1.once('error', onError);
    http1.listen({ host, port, ipv6Only: isIPv6(host) }, () => {
      http1.off('error', onError);
      resolve();
    });
  });
  const a = http1.address() as { address: string; port: number };
  return {
    address: { host: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        http1.close(() => resolve());
        http1.closeAllConnections();
      }),
  };
}

function send(res: http.ServerResponse, req: http.IncomingMessage, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
