import { connect as netConnect, type Socket } from 'node:net';
import { TlsAlertError } from '../alert.js';
import { resolveClientConfig } from '../config.js';
import { Connection } from '../connection.js';
import {
  decodeTls12Session,
  isTls12Session,
  sessionFromTicket,
  startClientHandshake,
  type Tls12ClientSession,
} from '../handshake/client/index.js';
import type { HandshakeResult } from '../handshake/state.js';
import type { TlsConnectOptions } from '../options.js';
import { decodeClientSession, encodeClientSession, type ClientSession } from '../tickets.js';
import { TlsSocket } from './tls-socket.js';

/**
 * Opens a TLS 1.3 client connection (or TLS 1.2 with minVersion
 * 'TLSv1.2'), like node:tls's connect. The socket emits 'secure' after the
 * handshake and 'session' (a Buffer to pass back as `session`) for each
 * ticket the server sends.
 */
export function connect(options: TlsConnectOptions, onSecure?: () => void): TlsSocket {
  const config = resolveClientConfig(options);
  const cacheKey = `${config.servername ?? options.host ?? 'localhost'}:${options.port ?? 443}`;
  const offered = options.session ?? options.sessionCache?.take(cacheKey);
  const { session, session12 } = decodeOffered(offered);
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
        // A TLS 1.2 ticket came inside the handshake (RFC 5077 §3.3): its session goes out after 'secure'.
        const fresh12 = r.tls12Session;
        if (fresh12 === undefined) return;
        options.sessionCache?.store(cacheKey, fresh12);
        queueMicrotask(() => socket.emit('session', fresh12));
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
    connection.start((ctx) => startClientHandshake(ctx, config, session, session12));
  } finally {
    const hello = connection.takeOutgoing();
    if (hello !== undefined) transport.write(hello);
  }
  return socket;
}

/** A session from the 'session' event: TLS 1.3 (a PSK) or TLS 1.2 (a ticket for session_ticket), told apart by its first byte. */
function decodeOffered(offered: Uint8Array | undefined): { session?: ClientSession; session12?: Tls12ClientSession } {
  if (offered === undefined) return {};
  try {
    return isTls12Session(offered) ? { session12: decodeTls12Session(offered) } : { session: decodeClientSession(offered) };
  } catch {
    return {}; // A damaged session only costs a full handshake.
  }
}
