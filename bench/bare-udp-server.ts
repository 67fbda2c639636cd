// Baseline for the index-server benchmark: a bare Node dgram server that answers every datagram with a same-size reply (an echo).
import * as dgram from 'node:dgram';

const host = process.argv[2] ?? '127.0.0.1';
const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');

// Everything the index server does per datagram is left out on purpose: this is the transport floor.
socket.on('message', (buf, rinfo) => {
  socket.send(buf, rinfo.port, rinfo.address);
});
socket.on('error', (err) => process.stderr.write(`bare udp server: ${err.message}\n`));
socket.bind(0, host, () => {
  // Same receive buffer as the index server asks for, so both drop (or not) under the same bursts.
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024);
  } catch {
    /* the kernel default still works */
  }
  const a = socket.address();
  process.stderr.write(`listening on udp ${a.address}:${a.port}\n`);
});

const stop = (): void => {
  socket.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The bench owns this process: if it goes away (its stdin pipe closes), so does the baseline.
process.stdin.on('end', stop).on('error', stop).resume();
