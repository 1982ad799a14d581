/**
 * Imported account keys, cached per account (the kid of RFC 8555 §6.2), so
 * a request signed by a known account costs one signature check instead of
 * a JWK policy check, a key import and a thumbprint.
 *
 * What keeps it safe:
 * - An entry is looked up with the JWK the ledger holds for the account NOW
 *   (the account row is still read on every request, for its status): an
 *   entry made for another JWK is a miss and is dropped. A key rolled over
 *   (RFC 8555 §7.3.5) on any node of a cluster is therefore never accepted
 *   through the cache, and a deactivated account (§7.3.6) is refused by its
 *   row's status before the cache is asked.
 * - The server also forgets an account's entry when it changes the key or
 *   deactivates the account itself, so no stale key object outlives the change.
 * - A signature may be checked with an account's entry before its row is
 *   read (`peek`, so PostgreSQL reads the row and spends the nonce at once);
 *   it counts only if the row then names the entry's JWK and is valid, and a
 *   key that changed since must verify the request itself (authenticate.ts).
 * - An entry is made only after a signature verified under that key.
 * - At most `maxEntries` accounts are held; the least recently used goes first.
 */
import type { AccountKey } from './jws.js';

/** Accounts whose imported key is kept (a P-256 KeyObject and its JWK: well under 1 KiB each). */
export const DEFAULT_ACCOUNT_KEY_CACHE_SIZE = 10_000;

/** One account's entry. */
export interface CachedAccountKey {
  readonly accountId: string;
  /** The account's JWK exactly as the ledger stored it when the entry was made. */
  readonly storedJwk: string;
  readonly key: AccountKey;
}

export class AccountKeyCache {
  readonly maxEntries: number;
  /** Map keeps insertion order: the first entry is the least recently used. */
  private readonly entries = new Map<string, CachedAccountKey>();

  constructor(maxEntries: number = DEFAULT_ACCOUNT_KEY_CACHE_SIZE) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0)
      throw new TypeError('the account key cache size must be a non-negative integer');
    this.maxEntries = maxEntries;
  }

  /** The key imported for this account, if it was imported from `storedJwk`; an entry for another JWK is dropped. */
  get(accountId: string, storedJwk: string): AccountKey | undefined {
    const entry = this.entries.get(accountId);
    if (entry === undefined) return undefined;
    this.entries.delete(accountId);
    if (entry.storedJwk !== storedJwk) return undefined;
    this.entries.set(accountId, entry);
    return entry.key;
  }

  /**
   * The entry for this account, whatever JWK it was made from: only to verify
   * a signature before the account row is read, which must then name
   * `storedJwk` for the verification to count (authenticate.ts).
   */
  peek(accountId: string): CachedAccountKey | undefined {
    const entry = this.entries.get(accountId);
    if (entry === undefined) return undefined;
    this.entries.delete(accountId);
    this.entries.set(accountId, entry);
    return entry;
  }

  /** Keeps the key a request just verified with; call only after the signature verified. */
  remember(accountId: string, storedJwk: string, key: AccountKey): void {
    if (this.maxEntries === 0) return;
    this.entries.delete(accountId);
    this.entries.set(accountId, { accountId, storedJwk, key });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  /** After a key change or a deactivation on this node. */
  forget(accountId: string): void {
    this.entries.delete(accountId);
  }

  get size(): number {
    return this.entries.size;
  }
}
