import { TlsAlertError } from './alert.js';
import { HandshakeType } from './codec/enums.js';

/*
 * What a connection refuses once a TLS 1.2 handshake is done: TLS 1.2 has
 * no post-handshake messages and no rekeying.
 */

/**
 * TLS 1.2 after the handshake: a ClientHello (or HelloRequest) asks for
 * renegotiation, which we refuse (RFC 5746 §4.2, §4.4; RFC 5246 §7.2.2
 * no_renegotiation, sent at warning level as that section says), and the
 * connection ends. Anything else is unexpected_message (TLS 1.2 has no
 * post-handshake messages a client sends).
 */
export function refuseTls12PostHandshake(type: number): never {
  if (type === HandshakeType.client_hello || type === HandshakeType.hello_request) {
    throw new TlsAlertError('no_renegotiation', 'renegotiation is not supported');
  }
  throw new TlsAlertError('unexpected_message', `post-handshake message type ${type} in TLS 1.2`);
}

/**
 * A handshake record once a TLS 1.2 connection is up: TLS 1.2 takes no
 * handshake message then (RFC 5746 §4.2, RFC 5246 §7.2.2), so it is refused
 * at its first record, rather than buffered whole or let hide in the body
 * of a partial message left after the Finished (`hasPartial`).
 */
export function refuseTls12HandshakeRecord(content: Buffer, hasPartial: boolean): never {
  if (hasPartial) throw new TlsAlertError('unexpected_message', 'handshake data after the TLS 1.2 handshake');
  return refuseTls12PostHandshake(content.readUInt8(0));
}

/** TLS 1.2 has no KeyUpdate: a key at its record limit ends the connection. */
export function tls12KeyExhausted(): never {
  throw new TlsAlertError('internal_error', 'TLS 1.2 record limit reached (no rekeying in TLS 1.2)');
}
