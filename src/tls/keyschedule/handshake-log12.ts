import type { CryptoProvider } from '../crypto/provider.js';
import type { HashName } from '../crypto/suites.js';

/**
 * The TLS 1.2 handshake messages so far (RFC 5246 §7.4.8, §7.4.9). Unlike
 * TLS 1.3's running transcript hash it keeps the bytes: a CertificateVerify
 * signs the messages themselves, with the hash of whichever scheme the
 * client picked, while Finished and the extended master secret hash them
 * with the suite's PRF hash.
 */
export class HandshakeLog12 {
  private readonly messages: Buffer[] = [];

  constructor(private readonly crypto: CryptoProvider) {}

  add(message: Uint8Array): void {
    this.messages.push(Buffer.from(message));
  }

  /** handshake_messages: every message so far, concatenated (what a CertificateVerify signs). */
  bytes(): Buffer {
    return Buffer.concat(this.messages);
  }

  /** Hash(handshake_messages) with `hash` (the session hash of RFC 7627 §3, and Finished's input). */
  hash(hash: HashName): Buffer {
    const running = this.crypto.startHash(hash);
    for (const m of this.messages) running.update(m);
    return running.digest();
  }
}
