/**
 * What `keysmith serve` does before it makes anything, so a start that fails
 * leaves nothing behind:
 *
 * 1. The configuration is read (a bad one ends the start before any file).
 * 2. The listener binds its TCP port (a taken or privileged port ends the
 *    start before the data directory, the CA or the ledger exist). The TLS
 *    server later adopts this very socket, so the port is never free in
 *    between and the listener certificate is issued only for a listener
 *    that holds its port.
 * 3. The plain-HTTP OCSP port, when configured, is probed (bound and
 *    released: fastify binds it itself later).
 * 4. Only then is the data directory made, the CA created, the ledger
 *    opened and the identities issued. Should anything after step 4 fail on
 *    a data directory that was new (or empty) at step 1, what this start put
 *    there is removed again (SQLite only: a PostgreSQL ledger is shared, and
 *    removing the CA a cluster's ledger already names would orphan it).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';

/** The state of the data directory before the start touched it. */
export interface DataDirBefore {
  readonly existed: boolean;
  /** Entries present before the start; only what is not listed here is removed on a failed start. */
  readonly entries: ReadonlySet<string>;
}

export function dataDirBefore(path: string): DataDirBefore {
  if (!existsSync(path)) return { existed: false, entries: new Set() };
  try {
    return { existed: true, entries: new Set(readdirSync(path)) };
  } catch {
    // Unreadable: the start fails on it anyway; remove nothing.
    return { existed: true, entries: new Set(['*']) };
  }
}

/**
 * After a failed start: removes the data directory this start created, or,
 * when it existed empty, the entries it put there. A directory that held
 * anything before is left exactly as it is (the ledger's own transactions
 * keep it whole).
 */
export function removeWhatThisStartMade(path: string, before: DataDirBefore): void {
  if (before.entries.size > 0) return;
  try {
    if (!before.existed) {
      rmSync(path, { recursive: true, force: true });
      return;
    }
    for (const entry of readdirSync(path)) rmSync(join(path, entry), { recursive: true, force: true });
  } catch {
    // Best effort: the start's own error is the one to report.
  }
}

export interface BoundListener {
  readonly listener: NetServer;
  /** The port bound (port 0 resolved). */
  readonly port: number;
}

/**
 * Binds `host:port` for the TLS server to adopt. Until it does, a
 * connection is closed at once rather than left waiting on a socket no one
 * reads.
 */
export async function bindListener(host: string, port: number): Promise<BoundListener> {
  const listener = createServer();
  const refuseUntilAdopted = (socket: Socket): void => {
    socket.destroy();
  };
  listener.on('connection', refuseUntilAdopted);
  await listenOn(listener, host, port, 'listen');
  const address = listener.address();
  if (address === null || typeof address === 'string') {
    listener.close();
    throw new Error(`could not bind a TCP port on ${host}`);
  }
  return { listener, port: address.port };
}

/** Binds and releases `host:port`: a second listener started later fails early here instead, for most causes. */
export async function probeListen(host: string, port: number, setting: string): Promise<void> {
  const probe = createServer();
  await listenOn(probe, host, port, setting);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

function listenOn(server: NetServer, host: string, port: number, setting: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(bindError(err, host, port, setting));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** EADDRINUSE, EACCES, EADDRNOTAVAIL as sentences naming the address, the setting and what to do. */
export function bindError(err: NodeJS.ErrnoException, host: string, port: number, setting: string): Error {
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const variable = setting === 'listen' ? 'KEYSMITH_LISTEN (listen)' : setting;
  switch (err.code) {
    case 'EADDRINUSE':
      return new Error(
        `cannot listen on ${address}: the address is already in use (another keysmith or another program holds it); stop that program or set ${variable} to a free port. Nothing was created.`,
        { cause: err },
      );
    case 'EACCES':
    case 'EPERM':
      return new Error(
        `cannot listen on ${address}: permission denied (ports below 1024 need privileges); use a port of 1024 or more in ${variable}, or grant CAP_NET_BIND_SERVICE. Nothing was created.`,
        { cause: err },
      );
    case 'EADDRNOTAVAIL':
      return new Error(
        `cannot listen on ${address}: no network interface of this machine has that address; fix ${variable}. Nothing was created.`,
        { cause: err },
      );
    default:
      return new Error(`cannot listen on ${address} (${variable}): ${err.message}. Nothing was created.`, { cause: err });
  }
}
