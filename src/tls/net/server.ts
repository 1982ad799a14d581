import { EventEmitter } from 'node:events';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { resolveServerConfig, type ServerConfig } from '../config.js';
import { Connection } from '../connection.js';
import { ExpectClientHello } from '../handshake/server/index.js';
import type { TlsServerOptions } from '../options.js';
import type { EarlyDataOutcome } from '../early-data-channel.js';
import { readProxyHeader, type ProxiedPeer } from './proxy-protocol.js';
import { TlsSocket } from './tls-socket.js';

/**
 * A TLS 1.3 server shaped like node:tls's: listen/close/address, emitting
 * 'secureConnection' with a TlsSocket (on accepted 0-RTT, before the
 * handshake ends), 'earlyData' with what became of offered 0-RTT, 'tlsClientError' for handshakes
 * that fail and 'drop' for connections refused past `maxConnections`.
 * Options are resolved once, here, not per connection.
 */
export class TlsServer extends EventEmitter {
  private readonly netServer: NetServer;
  private readonly config: ServerConfig;

  constructor(options: TlsServerOptions, onSecureConnection?: (socket: TlsSocket) => void) {
    super();
    this.config = resolveServerConfig(options);
    // Half-open transports: a peer's FIN after its close_notify must not cut the answers still owed to it (RFC 8446 §6.1).
    this.netServer = createNetServer({ allowHalfOpen: true }, (raw) => this.onTransport(raw));
    // Counts every open TCP connection, handshakes included; node:net closes the ones past it at once and emits 'drop'.
    if (this.config.maxConnections !== undefined) this.netServer.maxConnections = this.config.maxConnections;
    this.netServer.on('drop', (data?: unknown) => this.emit('drop', data));
    this.netServer.on('listening', () => this.emit('listening'));
    this.netServer.on('close', () => this.emit('close'));
    this.netServer.on('error', (err) => this.emit('error', err));
    if (onSecureConnection !== undefined) this.on('secureConnection', onSecureConnection);
  }

  /** A new TCP connection: from a source the caller trusts to send a PROXY header, that header comes first. */
  private onTransport(raw: Socket): void {
    const expectsHeader = this.config.proxyProtocolFrom;
    if (expectsHeader === undefined || !expectsHeader(raw.remoteAddress ?? '')) {
      this.accept(raw);
      return;
    }
    readProxyHeader(raw, this.config.handshakeTimeoutMs).then(
      (peer) => {
        this.accept(raw, peer);
        raw.resume();
      },
      (error: unknown) => {
        this.emit('proxyProtocolError', error, raw.remoteAddress);
        raw.destroy();
      },
    );
  }

  /**
   * Runs TLS over a transport accepted elsewhere. `peer`: the client a PROXY
   * header named, reported as the socket's remote address instead of the balancer's.
   */
  accept(raw: Socket, peer?: ProxiedPeer): TlsSocket {
    const socket = new TlsSocket(raw, {
      ...(peer === undefined ? {} : { peer }),
      handshakeTimeoutMs: this.config.handshakeTimeoutMs,
      allowHalfOpen: this.config.allowHalfOpen,
      ...(this.config.splitInbound === undefined ? {} : { splitInbound: this.config.splitInbound }),
    });
    const hooks = {
      onHandshakeComplete: socket.onHandshakeComplete.bind(socket),
      onData: socket.onData.bind(socket),
      onPeerClose: socket.onPeerClose.bind(socket),
      onEarlyData: socket.onEarlyData.bind(socket),
      ...(this.config.onKeyLog === undefined ? {} : { onKeyLog: this.config.onKeyLog }),
    };
    const connection = new Connection('server', this.config.provider, hooks, this.config.maxHandshakeMessageSize, this.config.now);
    connection.start((ctx) => new ExpectClientHello(ctx, this.config));
    socket.attach(connection);
    // Errors before 'secure' belong to the server, never to an unhandled 'error' event.
    socket.on('error', (err) => {
      if (!socket.isSecure) this.emit('tlsClientError', err, socket);
    });
    // With accepted 0-RTT the socket is handed on before the handshake ends, so early requests are answered at once.
    let isHandedOn = false;
    const handOn = (): void => {
      if (isHandedOn || socket.destroyed) return;
      isHandedOn = true;
      this.emit('secureConnection', socket);
    };
    socket.on('earlyData', (outcome: EarlyDataOutcome) => {
      this.emit('earlyData', outcome, socket);
      if (outcome.accepted) queueMicrotask(handOn);
    });
    socket.once('secure', handOn);
    return socket;
  }

  listen(port?: number, host?: string, callback?: () => void): this {
    this.netServer.listen(port, host, callback);
    return this;
  }

  /**
   * Takes over a TCP listener bound elsewhere (its handle, so no port is
   * ever free in between): the caller bound port 0 and needed the port
   * before it could build this server's options.
   */
  adopt(listener: NetServer, callback?: () => void): this {
    this.netServer.listen(listener, callback);
    return this;
  }

  close(callback?: (err?: Error) => void): this {
    this.netServer.close(callback);
    return this;
  }

  address(): AddressInfo | string | null {
    return this.netServer.address();
  }

  /** Open TCP connections, handshakes included. */
  connectionCount(): Promise<number> {
    return new Promise((resolve, reject) => this.netServer.getConnections((err, count) => (err === null ? resolve(count) : reject(err))));
  }

  get listening(): boolean {
    return this.netServer.listening;
  }

  ref(): this {
    this.netServer.ref();
    return this;
  }

  unref(): this {
    this.netServer.unref();
    return this;
  }
}
