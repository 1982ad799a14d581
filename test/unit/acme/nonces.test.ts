import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NonceStore, pruneSpentNonces, SPENT_NONCE_RETENTION_MS } from '../../../src/acme/nonces.js';
import type { NonceLedger } from '../../../src/acme/ports.js';
import { openLedgerBackend, type OpenedLedger } from '../../../src/ledger/index.js';
import { createTestDatabase } from '../../helpers/postgres.js';

/**
 * Keyed nonces (RFC 8555 §6.5) across nodes: two NonceStores, each on its own
 * connection to one database (two keysmith nodes of a cluster), on SQLite
 * (two connections to one file) and on PostgreSQL (two pools).
 */

const NOW = Date.UTC(2026, 0, 1);
const LIFETIME_MS = 60_000;

interface TwoNodes {
  readonly a: OpenedLedger;
  readonly b: OpenedLedger;
  dispose(): Promise<void>;
}

const SHARED_DATABASES: readonly { readonly name: string; open(): Promise<TwoNodes> }[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'keysmith-nonces-'));
      const path = join(dir, 'ledger.db');
      const a = await openLedgerBackend({ kind: 'sqlite', path });
      const b = await openLedgerBackend({ kind: 'sqlite', path });
      return {
        a,
        b,
        async dispose() {
          await Promise.all([a.ledger.close(), b.ledger.close()]);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async open() {
      const database = await createTestDatabase('nonces');
      const a = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 2 });
      const b = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 2 });
      return {
        a,
        b,
        async dispose() {
          await Promise.all([a.ledger.close(), b.ledger.close()]);
          await database.drop();
        },
      };
    },
  },
];

function store(ledger: NonceLedger, key: Uint8Array): NonceStore {
  return new NonceStore({ key, ledger, random: (length) => randomBytes(length), lifetimeMs: LIFETIME_MS });
}

/** The nonce with one bit flipped in byte `index` of its decoded form. */
function flipBit(nonce: string, index: number): string {
  const bytes = Buffer.from(nonce, 'base64url');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytes.toString('base64url');
}

