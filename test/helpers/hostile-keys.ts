/**
 * Keys and DER structures no well-behaved library makes, built by hand for
 * the key-policy tests: SPKIs with the point at infinity or off-curve
 * points, RSA keys with exponent 1 or 3 (with real signatures, so the only
 * thing that can refuse them is the policy), moduli with a small factor,
 * close primes or the ROCA structure; PKCS#10 requests and certificates that
 * carry any SPKI at all.
 */
import { checkPrimeSync, createHash, createPrivateKey, generatePrimeSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { encodeOid, Tag, tlv } from '../../src/pkix/index.js';

export const OIDS = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
  secp256k1: '1.3.132.0.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  commonName: '2.5.4.3',
} as const;

export const CURVE_FIELD_BYTES: Readonly<Record<'p256' | 'p384' | 'p521' | 'secp256k1', number>> = {
  p256: 32,
  p384: 48,
  p521: 66,
  secp256k1: 32,
};

const seq = (...parts: Uint8Array[]): Uint8Array => tlv(Tag.sequence, ...parts);
const nullValue = (): Uint8Array => tlv(Tag.null);

/** A positive DER INTEGER from an unsigned magnitude. */
export function derInteger(value: bigint): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const bytes = Buffer.from(hex, 'hex');
  return tlv(Tag.integer, (bytes[0] ?? 0) & 0x80 ? Uint8Array.from([0, ...bytes]) : bytes);
}

export function ecSpki(curveOid: string, point: Uint8Array): Uint8Array {
  return seq(seq(encodeOid(OIDS.ecPublicKey), encodeOid(curveOid)), tlv(Tag.bitString, Uint8Array.of(0), point));
}

/** The point at infinity (SEC 1 §2.3.4: the single octet 00) on the given curve: the SPKI that once aborted Node. */
export function infinitySpki(curveOid: string): Uint8Array {
  return ecSpki(curveOid, Uint8Array.of(0));
}

export function rsaSpki(modulus: bigint, exponent: bigint): Uint8Array {
  return seq(
    seq(encodeOid(OIDS.rsaEncryption), nullValue()),
    tlv(Tag.bitString, Uint8Array.of(0), seq(derInteger(modulus), derInteger(exponent))),
  );
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
}

export function bigIntToBytes(value: bigint, length?: number): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const bytes = Buffer.from(hex, 'hex');
  if (length === undefined || bytes.length >= length) return new Uint8Array(bytes);
  return Uint8Array.from([...new Uint8Array(length - bytes.length), ...bytes]);
}

export function bitLength(value: bigint): number {
  return value.toString(2).length;
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('not invertible');
  return ((oldS % m) + m) % m;
}

/** A random prime of exactly `bits` bits with its top two bits set (so two make a modulus of 2·bits bits). */
export function topPrime(bits: number, accept: (p: bigint) => boolean = () => true): bigint {
  for (;;) {
    const p = generatePrimeSync(bits, { bigint: true });
    if (p >> BigInt(bits - 2) === 3n && accept(p)) return p;
  }
}

export interface HandmadeRsaKey {
  readonly modulus: bigint;
  readonly exponent: bigint;
  readonly spki: Uint8Array;
  /** PKCS#1 v1.5 SHA-256 signature over `data` that verifies with (modulus, exponent). */
  signSha256(data: Uint8Array): Uint8Array;
}

