/**
 * Anti-replay nonces (RFC 8555 §6.5) that any node of a cluster accepts once.
 *
 * A nonce is base64url(id || expiresAt || mac): 16 random bytes, the expiry
 * (ms since the epoch, 8 bytes big-endian) and HMAC-SHA256(nonce key, id ||
 * expiresAt) cut to 16 bytes. Minting writes nothing: the MAC proves a node
 * holding the cluster's nonce key made it and that its expiry is ours.
 * Redeeming checks the MAC and the expiry, then spends the id in the ledger
 * (one INSERT ... ON CONFLICT DO NOTHING): the first spend, on whichever node,
 * wins; any later one is a replay. Spent ids stay until they expire, so a
 * nonce can never be accepted twice while its MAC still says it is alive.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Awaitable } from '../shared/awaitable.js';
import type { NonceLedger } from './ports.js';

export interface NonceOptions {
  /** The MAC key (at least 32 bytes); nodes that share it accept each other's nonces. */
  readonly key: Uint8Array;
  readonly ledger: NonceLedger;
  readonly random: (length: number) => Uint8Array;
  readonly lifetimeMs?: number;
}

const DEFAULT_LIFETIME_MS = 60 * 60 * 1000;
const ID_BYTES = 16;
const EXPIRY_BYTES = 8;
const MAC_BYTES = 16;
const NONCE_BYTES = ID_BYTES + EXPIRY_BYTES + MAC_BYTES;
/** Unpadded base64url of 40 bytes is 54 characters. */
const NONCE_TEXT = /^[A-Za-z0-9_-]{54}$/;
const MIN_KEY_BYTES = 32;

/**
 * Spent rows are deleted this long after they expire, not at once: a node
 * whose clock lags the pruning node's by less than this still finds the row
 * of a nonce its own clock calls unexpired, so clock skew opens no replay window.
 */
export const SPENT_NONCE_RETENTION_MS = 10 * 60 * 1000;

export class NonceStore {
  private readonly key: Buffer;
  private readonly ledger: NonceLedger;
  private readonly random: (length: number) => Uint8Array;
  private readonly lifetimeMs: number;

  constructor(options: NonceOptions) {
    if (options.key.length < MIN_KEY_BYTES) throw new Error(`the ACME nonce key must be at least ${MIN_KEY_BYTES} bytes`);
    const lifetimeMs = options.lifetimeMs ?? DEFAULT_LIFETIME_MS;
    if (!Number.isSafeInteger(lifetimeMs) || lifetimeMs < 1) throw new Error('the ACME nonce lifetime must be a positive integer of ms');
    this.key = Buffer.from(options.key);
    this.ledger = options.ledger;
    this.random = options.random;
    this.lifetimeMs = lifetimeMs;
  }

  /** A fresh nonce, valid until now + lifetime; no write anywhere. Built in one buffer: it rides on every response. */
  issue(now: number): string {
    const id = this.random(ID_BYTES);
    if (id.length !== ID_BYTES) throw new Error('the random source gave the wrong number of bytes');
    const bytes = Buffer.allocUnsafe(NONCE_BYTES);
    bytes.set(id, 0);
    writeExpiry(bytes, Math.floor(now) + this.lifetimeMs);
    this.mac(bytes.subarray(0, ID_BYTES + EXPIRY_BYTES)).copy(bytes, ID_BYTES + EXPIRY_BYTES, 0, MAC_BYTES);
    return bytes.toString('base64url');
  }

  /**
   * True once per nonce this cluster minted and that has not expired; a
   * tampered, foreign, expired or replayed nonce is false (badNonce). A
   * ledger failure throws or rejects (the request fails as internal, and the
   * nonce is not spent: the client may retry with it). Answers at once when
   * the ledger does (SQLite), so a request waits on no extra promise.
   */
  redeem(nonce: string, now: number): Awaitable<boolean> {
    if (!NONCE_TEXT.test(nonce)) return false;
    const bytes = Buffer.from(nonce, 'base64url');
    // One nonce, one spelling: the last character's spare bits must be zero, so no second string decodes to the same id.
    if (bytes.length !== NONCE_BYTES || bytes.toString('base64url') !== nonce) return false;
    const body = bytes.subarray(0, ID_BYTES + EXPIRY_BYTES);
    // STYLE §6: MACs are compared in constant time.
    if (!timingSafeEqual(this.mac(body).subarray(0, MAC_BYTES), bytes.subarray(ID_BYTES + EXPIRY_BYTES))) return false;
    const expiresAt = readExpiry(bytes);
    // expiresAt is the first instant at which the nonce no longer works.
    if (!Number.isSafeInteger(expiresAt) || now >= expiresAt) return false;
    const id = bytes.subarray(0, ID_BYTES).toString('base64url');
    return this.ledger.spend(id, expiresAt, now);
  }

  /** HMAC-SHA256 over id || expiresAt, whole (callers use its first MAC_BYTES). */
  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest();
  }
}

const TWO_32 = 2 ** 32;

/** expiresAt as 8 bytes big-endian (two 32-bit halves: no BigInt per nonce). */
function writeExpiry(bytes: Buffer, expiresAt: number): void {
  bytes.writeUInt32BE(Math.floor(expiresAt / TWO_32), ID_BYTES);
  bytes.writeUInt32BE(expiresAt % TWO_32, ID_BYTES + 4);
}

/** The 8-byte big-endian expiry; above 2^53 it is no safe integer, and redeem refuses it. */
function readExpiry(bytes: Buffer): number {
  return bytes.readUInt32BE(ID_BYTES) * TWO_32 + bytes.readUInt32BE(ID_BYTES + 4);
}

/** Rows one pruning statement deletes, and statements one pass runs at most: 50,000 rows a pass. */
const PRUNE_BATCH = 1000;
const MAX_PRUNE_BATCHES = 50;

/**
 * Deletes spent nonces expired more than SPENT_NONCE_RETENTION_MS ago, in
 * bounded batches (each a short statement; at most MAX_PRUNE_BATCHES a
 * pass, the rest waits for the next pass). Returns how many rows went.
 */
export async function pruneSpentNonces(ledger: NonceLedger, now: number): Promise<number> {
  let pruned = 0;
  for (let batch = 0; batch < MAX_PRUNE_BATCHES; batch++) {
    const deleted = await ledger.pruneExpired(now - SPENT_NONCE_RETENTION_MS, PRUNE_BATCH);
    pruned += deleted;
    if (deleted < PRUNE_BATCH) break;
  }
  return pruned;
}
