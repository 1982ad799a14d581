import { DomainError } from '../shared/errors.js';
import { pooledRandom } from '../shared/random.js';

export type RandomSource = (length: number) => Uint8Array;

/** 16 octets: 126 random bits after the two fixed bits below (CA/B BR §7.1 asks for at least 64). */
export const SERIAL_OCTETS = 16;

/*
 * Defaults to node:crypto's CSPRNG a block at a time (shared/random.ts: one
 * call per 256 serials; the call's fixed cost was ~1.6 % of the event loop at
 * svid-64); tests inject their own.
 */
const defaultRandom: RandomSource = pooledRandom();

/**
 * A fresh random serial as lowercase hex, always 32 digits. The top bit is
 * cleared so the INTEGER is positive (RFC 5280 §4.1.2.2) and the next bit is
 * set so the first octet is never zero: the DER encoding is exactly these 16
 * octets, with no leading 00 to strip and no sign octet to add.
 */
export function randomSerial(random: RandomSource = defaultRandom): string {
  const bytes = Uint8Array.from(random(SERIAL_OCTETS));
  if (bytes.length !== SERIAL_OCTETS) throw new Error(`random source returned ${bytes.length} bytes, wanted ${SERIAL_OCTETS}`);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

/**
 * A serial as the ledger stores it: lowercase hex of a positive integer with
 * no leading zero octet. Accepts the forms other tools print (upper case,
 * colons, a leading 00 sign octet) and refuses anything else.
 */
export function normalizeSerial(input: string): string {
  let hex = input.trim().replace(/:/g, '').toLowerCase();
  if (hex.length === 0 || hex.length > 42 || !/^[0-9a-f]+$/.test(hex)) {
    throw new DomainError('malformed', `not a certificate serial (hex, at most 20 octets): "${input.slice(0, 64)}"`);
  }
  if (hex.length % 2 === 1) hex = `0${hex}`;
  while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
  if (/^0+$/.test(hex)) throw new DomainError('malformed', 'a certificate serial must be positive');
  return hex;
}