for (const shared of SHARED_DATABASES) {
  describe(`NonceStore across two nodes on ${shared.name} (RFC 8555 §6.5)`, () => {
    async function withNodes(use: (nodes: TwoNodes) => Promise<void>): Promise<void> {
      const nodes = await shared.open();
      try {
        await use(nodes);
      } finally {
        await nodes.dispose();
      }
    }

    it('mints without a write; another node with the same key accepts the nonce once, and the first node then refuses it', async () => {
      await withNodes(async ({ a, b }) => {
        const key = randomBytes(32);
        const nodeA = store(a.ledger.nonces, key);
        const nodeB = store(b.ledger.nonces, key);
        const nonce = nodeA.issue(NOW);
        assert.match(nonce, /^[A-Za-z0-9_-]{54}$/);
        // Minting wrote nothing: no row is there to prune even long after it expired.
        assert.equal(await a.ledger.nonces.pruneExpired(NOW + 10 * LIFETIME_MS, 100), 0);
        assert.equal(await nodeB.redeem(nonce, NOW + 1), true);
        assert.equal(await nodeA.redeem(nonce, NOW + 2), false);
        assert.equal(await nodeB.redeem(nonce, NOW + 3), false);
      });
    });

    it('refuses a nonce on a node with another key, without spending it', async () => {
      await withNodes(async ({ a, b }) => {
        const nodeA = store(a.ledger.nonces, randomBytes(32));
        const stranger = store(b.ledger.nonces, randomBytes(32));
        const nonce = nodeA.issue(NOW);
        assert.equal(await stranger.redeem(nonce, NOW + 1), false);
        assert.equal(await nodeA.redeem(nonce, NOW + 2), true);
      });
    });

    it('answers a tampered id, expiry or MAC, a second spelling and garbage with false, spending nothing', async () => {
      await withNodes(async ({ a, b }) => {
        const key = randomBytes(32);
        const nodeA = store(a.ledger.nonces, key);
        const nodeB = store(b.ledger.nonces, key);
        const nonce = nodeA.issue(NOW);
        // Byte 0 is in the id, 23 the expiry's last byte, 24 and 39 the MAC's first and last.
        for (const index of [0, 15, 16, 23, 24, 39])
          assert.equal(await nodeB.redeem(flipBit(nonce, index), NOW + 1), false, `bit flipped in byte ${index}`);
        // 40 bytes leave 2 spare bits in the last character: setting one decodes to the same bytes, but is not our nonce.
        const last = nonce.at(-1) ?? '';
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const respelled = nonce.slice(0, -1) + (alphabet[alphabet.indexOf(last) ^ 1] ?? '');
        assert.deepEqual(Buffer.from(respelled, 'base64url'), Buffer.from(nonce, 'base64url'));
        assert.equal(await nodeB.redeem(respelled, NOW + 1), false);
        for (const garbage of [
          '',
          'AAAAAAAAAAAAAAAAAAAAAA',
          `${nonce}A`,
          nonce.slice(1),
          `${nonce.slice(0, -1)}=`,
          nonce.replace(/./, '+'),
        ]) {
          assert.equal(await nodeB.redeem(garbage, NOW + 1), false, JSON.stringify(garbage));
        }
        assert.equal(await nodeB.redeem(nonce, NOW + 1), true);
      });
    });

    it('accepts a nonce up to the last millisecond of its lifetime and refuses it from then on', async () => {
      await withNodes(async ({ a, b }) => {
        const key = randomBytes(32);
        const nodeA = store(a.ledger.nonces, key);
        const nodeB = store(b.ledger.nonces, key);
        const late = nodeA.issue(NOW);
        const onTime = nodeA.issue(NOW);
        assert.equal(await nodeB.redeem(late, NOW + LIFETIME_MS), false);
        assert.equal(await nodeB.redeem(onTime, NOW + LIFETIME_MS - 1), true);
      });
    });

    it('lets one of two nodes redeeming the same nonce at once through', async () => {
      await withNodes(async ({ a, b }) => {
        const key = randomBytes(32);
        const nodes = [store(a.ledger.nonces, key), store(b.ledger.nonces, key)];
        const nonce = nodes[0]?.issue(NOW) ?? '';
        const outcomes = await Promise.all([0, 1, 0, 1, 0, 1].map((i) => nodes[i]?.redeem(nonce, NOW + 1)));
        assert.equal(outcomes.filter((fresh) => fresh === true).length, 1);
      });
    });

    it('prunes spent nonces only once they expired more than the retention ago, more than one batch at a time', async () => {
      await withNodes(async ({ a, b }) => {
        const key = randomBytes(32);
        const nodeA = store(a.ledger.nonces, key);
        const spent = Array.from({ length: 1003 }, () => nodeA.issue(NOW));
        const outcomes = await Promise.all(spent.map((nonce) => nodeA.redeem(nonce, NOW + 1)));
        assert.deepEqual(new Set(outcomes), new Set([true]));
        const expiresAt = NOW + LIFETIME_MS;
        // Expired, but within the retention: a node whose clock lags still finds the rows.
        assert.equal(await pruneSpentNonces(b.ledger.nonces, expiresAt + SPENT_NONCE_RETENTION_MS - 1), 0);
        assert.equal(await pruneSpentNonces(b.ledger.nonces, expiresAt + SPENT_NONCE_RETENTION_MS), 1003);
        assert.equal(await pruneSpentNonces(b.ledger.nonces, expiresAt + SPENT_NONCE_RETENTION_MS), 0);
      });
    });
  });
}

describe('NonceStore settings', () => {
  const ledger: NonceLedger = {
    spend: () => assert.fail('not reached'),
    pruneExpired: () => assert.fail('not reached'),
  };

  it('refuses a MAC key under 32 bytes and a lifetime that is not a positive integer', () => {
    const random = (length: number): Uint8Array => randomBytes(length);
    assert.throws(() => new NonceStore({ key: randomBytes(31), ledger, random }), /at least 32 bytes/);
    assert.throws(() => new NonceStore({ key: randomBytes(32), ledger, random, lifetimeMs: 0 }), /positive integer/);
    assert.throws(() => new NonceStore({ key: randomBytes(32), ledger, random, lifetimeMs: 1.5 }), /positive integer/);
  });
});
