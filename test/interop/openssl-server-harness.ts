import { connect, type TlsConnectOptions, type TlsSocket } from '../../src/tls/index.js';
import { nextEvent, startOpensslServer, type OpensslServer } from '../helpers/processes.js';
import { fixture, fixturePath, readToEnd, type Scope } from './harness.js';

/** The server identities in test/fixtures an s_server can present. */
export type ServerIdentity = 'server' | 'server-rsa' | 'server-p384' | 'server-ed25519' | 'server-wildcard';

/** `openssl s_server` held to one version, presenting `name`'s key and chain and requiring a client certificate from the test CA. */
export function sServerArgs(version: '-tls1_2' | '-tls1_3', name: ServerIdentity = 'server', ...extra: string[]): string[] {
  const identity = [
    '-cert',
    fixturePath(`${name}.pem`),
    '-key',
    fixturePath(`${name}.key`),
    '-cert_chain',
    fixturePath('intermediate.pem'),
  ];
  return [version, '-Verify', '1', '-CAfile', fixturePath('ca.pem'), ...identity, ...extra];
}

/** What the "our client with openssl s_server" suites share, bound to the suite's scope and the connect options it always sets. */
export interface OurClientAgainstSServer {
  /** Starts s_server with `args`; it is stopped with the scope. */
  sServer(args: readonly string[]): Promise<OpensslServer>;
  /** Our client with the test client identity and CA, to 127.0.0.1:`port` as "localhost"; `options` override. */
  dial(port: number, options?: Partial<TlsConnectOptions>): TlsSocket;
  /** Connects, sends "GET /" to an s_server -www, and returns the status page with the sessions the socket emitted. */
  fetchStatusPage(port: number, options?: Partial<TlsConnectOptions>): Promise<{ socket: TlsSocket; page: string; sessions: Buffer[] }>;
}

/** Our client with the test client identity and CA, to 127.0.0.1:`port` as "localhost", closed with `scope`; `options` override. */
export function dialTestClient(scope: Scope, port: number, options: Partial<TlsConnectOptions> = {}): TlsSocket {
  return scope.socket(
    connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      key: fixture('client.key'),
      cert: fixture('client-chain.pem'),
      ca: fixture('ca.pem'),
      ...options,
    }),
  );
}

export function ourClientAgainstSServer(scope: Scope, defaults: Partial<TlsConnectOptions> = {}): OurClientAgainstSServer {
  const dial = (port: number, options: Partial<TlsConnectOptions> = {}): TlsSocket =>
    dialTestClient(scope, port, { ...defaults, ...options });
  return {
    async sServer(args) {
      const server = await startOpensslServer(args);
      scope.process(server.process);
      return server;
    },
    dial,
    async fetchStatusPage(port, options = {}) {
      const socket = dial(port, options);
      const sessions: Buffer[] = [];
      socket.on('session', (session: Buffer) => sessions.push(session));
      const page = readToEnd(socket);
      await nextEvent(socket, 'secure');
      socket.write('GET / HTTP/1.0\r\n\r\n');
      return { socket, page: await page, sessions };
    },
  };
}
