// Runs an index server inside the extension host on 127.0.0.1, for "Start Local Index Server".
import { IndexServer } from '../server/index-server';
import type { LogLevel } from '../peer/api';
import { P2PError, toP2PError } from '../protocol/errors';
import { within } from './time-budget';

/** Closing must not hold up deactivate() or the next command for long. */
const SERVER_CLOSE_BUDGET_MS = 1000;
const LOOPBACK = '127.0.0.1';

export interface HostPortText {
  host: string;
  port: number;
}

/**
 * One in-process IndexServer at a time. It knows nothing of the peer: PeerHost decides where the
 * peer points and what the UI hears; this only starts, reports and stops the server.
 */
export class LocalIndexServer {
  private server: IndexServer | undefined;
  private addressValue: HostPortText | undefined;

  constructor(private readonly log: (level: LogLevel, message: string) => void) {}

  /** Where it listens, or undefined while none runs. */
  get address(): HostPortText | undefined {
    return this.addressValue ? { ...this.addressValue } : undefined;
  }

  /** Starts a server on `port` (0 = any free port); throws ADDRESS_IN_USE with advice when the port is taken. */
  async start(port: number): Promise<HostPortText> {
    const server = new IndexServer({
      host: LOOPBACK,
      port,
      log: (level, message) => this.log(level, `local index server: ${message}`),
    });
    try {
      this.addressValue = await server.start();
    } catch (err) {
      await server.close().catch(() => undefined);
      const e = toP2PError(err, 'starting the local index server');
      if (e.code === 'ADDRESS_IN_USE') {
        throw new P2PError(
          'ADDRESS_IN_USE',
          `UDP port ${port} on ${LOOPBACK} is taken, perhaps by an index server that is already running: connect to it instead, or start one on another port`,
          err,
        );
      }
      throw e;
    }
    this.server = server;
    return { ...this.addressValue };
  }

  /** Forgets the server at once, then closes it within a bounded time; a no-op when none runs. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.addressValue = undefined;
    await within(server.close(), SERVER_CLOSE_BUDGET_MS);
  }
}
