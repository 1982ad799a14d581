import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { isDomainError } from '../../../src/shared/errors.js';
import { splitPemChain } from '../../../src/x509/index.js';
import { countRows, DAY, HOUR, makeCsrs, MINUTE, openBench, rejectsWith, SECOND, service, type Bench, type CsrSet } from './helpers.js';

/**
 * Join tokens: created by an operator, stored only as a hash, redeemed once
 * for a node identity; refusals (rate limit, bad CSR, unknown, used,
 * expired, strict mode) leave the ledger as it was.
 */

let bench: Bench;
let csrs: CsrSet;
let nodeCounter = 0;

before(async () => {
  bench = await openBench('svid-join');
  csrs = makeCsrs(bench.dir.path);
});

after(() => bench.close());

function nodeId(): string {
  return `spiffe://example.org/node/host-${++nodeCounter}`;
}

/** A generous limit, so tests that are not about rate limiting never meet it. */
const OPEN = { joinTokenRateLimit: { burst: 1000, perSecond: 1000 } };

interface TokenRow {
  id: string;
  token_hash: string;
  spiffe_id: string;
  expires_at: number;
  created_at: number;
  created_by: string;
  used_at: number | null;
  used_by_serial: string | null;
  revoked_at: number | null;
}

function tokenRows(): TokenRow[] {
  return bench.reader.prepare<[], TokenRow>('SELECT * FROM join_tokens').all();
}