/** An RSA key from two primes and any exponent coprime to λ(n); e = 1 signs with the identity. */
export function rsaKeyFromPrimes(p: bigint, q: bigint, exponent: bigint): HandmadeRsaKey {
  const modulus = p * q;
  const spki = rsaSpki(modulus, exponent);
  const k = Math.ceil(bitLength(modulus) / 8);
  const phi = (p - 1n) * (q - 1n);
  const d = exponent === 1n ? 1n : modInverse(exponent, phi);
  const b64 = (v: bigint): string => Buffer.from(bigIntToBytes(v)).toString('base64url');
  let privateKey: KeyObject | undefined;
  return {
    modulus,
    exponent,
    spki,
    signSha256(data: Uint8Array): Uint8Array {
      if (exponent === 1n) {
        // s = m^d mod n with d = 1: the "signature" is EMSA-PKCS1-v1_5 (RFC 8017 §9.2) itself, and verifies.
        const digestInfo = Buffer.concat([
          Buffer.from('3031300d060960864801650304020105000420', 'hex'),
          createHash('sha256').update(data).digest(),
        ]);
        const padding = Buffer.alloc(k - digestInfo.length - 3, 0xff);
        return new Uint8Array(Buffer.concat([Buffer.from([0, 1]), padding, Buffer.from([0]), digestInfo]));
      }
      privateKey ??= createPrivateKey({
        key: {
          kty: 'RSA',
          n: b64(modulus),
          e: b64(exponent),
          d: b64(d),
          p: b64(p),
          q: b64(q),
          dp: b64(d % (p - 1n)),
          dq: b64(d % (q - 1n)),
          qi: b64(modInverse(q, p)),
        },
        format: 'jwk',
      });
      return new Uint8Array(sign('sha256', data, privateKey));
    },
  };
}

/** RSA-2048 with e = 3, a real key (both primes ≡ 2 mod 3, so 3 is invertible mod φ). */
export function rsaExponent3Key(): HandmadeRsaKey {
  const accept = (p: bigint): boolean => p % 3n === 2n;
  return rsaKeyFromPrimes(topPrime(1024, accept), topPrime(1024, accept), 3n);
}

export function rsaExponent1Key(): HandmadeRsaKey {
  return rsaKeyFromPrimes(topPrime(1024), topPrime(1024), 1n);
}

/** A 2048-bit modulus whose primes are neighbours: Fermat's method factors it in its first round. */
export function closePrimesModulus(): bigint {
  const p = topPrime(1024);
  let q = p + 2n;
  while (!checkPrimeSync(q)) q += 2n;
  return p * q;
}

/** An odd 2048-bit modulus with the given small factor (the cofactor is random, not prime: the policy refuses it first). */
export function smallFactorModulus(factor: bigint): bigint {
  const cofactorBits = 2048 - bitLength(factor) + 1;
  const octets = Math.ceil(cofactorBits / 8);
  for (;;) {
    const cofactor = (bytesToBigInt(randomBytes(octets)) >> BigInt(octets * 8 - cofactorBits)) | (1n << BigInt(cofactorBits - 1)) | 1n;
    const n = cofactor * factor;
    if (bitLength(n) === 2048) return n;
  }
}

/** The primes of the ROCA discriminator: 3 to 167. */
export const ROCA_PRIMES: readonly bigint[] = [
  3n,
  5n,
  7n,
  11n,
  13n,
  17n,
  19n,
  23n,
  29n,
  31n,
  37n,
  41n,
  43n,
  47n,
  53n,
  59n,
  61n,
  67n,
  71n,
  73n,
  79n,
  83n,
  89n,
  97n,
  101n,
  103n,
  107n,
  109n,
  113n,
  127n,
  131n,
  137n,
  139n,
  149n,
  151n,
  157n,
  163n,
  167n,
];

/**
 * A prime of the ROCA form (Nemec et al., CCS 2017, §2): p = k·M + (65537^a mod M)
 * with M the product of the discriminator primes. Two of them make a modulus
 * that is a power of 65537 modulo each of those primes: the fingerprint.
 */
export function rocaPrime(bits: number): bigint {
  const m = ROCA_PRIMES.reduce((x, y) => x * y, 1n);
  // p in [1.5 · 2^(bits-1), 2^bits), so that two of them make a modulus of exactly 2·bits bits.
  const low = (3n << BigInt(bits - 2)) / m + 1n;
  const span = (1n << BigInt(bits)) / m - low;
  for (;;) {
    const residue = modPow(65537n, bytesToBigInt(randomBytes(8)), m);
    const p = (low + (bytesToBigInt(randomBytes(Math.ceil(bits / 8))) % span)) * m + residue;
    if (bitLength(p) === bits && checkPrimeSync(p)) return p;
  }
}

export function rocaModulus(): bigint {
  for (;;) {
    const n = rocaPrime(1024) * rocaPrime(1024);
    if (bitLength(n) === 2048) return n;
  }
}

