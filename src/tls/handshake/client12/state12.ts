import { DecodeError } from '../../alert.js';
import { HandshakeType } from '../../codec/enums.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { StateBase, type HandshakeState } from '../state.js';

/**
 * A state of our TLS 1.2 handshake. RFC 5246 §7.4.1.1: a HelloRequest that
 * arrives while a handshake is under way is ignored by the client, and it
 * never enters the handshake hashes; so every state takes it and stays
 * where it is. (After the handshake the connection refuses it: no
 * renegotiation.)
 */
export abstract class ClientState12 extends StateBase {
  override handle(message: HandshakeMessage): HandshakeState {
    if (message.type !== HandshakeType.hello_request) return super.handle(message);
    // §7.4.1.1: struct { } HelloRequest.
    if (message.body.length !== 0) throw new DecodeError(`HelloRequest of ${message.body.length} bytes`);
    return this;
  }
}
