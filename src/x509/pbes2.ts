/**
 * PBES2 encryption (RFC 8018 §6.2) with PBKDF2-HMAC-SHA256 and AES-256-CBC,
 * as PKCS#12 files carry it for the shrouded key bag and the certificates'
 * EncryptedData. The parameters have no schema in the asn1 packages keysmith
 * depends on, so they are written with the pkix DER writer, exactly as
 * RFC 8018 Appendix A.2, A.4 and B.2.5 lay them out.
 */
import { createCipheriv, pbkdf2Sync } from 'node:crypto';
import { derSequence, encodeOid, Tag, tlv } from '../pkix/index.js';

export const PBES2_OID = '1.2.840.113549.1.5.13';
const PBKDF2_OID = '1.2.840.113549.1.5.12';
const HMAC_WITH_SHA256_OID = '1.2.840.113549.2.9';
const AES256_CBC_OID = '2.16.840.1.101.3.4.1.42';

export interface Pbes2Parameters {
  /** PBKDF2 salt (RFC 8018 §4.1: at least 8 octets; keysmith draws 16, NIST SP 800-132 §5.1). */
  readonly salt: Uint8Array;
  readonly iterations: number;
  /** The AES-CBC initialisation vector, 16 random octets (RFC 8018 B.2.5). */
  readonly iv: Uint8Array;
}

export interface Pbes2Encrypted {
  /** The DER of PBES2-params, the AlgorithmIdentifier's parameters. */
  readonly parameters: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** A DER INTEGER for a non-negative safe integer, minimal octets (X.690 §8.3.2). */
export function derUnsigned(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative integer: ${value}`);
  const octets: number[] = [];
  for (let rest = value; ; rest = Math.floor(rest / 256)) {
    octets.unshift(rest % 256);
    if (rest < 256) break;
  }
  if ((octets[0] ?? 0) >= 0x80) octets.unshift(0);
  return tlv(Tag.integer, Uint8Array.from(octets));
}

/**
 * Encrypts `plaintext` under `password`: PBKDF2 takes the password's UTF-8
 * octets as they are (RFC 8018 §4: an octet string; OpenSSL passes the
 * passphrase bytes through unchanged for PBES2, unlike the PKCS#12 KDF's
 * BMPString), then AES-256-CBC with PKCS#7 padding (RFC 8018 §6.1.1 step 4,
 * the same padding RFC 5652 §6.3 names).
 */
export function pbes2Encrypt(plaintext: Uint8Array, password: string, parameters: Pbes2Parameters): Pbes2Encrypted {
  // RFC 8018 §4.1: the salt should be at least eight octets; §4.2: at least 1,000 iterations.
  if (parameters.salt.byteLength < 8) throw new RangeError('PBES2 salt must be at least 8 octets');
  if (parameters.iv.byteLength !== 16) throw new RangeError('AES-CBC needs a 16-octet IV');
  if (!Number.isSafeInteger(parameters.iterations) || parameters.iterations < 1000)
    throw new RangeError('PBKDF2 iteration count must be at least 1000');
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), parameters.salt, parameters.iterations, 32, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, parameters.iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  key.fill(0);
  return { parameters: pbes2Parameters(parameters), ciphertext: new Uint8Array(ciphertext) };
}

/**
 * RFC 8018 A.4 PBES2-params ::= SEQUENCE { keyDerivationFunc, encryptionScheme },
 * with A.2 PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER,
 * keyLength (omitted: AES-256 fixes it), prf hmacWithSHA256 with NULL parameters }
 * and B.2.5 aes256-CBC-PAD whose parameters are the IV.
 */
function pbes2Parameters(p: Pbes2Parameters): Uint8Array {
  const prf = derSequence([encodeOid(HMAC_WITH_SHA256_OID), tlv(Tag.null)]);
  const pbkdf2Params = derSequence([tlv(Tag.octetString, p.salt), derUnsigned(p.iterations), prf]);
  const keyDerivationFunc = derSequence([encodeOid(PBKDF2_OID), pbkdf2Params]);
  const encryptionScheme = derSequence([encodeOid(AES256_CBC_OID), tlv(Tag.octetString, p.iv)]);
  return derSequence([keyDerivationFunc, encryptionScheme]);
}