/**
 * A PKCS#10 CertificationRequest (RFC 2986 §4) around any SPKI, signed by
 * `signer` (or carrying a junk signature, for keys that cannot sign).
 */
export function csrDer(
  spki: Uint8Array,
  options: { readonly commonName?: string; readonly signatureOid?: string; readonly signer?: (info: Uint8Array) => Uint8Array } = {},
): Uint8Array {
  const name = seq(
    tlv(Tag.set, seq(encodeOid(OIDS.commonName), tlv(Tag.utf8String, Buffer.from(options.commonName ?? 'hostile.example')))),
  );
  const info = seq(tlv(Tag.integer, Uint8Array.of(0)), name, spki, tlv(0xa0));
  const signatureOid = options.signatureOid ?? OIDS.ecdsaWithSha256;
  const algorithm = signatureOid === OIDS.sha256WithRsa ? seq(encodeOid(signatureOid), nullValue()) : seq(encodeOid(signatureOid));
  const signature = options.signer?.(info) ?? Uint8Array.from(Buffer.from('3006020101020101', 'hex'));
  return seq(info, algorithm, tlv(Tag.bitString, Uint8Array.of(0), signature));
}

export function csrPem(der: Uint8Array): string {
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${body}-----END CERTIFICATE REQUEST-----\n`;
}

/**
 * An X.509 v3 end-entity certificate (RFC 5280 §4.1) for any SPKI, issued by
 * the certificate `issuerDer` and signed (ECDSA P-256, SHA-256) with
 * `issuerKey`: what a CA that certified a hostile key would hand out.
 */
export function certificateDer(
  spki: Uint8Array,
  issuerDer: Uint8Array,
  issuerKey: KeyObject,
  options: { readonly commonName?: string; readonly nowMs?: number } = {},
): Uint8Array {
  const issuerTbs = readChildren(readChildren(issuerDer)[0] ?? new Uint8Array(0));
  // tbsCertificate: [0] version, serialNumber, signature, issuer, validity, subject, ...
  const issuerSubject = issuerTbs[5];
  if (issuerSubject === undefined) throw new Error('issuer certificate has no subject');
  const now = options.nowMs ?? Date.now();
  const utc = (ms: number): Uint8Array =>
    tlv(Tag.utcTime, Buffer.from(`${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(2, 14)}Z`));
  const algorithm = seq(encodeOid(OIDS.ecdsaWithSha256));
  const subject = seq(tlv(Tag.set, seq(encodeOid(OIDS.commonName), tlv(Tag.utf8String, Buffer.from(options.commonName ?? 'hostile key')))));
  const serial = Uint8Array.from(randomBytes(16));
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  const tbs = seq(
    tlv(0xa0, tlv(Tag.integer, Uint8Array.of(2))),
    tlv(Tag.integer, serial),
    algorithm,
    issuerSubject,
    seq(utc(now - 3_600_000), utc(now + 86_400_000)),
    subject,
    spki,
  );
  const signature = sign('sha256', tbs, { key: issuerKey, dsaEncoding: 'der' });
  return seq(tbs, algorithm, tlv(Tag.bitString, Uint8Array.of(0), signature));
}

/** The whole TLVs inside one constructed DER element (lengths up to 3 octets: enough for certificates). */
function readChildren(element: Uint8Array): Uint8Array[] {
  const [, first = 0] = element;
  const header = first < 0x80 ? 2 : 2 + (first & 0x7f);
  const out: Uint8Array[] = [];
  for (let i = header; i < element.length;) {
    const lengthOctet = element[i + 1] ?? 0;
    let length = lengthOctet;
    let head = 2;
    if (lengthOctet >= 0x80) {
      head = 2 + (lengthOctet & 0x7f);
      length = 0;
      for (let j = 0; j < (lengthOctet & 0x7f); j++) length = length * 256 + (element[i + 2 + j] ?? 0);
    }
    out.push(element.subarray(i, i + head + length));
    i += head + length;
  }
  return out;
}

/** An uncompressed P-256 point that is not on the curve: a real point with y changed by one. */
export function offCurvePoint(validPoint: Uint8Array): Uint8Array {
  const out = Uint8Array.from(validPoint);
  out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 1;
  return out;
}
