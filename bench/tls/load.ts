/**
 * Load generators, all on node:tls clients, the same for both servers:
 * handshake loops (full or resumed), one-connection bulk in either
 * direction, keep-alive HTTP/1.1 request loops, and idle connections.
 * Every loop stops on a flag; none runs unbounded.
 */
import { connect, createSecureContext, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls';
import type { Fixtures } from './protocol.js';
import { ResponseReader } from '../common/http-responses.js';

/** Guards against a server that stops answering; not a timed assertion. */
const HANG_GUARD_MS = 15_000;
/** Upper bound on iterations of any one loop, far above what a window needs. */
const MAX_ITERATIONS = 10_000_000;

export interface ClientStats {
  ok: number;
  resumed: number;
  errors: number;
  bytes: number;
  responses: number;
  lastError: string | undefined;
}

function newStats(): ClientStats {
  return { ok: 0, resumed: 0, errors: 0, bytes: 0, responses: 0, lastError: undefined };
}

export interface LoadHandle {
  readonly stats: ClientStats;
  /** Stops the loops and resolves once every connection of this load is closed. */
  stop(): Promise<void>;
}

export class Client {
  private readonly verifying: SecureContext;
  private readonly unverified: SecureContext;
  /** The fleet's newest ticket per identity, per server port. */
  private readonly fleetSessions = new Map<number, (Buffer | undefined)[]>();

  /**
   * @param verifyServer whether the load verifies the server (the server's
   *   work is the same either way). Verifying costs the load generator more
   *   than a keysmith handshake costs the server: node:tls turns the whole
   *   peer chain into JS objects for checkServerIdentity on every full
   *   handshake. Unverified load uses a context whose trust anchor is some
   *   other CA, so the chain check fails early and node skips that step;
   *   the sanity probe always verifies.
   */
  constructor(
    fx: Fixtures,
    private readonly verifyServer: boolean,
    /** The one version the load speaks: TLS 1.3 (AES-128-GCM), or TLS 1.2 (ECDHE-ECDSA-AES128-GCM-SHA256) for the -tls12 rows. */
    version: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3',
  ) {
    // One context per kind for every connection: PEM parsing per connect would dominate the client's CPU.
    const common = {
      key: fx.clientKey,
      cert: fx.clientChain,
      minVersion: version,
      maxVersion: version,
      ciphers: version === 'TLSv1.3' ? 'TLS_AES_128_GCM_SHA256' : 'ECDHE-ECDSA-AES128-GCM-SHA256',
      // TLS 1.2 (RFC 8422 §5.1): supported_groups also names the curves a peer's ECDSA key may be on, so P-256 is listed (key exchange stays X25519).
      ecdhCurve: version === 'TLSv1.3' ? 'X25519' : 'X25519:P-256',
    } as const;
    this.verifying = createSecureContext({ ...common, ca: fx.ca });
    this.unverified = createSecureContext({ ...common, ca: fx.otherCa });
  }

  options(port: number, session?: Buffer, verify = this.verifyServer, identity?: SecureContext): ConnectionOptions {
    return {
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      secureContext: identity ?? (verify ? this.verifying : this.unverified),
      rejectUnauthorized: verify,
      ...(session === undefined ? {} : { session }),
    };
  }

  /**
   * One connection: handshake, wait for the server to close (it does so at
   * once in 'handshake' mode), and hand back the newest ticket.
   */
  handshakeOnce(
    port: number,
    session: Buffer | undefined,
    stats: ClientStats,
    verify?: boolean,
    identity?: SecureContext,
  ): Promise<{ session: Buffer | undefined; socket: TLSSocket }> {
    return new Promise((resolve) => {
      let latest: Buffer | undefined;
      const socket = connect(this.options(port, session, verify, identity));
      const guard = setTimeout(() => {
        stats.errors++;
        stats.lastError = 'connection did not close in time';
        socket.destroy();
      }, HANG_GUARD_MS);
      socket.on('session', (s: Buffer) => {
        latest = s;
      });
      socket.once('secureConnect', () => {
        stats.ok++;
        if (socket.isSessionReused()) stats.resumed++;
      });
      socket.on('error', (err) => {
        stats.errors++;
        stats.lastError = err.message;
      });
      socket.on('data', () => {
        // Nothing is expected; reading keeps tickets flowing.
      });
      socket.once('close', () => {
        clearTimeout(guard);
        resolve({ session: latest, socket });
      });
    });
  }

  /** `concurrency` loops of connect-handshake-close; with `resume`, each offers its previous ticket. */
  handshakeLoops(port: number, concurrency: number, resume: boolean): LoadHandle {
    const stats = newStats();
    let running = true;
    const loop = async (): Promise<void> => {
      let session: Buffer | undefined;
      for (let i = 0; i < MAX_ITERATIONS && running; i++) {
        const result = await this.handshakeOnce(port, resume ? session : undefined, stats);
        // Keep the old ticket if this connection got none.
        if (result.session !== undefined) session = result.session;
      }
    };
    const loops = Array.from({ length: concurrency }, () => loop());
    return {
      stats,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  /**
   * The fleet: `concurrency` loops of connect-handshake-close where each
   * connection takes the next of `identities` (one client certificate each,
   * cycling), and with `resume` offers the ticket that identity got last.
   */
  fleetHandshakeLoops(port: number, concurrency: number, resume: boolean, identities: readonly SecureContext[]): LoadHandle {
    const stats = newStats();
    // Tickets per server (port), kept across rounds so each identity resumes with its own.
    let sessions = this.fleetSessions.get(port);
    if (sessions === undefined || sessions.length !== identities.length) {
      sessions = identities.map(() => undefined);
      this.fleetSessions.set(port, sessions);
    }
    const tickets = sessions;
    let next = 0;
    let running = true;
    const loop = async (): Promise<void> => {
      for (let i = 0; i < MAX_ITERATIONS && running; i++) {
        const index = next;
        next = (next + 1) % identities.length;
        const result = await this.handshakeOnce(port, resume ? tickets[index] : undefined, stats, false, identities[index]);
        if (result.session !== undefined) tickets[index] = result.session;
      }
    };
    const loops = Array.from({ length: concurrency }, () => loop());
    return {
      stats,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  /** Opens one secured connection and resolves once it is up. */
  open(port: number, stats: ClientStats): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.options(port));
      const guard = setTimeout(() => socket.destroy(new Error('handshake did not finish in time')), HANG_GUARD_MS);
      socket.on('error', (err) => {
        stats.errors++;
        stats.lastError = err.message;
        clearTimeout(guard);
        reject(err);
      });
      socket.once('secureConnect', () => {
        clearTimeout(guard);
        stats.ok++;
        resolve(socket);
      });
    });
  }

  /** Client to server: writes 64 KiB chunks on one connection for as long as it runs. */
  async bulkUpload(port: number): Promise<LoadHandle> {
    const stats = newStats();
    const socket = await this.open(port, stats);
    const chunk = Buffer.alloc(64 * 1024, 0xa5);
    let running = true;
    let isParked = false;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const step = (): void => {
      isParked = false;
      for (let i = 0; i < 1024 && running && !socket.destroyed; i++) {
        stats.bytes += chunk.length;
        if (!socket.write(chunk)) {
          isParked = true;
          socket.once('drain', step);
          return;
        }
      }
      if (running && !socket.destroyed) setImmediate(step);
      else done();
    };
    socket.once('close', () => done());
    step();
    return {
      stats,
      stop: async () => {
        running = false;
        if (isParked) {
          socket.removeListener('drain', step);
          done();
        }
        await finished;
        await closeSocket(socket);
      },
    };
  }

  /** Server to client: one connection that reads and discards; the server decides when to send. */
  async bulkDownload(port: number): Promise<LoadHandle & { socket: TLSSocket }> {
    const stats = newStats();
    const socket = await this.open(port, stats);
    socket.on('data', (chunk: Buffer) => {
      stats.bytes += chunk.length;
    });
    return { stats, socket, stop: () => closeSocket(socket) };
  }

  /**
   * Keep-alive HTTP/1.1: `connections` connections, each with one request
   * in flight at a time, read with the benches' minimal response reader.
   */
  async httpLoops(port: number, connections: number): Promise<LoadHandle> {
    const stats = newStats();
    const sockets = await Promise.all(Array.from({ length: connections }, () => this.open(port, stats)));
    let running = true;
    const request = Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n', 'latin1');
    const loops = sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          const reader = new ResponseReader();
          let iterations = 0;
          const send = (): void => {
            if (!running || socket.destroyed || ++iterations > MAX_ITERATIONS) {
              resolve();
              return;
            }
            socket.write(request);
          };
          socket.on('data', (chunk: Buffer) => {
            for (const response of reader.push(chunk)) {
              if (response.status === 200) stats.responses++;
              else {
                stats.errors++;
                stats.lastError = response.statusLine;
              }
              send();
            }
          });
          socket.once('close', () => resolve());
          socket.on('error', (err) => {
            stats.errors++;
            stats.lastError = err.message;
          });
          send();
        }),
    );
    return {
      stats,
      stop: async () => {
        running = false;
        await Promise.all(loops);
        await Promise.all(sockets.map((s) => closeSocket(s)));
      },
    };
  }

  /** Opens `count` connections, `parallel` at a time, and leaves them idle. */
  async openIdle(port: number, count: number, parallel: number): Promise<{ sockets: TLSSocket[]; stats: ClientStats }> {
    const stats = newStats();
    const sockets: TLSSocket[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        next++;
        const socket = await this.open(port, stats);
        socket.on('data', () => undefined);
        sockets.push(socket);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, count) }, () => worker()));
    return { sockets, stats };
  }
}

/** Ends a socket and waits for 'close' (destroying it if the peer does not answer). */
export function closeSocket(socket: TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) {
      resolve();
      return;
    }
    const guard = setTimeout(() => socket.destroy(), 2_000);
    socket.once('close', () => {
      clearTimeout(guard);
      resolve();
    });
    socket.on('error', () => undefined);
    socket.end();
  });
}
