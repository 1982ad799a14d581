/**
 * The PKCS#12 key derivation function (RFC 7292 Appendix B), which a PFX's
 * MacData still uses for its MAC key: OpenSSL, NSS and browsers verify the
 * MAC with it, and node:crypto does not expose it. PBES2 (the bag encryption)
 * uses PBKDF2 instead, which node:crypto does provide.
 */
import { createHash } from 'node:crypto';

/** RFC 7292 Appendix B.3: the purpose byte D is filled with. */
export const Pkcs12KdfId = { key: 1, iv: 2, mac: 3 } as const;
export type Pkcs12KdfId = (typeof Pkcs12KdfId)[keyof typeof Pkcs12KdfId];

/** The hashes keysmith derives with: u = output bytes, v = block bytes (both have 512-bit blocks). */
const HASHES = { sha1: { u: 20, v: 64 }, sha256: { u: 32, v: 64 } } as const;
export type Pkcs12KdfHash = keyof typeof HASHES;

export interface Pkcs12KdfInput {
  readonly hash: Pkcs12KdfHash;
  /** The password as RFC 7292 Appendix B.1 formats it: `bmpPassword(text)`. */
  readonly password: Uint8Array;
  readonly salt: Uint8Array;
  readonly id: Pkcs12KdfId;
  readonly iterations: number;
  /** n, the number of bytes wanted. */
  readonly length: number;
}

/**
 * RFC 7292 Appendix B.1: the password as a BMPString (big-endian UTF-16)
 * followed by a two-byte zero terminator. Characters outside the BMP become
 * surrogate pairs, as OpenSSL's OPENSSL_utf82uni writes them.
 */
export function bmpPassword(text: string): Uint8Array {
  if (Buffer.from(text, 'utf8').toString('utf8') !== text) throw new RangeError('the passphrase is not well-formed Unicode');
  const out = new Uint8Array(text.length * 2 + 2);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    out[2 * i] = unit >> 8;
    out[2 * i + 1] = unit & 0xff;
  }
  return out;
}

/** `source` repeated to fill v * ceil(len / v) bytes (RFC 7292 Appendix B.2 steps 2 and 3); empty stays empty. */
function stretch(source: Uint8Array, v: number): Buffer {
  const out = Buffer.alloc(v * Math.ceil(source.byteLength / v));
  for (let i = 0; i < out.length; i++) out[i] = source[i % source.byteLength] ?? 0;
  return out;
}

/** RFC 7292 Appendix B.2, steps 1 to 7. */
export function pkcs12Kdf(input: Pkcs12KdfInput): Uint8Array {
  const { u, v } = HASHES[input.hash];
  if (!Number.isSafeInteger(input.iterations) || input.iterations < 1)
    throw new RangeError('PKCS#12 KDF: iterations must be a positive integer');
  if (!Number.isSafeInteger(input.length) || input.length < 1) throw new RangeError('PKCS#12 KDF: length must be a positive integer');
  const diversifier = Buffer.alloc(v, input.id); // step 1: D
  const i = Buffer.concat([stretch(input.salt, v), stretch(input.password, v)]); // steps 2-4: I = S || P
  const blocks = Math.ceil(input.length / u); // step 5: c
  const out = Buffer.alloc(blocks * u);
  for (let block = 0; block < blocks; block++) {
    // Step 6a: A_i = H^r(D || I).
    let a = createHash(input.hash).update(diversifier).update(i).digest();
    for (let r = 1; r < input.iterations; r++) a = createHash(input.hash).update(a).digest();
    a.copy(out, block * u);
    if (block === blocks - 1) break;
    // Steps 6b-6c: B = A_i repeated to v bytes; each v-byte block I_j of I becomes (I_j + B + 1) mod 2^(8v).
    const b = stretch(a, v);
    for (let j = 0; j < i.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (i[j + k] ?? 0) + (b[k] ?? 0) + carry;
        i[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return new Uint8Array(out.subarray(0, input.length)); // step 7
}