function rowFor(hash: string): TokenRow | undefined {
  return tokenRows().find((row) => row.token_hash === hash);
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('SvidService.createJoinToken', () => {
  it('returns 32 random bytes in base64url once and stores only their SHA-256', async () => {
    const spiffeId = nodeId();
    const created = await service(bench).createJoinToken('cli:alice', spiffeId, 10 * MINUTE);
    assert.match(created.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(created.token, 'base64url').length, 32);
    assert.equal(created.spiffeId, spiffeId);
    assert.equal(created.expiresAt, bench.clock.now() + 10 * MINUTE);

    const row = rowFor(sha256(created.token));
    assert.match(created.id, /^jt-[0-9a-f]{18}$/);
    assert.deepEqual(row, {
      id: created.id,
      token_hash: sha256(created.token),
      spiffe_id: spiffeId,
      expires_at: created.expiresAt,
      created_at: bench.clock.now(),
      created_by: 'cli:alice',
      used_at: null,
      used_by_serial: null,
      revoked_at: null,
    });
    // Nowhere in the table is the token itself.
    assert.doesNotMatch(JSON.stringify(tokenRows()), new RegExp(created.token.replace(/[-]/g, '\\-')));
  });

  it('makes a different token each time', async () => {
    const svids = service(bench);
    const spiffeId = nodeId();
    assert.notEqual(
      (await svids.createJoinToken('cli:a', spiffeId, HOUR)).token,
      (await svids.createJoinToken('cli:a', spiffeId, HOUR)).token,
    );
  });

  it('refuses TTLs outside 1 min..7 d, non-node SPIFFE IDs and other trust domains, storing nothing', async () => {
    const svids = service(bench);
    const rows = countRows(bench, 'join_tokens');
    await rejectsWith(svids.createJoinToken('cli:a', nodeId(), MINUTE - SECOND), 'malformed', /1 min to 7 d/);
    await rejectsWith(svids.createJoinToken('cli:a', nodeId(), 7 * DAY + SECOND), 'malformed', /1 min to 7 d/);
    await rejectsWith(
      svids.createJoinToken('cli:a', 'spiffe://example.org/ns/prod/sa/web', HOUR),
      'rejectedIdentifier',
      /lie under \/node\//,
    );
    await rejectsWith(svids.createJoinToken('cli:a', 'spiffe://example.org/node', HOUR), 'rejectedIdentifier', /lie under \/node\//);
    await rejectsWith(svids.createJoinToken('cli:a', 'spiffe://other.org/node/a', HOUR), 'rejectedIdentifier', /not in trust domain/);
    await rejectsWith(svids.createJoinToken('cli:a', 'spiffe://example.org/node/a b', HOUR), 'malformed', /invalid SPIFFE ID/);
    assert.equal(countRows(bench, 'join_tokens'), rows);
    assert.equal((await svids.createJoinToken('cli:a', nodeId(), 7 * DAY)).expiresAt, bench.clock.now() + 7 * DAY);
    assert.equal((await svids.createJoinToken('cli:a', nodeId(), MINUTE)).expiresAt, bench.clock.now() + MINUTE);
  });
});

describe('SvidService.attestJoinToken', () => {
  it('issues the node identity the token names (profile node), marks the token used and links the serial', async () => {
    const svids = service(bench, OPEN);
    const spiffeId = nodeId();
    const { token } = await svids.createJoinToken('cli:alice', spiffeId, 10 * MINUTE);
    const rows = countRows(bench, 'certificates');
    const svid = await svids.attestJoinToken({ token, csr: csrs.p256 }, '192.0.2.10');
    assert.equal(countRows(bench, 'certificates'), rows + 1);
    assert.equal(svid.spiffeId, spiffeId);
    assert.equal(svid.entryId, null);
    assert.equal(svid.bundlePem, bench.material.root.certPem);

    const [leafDer] = splitPemChain(svid.certChainPem);
    assert.ok(leafDer !== undefined);
    const leaf = new X509Certificate(leafDer);
    assert.equal(leaf.subjectAltName, `URI:${spiffeId}`);
    assert.ok(leaf.verify(new X509Certificate(bench.material.intermediate.certDer).publicKey));

    const hash = sha256(token);
    const record = bench.ledger.certificates.findBySerial(svid.serial);
    assert.equal(record?.profile, 'node');
    assert.equal(record?.requester, `join-token:${hash.slice(0, 12)}`);
    const row = rowFor(hash);
    assert.equal(row?.used_at, bench.clock.now());
    assert.equal(row?.used_by_serial, svid.serial);
    // Node profile default lifetime: one day; renew_after near half of it.
    assert.equal(svid.expiresAt, Math.floor((bench.clock.now() + DAY) / SECOND) * SECOND);
    assert.ok(svid.renewAfter > bench.clock.now() + 0.44 * DAY && svid.renewAfter < bench.clock.now() + 0.56 * DAY);
  });

  it('is single use: the second redemption is unauthorized and writes nothing', async () => {
    const svids = service(bench, OPEN);
    const { token } = await svids.createJoinToken('cli:a', nodeId(), HOUR);
    const first = await svids.attestJoinToken({ token, csr: csrs.p256 }, '192.0.2.11');
    const rows = countRows(bench, 'certificates');
    await rejectsWith(svids.attestJoinToken({ token, csr: csrs.p384 }, '192.0.2.11'), 'unauthorized', /^join token has already been used$/);
    assert.equal(countRows(bench, 'certificates'), rows);
    assert.equal(rowFor(sha256(token))?.used_by_serial, first.serial);
  });

  it('refuses an expired token (unauthorized) and leaves it unused', async () => {
    const svids = service(bench, OPEN);
    const { token } = await svids.createJoinToken('cli:a', nodeId(), MINUTE);
    bench.clock.advance(MINUTE);
    try {
      const rows = countRows(bench, 'certificates');
      await rejectsWith(svids.attestJoinToken({ token, csr: csrs.p256 }, '192.0.2.12'), 'unauthorized', /^join token has expired$/);
      assert.equal(countRows(bench, 'certificates'), rows);
      assert.equal(rowFor(sha256(token))?.used_at, null);
    } finally {
      bench.clock.advance(-MINUTE);
    }
  });

  it('refuses an unknown token (unauthorized) and a string that cannot be a token (malformed)', async () => {
    const svids = service(bench, OPEN);
    const rows = countRows(bench, 'certificates');
    const unknown = Buffer.alloc(32, 7).toString('base64url');
    await rejectsWith(svids.attestJoinToken({ token: unknown, csr: csrs.p256 }, '192.0.2.13'), 'unauthorized', /^join token is unknown$/);
    await rejectsWith(svids.attestJoinToken({ token: 'short', csr: csrs.p256 }, '192.0.2.13'), 'malformed', /43 base64url characters/);
    assert.equal(countRows(bench, 'certificates'), rows);
  });

  it('checks the CSR before redeeming: a malformed, badly signed or weak CSR does not burn the token', async () => {
    const svids = service(bench, OPEN);
    const { token } = await svids.createJoinToken('cli:a', nodeId(), HOUR);
    const rows = countRows(bench, 'certificates');
    await rejectsWith(svids.attestJoinToken({ token, csr: 'bm90IGEgY3Ny' }, '192.0.2.14'), 'malformed', /PKCS#10/);
    await rejectsWith(svids.attestJoinToken({ token, csr: csrs.badSignature }, '192.0.2.14'), 'badCSR', /signature does not verify/);
    await rejectsWith(svids.attestJoinToken({ token, csr: csrs.rsa1024 }, '192.0.2.14'), 'badCSR', /1024 bits/);
    assert.equal(countRows(bench, 'certificates'), rows);
    assert.equal(rowFor(sha256(token))?.used_at, null);
    const svid = await svids.attestJoinToken({ token, csr: csrs.ed25519 }, '192.0.2.14');
    assert.equal(rowFor(sha256(token))?.used_by_serial, svid.serial);
  });

  it('rate-limits per client address before any other check, with a Retry-After, and recovers with time', async () => {
    const svids = service(bench, { joinTokenRateLimit: { burst: 2, perSecond: 0.1 } });
    const { token } = await svids.createJoinToken('cli:a', nodeId(), HOUR);
    const unknown = Buffer.alloc(32, 9).toString('base64url');
    const address = '198.51.100.7';
    await rejectsWith(svids.attestJoinToken({ token: unknown, csr: csrs.p256 }, address), 'unauthorized', /unknown/);
    await rejectsWith(svids.attestJoinToken({ token: unknown, csr: csrs.p256 }, address), 'unauthorized', /unknown/);
    // The third try is refused before the token is even looked at: the good token stays unused.
    await assert.rejects(svids.attestJoinToken({ token, csr: csrs.p256 }, address), (err: unknown) => {
      assert.ok(isDomainError(err, 'rateLimited'));
      assert.match(err.detail, /too many join-token attempts from 198\.51\.100\.7/);
      assert.equal(err.retryAfterSeconds, 10);
      return true;
    });
    assert.equal(rowFor(sha256(token))?.used_at, null);
    // Another address has its own bucket.
    await rejectsWith(svids.attestJoinToken({ token: unknown, csr: csrs.p256 }, '198.51.100.8'), 'unauthorized', /unknown/);
    bench.clock.advance(10 * SECOND);
    try {
      const svid = await svids.attestJoinToken({ token, csr: csrs.p256 }, address);
      assert.ok(svid.serial.length > 0);
    } finally {
      bench.clock.advance(-10 * SECOND);
    }
  });

  it('is off in strict mode: refused (forbidden) without touching the token', async () => {
    const open = service(bench, OPEN);
    const { token } = await open.createJoinToken('cli:a', nodeId(), HOUR);
    const strict = service(bench, { joinTokensEnabled: false });
    await rejectsWith(strict.attestJoinToken({ token, csr: csrs.p256 }, '192.0.2.15'), 'forbidden', /^join tokens are off in strict mode$/);
    assert.equal(rowFor(sha256(token))?.used_at, null);
  });

  it('lets exactly one of many concurrent redemptions of one token through', async () => {
    const svids = service(bench, OPEN);
    const { token } = await svids.createJoinToken('cli:a', nodeId(), HOUR);
    const rows = countRows(bench, 'certificates');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, () => svids.attestJoinToken({ token, csr: csrs.p256 }, '192.0.2.16')),
    );
    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') assert.ok(isDomainError(outcome.reason, 'unauthorized'));
    }
    assert.equal(countRows(bench, 'certificates'), rows + 1);
  });
});
