/**
 * keysmith's TLS 1.3 engine: the public surface. Everything else in
 * src/tls is internal. Imports only node:* and src/shared.
 */
import type { TlsServerOptions } from './options.js';
import { TlsServer } from './net/server.js';
import type { TlsSocket } from './net/tls-socket.js';

export { TlsAlertError, AlertDescription, type AlertName } from './alert.js';
export { connect } from './net/client.js';
export { TlsServer } from './net/server.js';
export { SessionCache } from './net/session-cache.js';
export { TlsSocket, type CipherInfo } from './net/tls-socket.js';
export { NodeCryptoProvider, nodeCryptoProvider } from './crypto/node-provider.js';
export type { EarlyDataOutcome, EarlyDataRefusal } from './early-data-channel.js';
export type { AeadOpener, AeadSealer, CryptoProvider, KeyExchange, PrivateKey, PublicKey, RunningHash } from './crypto/provider.js';
export type {
  ClientAuthMode,
  CipherSuiteName,
  GroupName,
  PeerCertificate,
  PeerCertificates,
  PemInput,
  TlsCommonOptions,
  TlsConnectOptions,
  TlsServerOptions,
  VerifyOcspStaple,
  VerifyPeer,
} from './options.js';

export function createServer(options: TlsServerOptions, onSecureConnection?: (socket: TlsSocket) => void): TlsServer {
  return new TlsServer(options, onSecureConnection);
}
