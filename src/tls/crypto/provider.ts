import { randomBytes } from 'node:crypto';
import { TlsAlertError } from '../alert.js';
import { NamedGroup } from '../codec/enums.js';
import { EcdhExchange, isEcdhGroup } from './ecdh.js';
import { FfdheExchange, isFfdheGroup } from './ffdhe.js';
import { XdhExchange } from './xdh.js';
import { pooledRandom } from '../../shared/random.js';

export { EcdhExchange } from './ecdh.js';

/** An ephemeral (EC)DHE key for one handshake (RFC 8446 §4.2.8). */
export interface KeyExchange {
  readonly group: number;
  /** Our key_exchange bytes: the raw X25519/X448 key, the uncompressed EC point, or Y zero-padded to the prime's length (FFDHE). */
  readonly publicKey: Buffer;
  /** Throws illegal_parameter when the peer's share is malformed or gives an all-zero secret. */
  computeSharedSecret(peerPublicKey: Buffer): Buffer;
}

/** The randomness and key generation the engine uses; tests inject fixed ones. */
export interface CryptoProvider {
  randomBytes(length: number): Buffer;
  generateKeyExchange(group: number): KeyExchange;
}

/**
 * A client's default groups, in preference order: X25519 and P-256 first.
 * FFDHE is left out: a server we validate (ACME tls-alpn-01) could ask for
 * ffdhe4096 to make us spend milliseconds per connection; the `groups`
 * option turns it on.
 */
export const DEFAULT_CLIENT_GROUPS: readonly number[] = [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.x448, NamedGroup.secp384r1, NamedGroup.secp521r1];

/**
 * A server's default: every group we implement, the RFC 7919 FFDHE groups
 * last. The server only settles on a group outside FAST_GROUPS when the
 * client shares none of those with us (handshake/server.ts, chooseGroup).
 */
export const DEFAULT_SERVER_GROUPS: readonly number[] = [...DEFAULT_CLIENT_GROUPS, NamedGroup.ffdhe2048, NamedGroup.ffdhe3072, NamedGroup.ffdhe4096];

/** The cheap groups (tens to hundreds of microseconds per handshake); the others cost milliseconds (README, groups). */
export const FAST_GROUPS: ReadonlySet<number> = new Set([NamedGroup.x25519, NamedGroup.secp256r1]);

/** Every group this engine can run. */
export function isImplementedGroup(group: number): boolean {
  return group === NamedGroup.x25519 || group === NamedGroup.x448 || isEcdhGroup(group) || isFfdheGroup(group);
}

export function generateKeyExchange(group: number, random: (length: number) => Buffer = randomBytes): KeyExchange {
  if (group === NamedGroup.x25519 || group === NamedGroup.x448) return new XdhExchange(group, random);
  if (isEcdhGroup(group)) return new EcdhExchange(group);
  if (isFfdheGroup(group)) return new FfdheExchange(group, random);
  throw new TlsAlertError('internal_error', `no key exchange for group ${group}`);
}

/** Randomness drawn from the system in 4 KiB blocks: a handshake takes a dozen small values. */
const takeRandom = pooledRandom();

export const nodeCryptoProvider: CryptoProvider = {
  randomBytes: takeRandom,
  generateKeyExchange: (group) => generateKeyExchange(group, takeRandom),
};
