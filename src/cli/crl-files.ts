import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuiltCrl, BuiltCrlSet, CrlStore } from '../ca/index.js';
import type { CrlIssuer } from '../x509/index.js';

/*
 * The last built CRLs, kept in `<dataDir>/crl/` so that a restart serves them
 * at once instead of building before (or blocking) the listener: one DER file
 * per CRL and `state.json` with the dates, number, entry counts and ETags,
 * written last (each file through a temporary name and a rename). The CRL
 * number itself comes from the ledger; the one kept here only seeds it once
 * after an upgrade (`lastCrlNumber`).
 */

interface StoredState {
  readonly version: 1;
  /** Hex AKI of the issuer: a CA rotated since makes the files stale. */
  readonly issuerKeyId: string;
  readonly crlUrl: string | null;
  readonly now: number;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly crlNumber: number;
  readonly count: number;
  readonly lastRevokedAt: number;
  readonly full: StoredCrl;
  readonly shards: readonly StoredCrl[];
}

interface StoredCrl {
  readonly file: string;
  readonly entries: number;
  readonly etag: string;
}

export class CrlFiles implements CrlStore {
  private readonly dir: string;

  constructor(
    dataDir: string,
    private readonly issuer: CrlIssuer,
    private readonly crlUrl: string | undefined,
  ) {
    this.dir = join(dataDir, 'crl');
  }

  async save(set: BuiltCrlSet): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const write = async (name: string, contents: Uint8Array | string): Promise<void> => {
      const path = join(this.dir, name);
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, contents, { mode: 0o644 });
      await rename(temporary, path);
    };
    const stored = async (built: BuiltCrl, name: string): Promise<StoredCrl> => {
      await write(name, built.der);
      return { file: name, entries: built.entries, etag: built.etag };
    };
    const full = await stored(set.full, 'full.crl');
    const shards: StoredCrl[] = [];
    for (const [n, shard] of set.shards.entries()) shards.push(await stored(shard, `shard-${n}.crl`));
    const state: StoredState = {
      version: 1,
      issuerKeyId: Buffer.from(this.issuer.keyIdentifier).toString('hex'),
      crlUrl: this.crlUrl ?? null,
      now: set.now,
      thisUpdate: set.thisUpdate,
      nextUpdate: set.nextUpdate,
      crlNumber: set.crlNumber,
      count: set.count,
      lastRevokedAt: set.lastRevokedAt,
      full,
      shards,
    };
    await write('state.json', JSON.stringify(state));
  }

  /**
   * The CRL number `state.json` recorded, whatever else it says (another
   * issuer, a torn file): before the ledger kept the number (migrations/0007)
   * it lived only there, and the ledger's numbers must continue above it
   * (RFC 5280 §5.2.3). Undefined when there is no readable number.
   */
  lastCrlNumber(): number | undefined {
    try {
      const state: unknown = JSON.parse(readFileSync(join(this.dir, 'state.json'), 'utf8'));
      if (typeof state !== 'object' || state === null || !('crlNumber' in state)) return undefined;
      const number = state.crlNumber;
      return typeof number === 'number' && Number.isSafeInteger(number) && number > 0 ? number : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The persisted set when it is this issuer's, for this CRL URL, and every
   * file matches its ETag (a torn or foreign file is not served); else
   * undefined and the publisher builds afresh. Reads a few files, not the ledger.
   */
  restore(): BuiltCrlSet | undefined {
    const statePath = join(this.dir, 'state.json');
    if (!existsSync(statePath)) return undefined;
    try {
      const state = JSON.parse(readFileSync(statePath, 'utf8')) as StoredState;
      if (
        state.version !== 1 ||
        state.issuerKeyId !== Buffer.from(this.issuer.keyIdentifier).toString('hex') ||
        state.crlUrl !== (this.crlUrl ?? null)
      )
        return undefined;
      const load = (stored: StoredCrl): BuiltCrl | undefined => {
        if (!/^(full|shard-\d{1,3})\.crl$/.test(stored.file)) return undefined;
        const der = new Uint8Array(readFileSync(join(this.dir, stored.file)));
        const etag = `"${createHash('sha256').update(der).digest('base64url')}"`;
        return etag === stored.etag ? { der, entries: stored.entries, etag } : undefined;
      };
      const full = load(state.full);
      const shards = state.shards.map(load);
      if (full === undefined || shards.some((s) => s === undefined)) return undefined;
      return {
        now: state.now,
        thisUpdate: state.thisUpdate,
        nextUpdate: state.nextUpdate,
        crlNumber: state.crlNumber,
        count: state.count,
        lastRevokedAt: state.lastRevokedAt,
        full,
        shards: shards.filter((s): s is BuiltCrl => s !== undefined),
        timings: { readMs: 0, encodeMs: 0, signMs: 0 },
      };
    } catch {
      return undefined;
    }
  }
}

interface ShardLayout {
  readonly issuerKeyId: string;
  readonly crlUrl: string;
  readonly crlShards: number;
}

/**
 * Every certificate names its CRL shard, derived from its serial and the
 * shard count: another count would leave earlier certificates pointing at
 * shards that no longer list them. So the count is recorded per intermediate
 * and CRL URL in `<dataDir>/crl/layout.json`, and a different one is refused
 * (a new intermediate or a new CRL URL starts a new layout).
 */
export function checkCrlShardLayout(dataDir: string, issuer: CrlIssuer, crlUrl: string, crlShards: number): void {
  const dir = join(dataDir, 'crl');
  const path = join(dir, 'layout.json');
  const layout: ShardLayout = { issuerKeyId: Buffer.from(issuer.keyIdentifier).toString('hex'), crlUrl, crlShards };
  if (existsSync(path)) {
    const recorded = JSON.parse(readFileSync(path, 'utf8')) as Partial<ShardLayout>;
    if (recorded.issuerKeyId === layout.issuerKeyId && recorded.crlUrl === crlUrl) {
      if (recorded.crlShards === crlShards) return;
      throw new Error(
        `crlShards is ${crlShards}, but certificates of this intermediate were issued naming ${String(recorded.crlShards)} CRL shard(s) under ${crlUrl}: ` +
          `changing it would leave them pointing at shards that no longer list them. Keep crlShards=${String(recorded.crlShards)}, or change it together with a new intermediate.`,
      );
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(layout), { mode: 0o644 });
  renameSync(temporary, path);
}
