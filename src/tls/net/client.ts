import { connect as netConnect, type Socket } from 'node:net';
import { TlsAlertError } from '../alert.js';
import { resolveClientConfig } from '../config.js';
import { Connection } from '../connection.js';
import { sessionFromTicket, startClientHandshake } from '../handshake/client/index.js';
import type { HandshakeResult } from '../handshake/state.js';
import type { TlsConnectOptions } from '../options.js';
import { decodeClientSession, encodeClientSession, type ClientSession } from '../tickets.js';
import { TlsSocket } from './tls-socket.js';

/**
 * Opens a TLS 1.3 client connection, like node:tls's connect. The socket
 * emits 'secure' after the handshake and 'session' (a Buffer to pass back
 * as `session`) for each ticket the server sends.
 */
export function connect(options: TlsConnectOptions, onSecure?: () => void): TlsSocket {
  const config = resolveClientConfig(options);
  const cacheKey = `${config.servername ?? options.host ?? 'localhost'}:${options.port ?? 443}`;
  const offered = options.session ?? options.sessionCache?.take(cacheKey);
  let session: ClientSession | undefined;
  if (offered !== undefined) {
    try {
      session = decodeClientSession(offered);
    } catch {
      session = undefined; // A damaged session only costs a full handshake.
    }
  }
  const transport = (options.socket as Socket | undefined) ?? netConnect({ host: options.host ?? 'localhost', port: options.port ?? 443 });
  const socket = new TlsSocket(transport, { handshakeTimeoutMs: config.handshakeTimeoutMs });
  let result: HandshakeResult | undefined;
  const connection = new Connection(
    'client',
    config.provider,
    {
      onHandshakeComplete: (r) => {
        result = r;
        // §4.2.10: 0-RTT the server did not take (or that could not be sent) goes first after the handshake.
        if (config.earlyData !== undefined && !socket.earlyDataAccepted) socket.resendFirst(config.earlyData);
        socket.onHandshakeComplete(r);
      },
      onEarlyData: (outcome) => socket.onEarlyData(outcome),
      onData: (data) => socket.onData(data),
      onPeerClose: () => socket.onPeerClose(),
      onPostHandshake: (message) => {
        // Post-handshake messages come only once the connection is up, after onHandshakeComplete set `result`.
        if (result === undefined) throw new TlsAlertError('unexpected_message', 'NewSessionTicket before the handshake completed');
        const fresh = sessionFromTicket(message, result, config);
        if (fresh === undefined) return;
        const encoded = encodeClientSession(fresh);
        options.sessionCache?.store(cacheKey, encoded);
        socket.emit('session', encoded);
      },
      ...(config.onKeyLog === undefined ? {} : { onKeyLog: config.onKeyLog }),
    },
    config.maxHandshakeMessageSize,
    config.now,
  );
  socket.attach(connection);
  if (onSecure !== undefined) socket.once('secure', onSecure);
  try {
    connection.start((ctx) => startClientHandshake(ctx, config, session));
  } finally {
    const hello = connection.takeOutgoing();
    if (hello !== undefined) transport.write(hello);
  }
  return socket;
}
