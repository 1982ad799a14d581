import { Agent } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect } from '../../src/tls/index.js';
import { runProcess } from './processes.js';

/** A client identity: its private key and its chain (leaf first), PEM. */
export interface ClientIdentity {
  readonly key: string;
  readonly chain: string;
}

/**
 * node:http connections to 127.0.0.1:`port` over keysmith's own TLS client,
 * trusting `ca` and presenting `identity` when given; one connection at a
 * time, kept alive only when asked.
 */
export class EngineAgent extends Agent {
  constructor(
    private readonly port: number,
    private readonly ca: string,
    private readonly identity: ClientIdentity | undefined,
    keepAlive = false,
  ) {
    super({ keepAlive, maxSockets: 1 });
  }

  override createConnection(): Duplex {
    const socket = connect({
      host: '127.0.0.1',
      port: this.port,
      servername: 'localhost',
      ca: this.ca,
      ALPNProtocols: ['http/1.1'],
      ...(this.identity === undefined ? {} : { key: this.identity.key, cert: this.identity.chain }),
    });
    // A refused handshake surfaces on the request; the socket must not throw on its own.
    socket.on('error', () => {});
    return socket;
  }
}

/** Runs openssl and returns its stdout; a non-zero exit throws with what it printed. */
export async function openssl(args: readonly string[], lifetimeMs = 60_000): Promise<string> {
  const result = await runProcess('openssl', args, { lifetimeMs });
  if (result.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}
