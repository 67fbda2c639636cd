// A TCP port on 127.0.0.1 that nobody listens on right now, for tests that must name a port before a process binds it.
import * as net from 'node:net';

/** Bound, read and released: free a moment ago, which is as good as a test can get without the process binding port 0 itself. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
