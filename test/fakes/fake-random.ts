import { createHash } from 'node:crypto';
import { NamedGroup } from '../../src/tls/codec/enums.js';
import { NodeCryptoProvider } from '../../src/tls/crypto/node-provider.js';
import { EcdhExchange, generateKeyExchange, type KeyExchange } from '../../src/tls/crypto/provider.js';

/**
 * A CryptoProvider whose randomness is a pure function of a seed: SHA-256 in
 * counter mode. Ephemeral (EC)DHE keys come from the same stream, so two runs
 * with one seed put the same randoms, session ids and key shares on the wire
 * (Go's handshake_test.go pins randomness the same way).
 *
 * Keys are built from drawn secrets (a JWK-imported `d` for X25519/X448,
 * `ECDH.setPrivateKey` for the NIST curves, `DiffieHellman.setPrivateKey`
 * for FFDHE), never by JWK-exporting a generated key: the Node 20 hazard in
 * PERF-NOTES concerns JWK export of generateKeyPairSync keys.
 */
export class FakeRandom extends NodeCryptoProvider {
  private counter = 0;
  private pool: Buffer = Buffer.alloc(0);

  constructor(private readonly seed: string = 'keysmith') {
    super();
  }

  /** How many bytes have been drawn so far. */
  get drawn(): number {
    return this.counter * 32 - this.pool.length;
  }

  override randomBytes(length: number): Buffer {
    const parts: Buffer[] = [];
    let need = length;
    while (need > 0) {
      if (this.pool.length === 0) this.pool = this.block();
      const take = Math.min(need, this.pool.length);
      parts.push(this.pool.subarray(0, take));
      this.pool = this.pool.subarray(take);
      need -= take;
    }
    return Buffer.concat(parts, length);
  }

  override generateKeyExchange(group: number): KeyExchange {
    switch (group) {
      case NamedGroup.secp256r1:
      case NamedGroup.secp384r1:
      case NamedGroup.secp521r1:
        return new EcdhExchange(group, (n) => this.randomBytes(n));
      default:
        // X25519, X448 and FFDHE draw their secrets from the random source they are given.
        return generateKeyExchange(group, (n) => this.randomBytes(n));
    }
  }

  private block(): Buffer {
    const counter = Buffer.allocUnsafe(8);
    counter.writeBigUInt64BE(BigInt(this.counter++));
    return createHash('sha256').update(this.seed).update(counter).digest();
  }
}
