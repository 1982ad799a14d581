/** An ephemeral (EC)DHE key for one handshake (RFC 8446 §4.2.8). */
export interface KeyExchange {
  readonly group: number;
  /** Our key_exchange bytes: the raw X25519/X448 key, the uncompressed EC point, or Y zero-padded to the prime's length (FFDHE). */
  readonly publicKey: Buffer;
  /** Throws illegal_parameter when the peer's share is malformed or gives an all-zero secret. */
  computeSharedSecret(peerPublicKey: Buffer): Buffer;
}
