import { createCipheriv, createDecipheriv, createHash, createHmac, type CipherGCM, type DecipherGCM } from 'node:crypto';
import { pooledRandom } from '../../shared/random.js';
import {
  generateKeyExchange,
  type AeadOpener,
  type AeadSealer,
  type CryptoProvider,
  type KeyExchange,
  type PrivateKey,
  type PublicKey,
  type RunningHash,
} from './provider.js';
import { signWithScheme, verifyWithScheme } from './signatures.js';
import type { AeadName, HashName } from './suites.js';

const AEAD_TAG_LENGTH = 16;
/** The HKDF-Expand counter byte of the first block (RFC 5869 §2.3: T(1) = HMAC(PRK, info || 0x01)). */
const FIRST_BLOCK = Buffer.of(1);

function hashLengthOf(hash: HashName): number {
  return hash === 'sha256' ? 32 : 48;
}

/**
 * The provider on node:crypto (OpenSSL). HKDF is built on HMAC here: Node's
 * hkdfSync cannot run extract and expand separately and costs ~4x a bare
 * HMAC. Randomness is drawn from the system in 4 KiB blocks (a handshake
 * takes a dozen small values). Subclass it to replace a few primitives and
 * keep the rest (tests replace randomness, key shares and signatures).
 */
export class NodeCryptoProvider implements CryptoProvider {
  private readonly takeRandom = pooledRandom();

  randomBytes(length: number): Buffer {
    return this.takeRandom(length);
  }

  generateKeyExchange(group: number): KeyExchange {
    return generateKeyExchange(group, (n) => this.randomBytes(n));
  }

  startHash(hash: HashName): RunningHash {
    return createHash(hash);
  }

  hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Buffer {
    return createHmac(hash, key).update(data).digest();
  }

  hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Buffer {
    return createHmac(hash, salt).update(ikm).digest();
  }

  hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Buffer {
    if (length <= hashLengthOf(hash)) {
      // One block, the case for every TLS 1.3 label.
      const block = createHmac(hash, prk).update(info).update(FIRST_BLOCK).digest();
      return length === block.length ? block : block.subarray(0, length);
    }
    const blocks: Buffer[] = [];
    let previous: Buffer = Buffer.alloc(0);
    let produced = 0;
    for (let counter = 1; produced < length; counter++) {
      previous = createHmac(hash, prk).update(previous).update(info).update(Buffer.of(counter)).digest();
      blocks.push(previous);
      produced += previous.length;
    }
    return Buffer.concat(blocks).subarray(0, length);
  }

  aeadSealer(aead: AeadName, key: Buffer, nonce: Buffer): AeadSealer {
    // One call site per overload keeps the AEAD typing exact.
    return aead === 'chacha20-poly1305'
      ? // @types/node gives ChaCha20-Poly1305's setAAD a required plaintextLength (a CCM need); at run time it takes the GCM shape.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it (see above)
        (createCipheriv(aead, key, nonce, { authTagLength: AEAD_TAG_LENGTH }) as unknown as CipherGCM)
      : createCipheriv(aead, key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  }

  aeadOpener(aead: AeadName, key: Buffer, nonce: Buffer): AeadOpener {
    return aead === 'chacha20-poly1305'
      ? // @types/node gives ChaCha20-Poly1305's setAAD a required plaintextLength (a CCM need); at run time it takes the GCM shape.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it (see above)
        (createDecipheriv(aead, key, nonce, { authTagLength: AEAD_TAG_LENGTH }) as unknown as DecipherGCM)
      : createDecipheriv(aead, key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  }

  sign(scheme: number, key: PrivateKey, content: Buffer): Buffer {
    return signWithScheme(scheme, key, content);
  }

  verify(scheme: number, key: PublicKey, content: Buffer, signature: Buffer): boolean {
    return verifyWithScheme(scheme, key, content, signature);
  }
}

/** The engine's default provider, shared by every server and client not given another. */
export const nodeCryptoProvider: CryptoProvider = new NodeCryptoProvider();
