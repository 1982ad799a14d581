import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { isDomainError } from '../../../src/shared/errors.js';
import type { SvidCaller, SvidIssuer, X509Svid } from '../../../src/svid/index.js';
import { splitPemChain } from '../../../src/x509/index.js';
import { keyPair } from '../ca/helpers.js';
import {
  countRows,
  DAY,
  HOUR,
  makeCsrs,
  MINUTE,
  NODE,
  OTHER_NODE,
  openBench,
  rejectsWith,
  SECOND,
  service,
  WEB,
  type Bench,
  type CsrSet,
} from './helpers.js';

/**
 * X.509-SVIDs through SvidService, the real Authority and a ledger file:
 * who may obtain what, what the certificate says, and that every refusal
 * leaves the certificates table as it was.
 */

let bench: Bench;
let csrs: CsrSet;

before(async () => {
  bench = await openBench('svid-x509');
  csrs = makeCsrs(bench.dir.path);
});

after(() => bench.close());

function caller(spiffeId: string, kind: SvidCaller['kind'] = 'workload'): SvidCaller {
  return { spiffeId, serial: '01', kind };
}

let counter = 0;
/** A fresh workload ID with an entry naming `parent`, so tests do not share grants. */
async function entryFor(
  parent: string,
  fields: { x509TtlMs?: number; dnsNames?: string[]; expiresAt?: number; spiffeId?: string; admin?: boolean } = {},
): Promise<{
  spiffeId: string;
  id: string;
}> {
  const spiffeId = fields.spiffeId ?? `${WEB}-${++counter}`;
  const entry = await service(bench).createEntry('cli:test', { spiffeId, parentId: parent, ...fields });
  return { spiffeId, id: entry.id };
}

function leafOf(svid: X509Svid): X509Certificate {
  const [leaf, intermediate] = splitPemChain(svid.certChainPem);
  assert.ok(leaf !== undefined && intermediate !== undefined);
  return new X509Certificate(leaf);
}

/** Runs a refusal and checks the certificates table did not change. */
async function refusedWithoutWriting(run: () => Promise<unknown>, kind: Parameters<typeof rejectsWith>[1], detail: RegExp): Promise<void> {
  const rows = countRows(bench, 'certificates');
  await rejectsWith(run(), kind, detail);
  assert.equal(countRows(bench, 'certificates'), rows);
}

describe('SvidService.issueX509: parent and renewal', () => {
  it("issues to the entry's parent: leaf + intermediate chaining to the bundle, names from the entry, caller recorded as requester", async () => {
    const { spiffeId, id } = await entryFor(NODE, { dnsNames: ['web.internal.example.org'] });
    const rows = countRows(bench, 'certificates');
    const svid = await service(bench).issueX509(caller(NODE, 'node'), { csr: csrs.p256, spiffeId });
    assert.equal(countRows(bench, 'certificates'), rows + 1);
    assert.equal(svid.spiffeId, spiffeId);
    assert.equal(svid.entryId, id);
    assert.equal(svid.bundlePem, bench.material.root.certPem);

    const [leafPem, intermediatePem] = splitPemChain(svid.certChainPem);
    assert.ok(leafPem !== undefined && intermediatePem !== undefined);
    const leaf = new X509Certificate(leafPem);
    const intermediate = new X509Certificate(intermediatePem);
    const root = new X509Certificate(svid.bundlePem);
    assert.ok(leaf.verify(intermediate.publicKey));
    assert.ok(intermediate.verify(root.publicKey));
    // Subject and SANs come from the entry: the CSR's DNS name and SPIFFE ID are not there.
    assert.equal(leaf.subjectAltName, `URI:${spiffeId}, DNS:web.internal.example.org`);
    assert.doesNotMatch(leaf.subject, /csr\.test/);

    const record = bench.ledger.certificates.findBySerial(svid.serial);
    assert.equal(record?.requester, NODE);
    assert.equal(record?.profile, 'svid');
    assert.equal(record?.spiffeId, spiffeId);
    assert.equal(svid.expiresAt, record?.notAfter);
    assert.equal(svid.expiresAt, Math.floor((bench.clock.now() + HOUR) / SECOND) * SECOND);
  });

  it("renews for the holder of the SPIFFE ID itself (its current SVID), with the entry's TTL", async () => {
    const { spiffeId } = await entryFor(NODE, { x509TtlMs: 2 * HOUR });
    const svid = await service(bench).issueX509(caller(spiffeId), { csr: csrs.p384, spiffeId });
    assert.equal(bench.ledger.certificates.findBySerial(svid.serial)?.requester, spiffeId);
    assert.equal(svid.expiresAt, Math.floor((bench.clock.now() + 2 * HOUR) / SECOND) * SECOND);
  });

  it('refuses another node, though an entry for the SPIFFE ID exists (forbidden, with the reason)', async () => {
    const { spiffeId } = await entryFor(NODE);
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(OTHER_NODE, 'node'), { csr: csrs.p256, spiffeId }),
      'forbidden',
      new RegExp(`^no registration entry lets ${OTHER_NODE} obtain ${spiffeId}$`),
    );
  });

  it('refuses a SPIFFE ID no entry names', async () => {
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(NODE, 'node'), { csr: csrs.p256, spiffeId: `${WEB}/unregistered` }),
      'forbidden',
      /no registration entry lets .* obtain spiffe:\/\/example\.org\/ns\/prod\/sa\/web\/unregistered/,
    );
  });

  it('refuses through an expired entry, naming the entry and when it expired, for parent and renewal alike', async () => {
    const expiresAt = bench.clock.now() + MINUTE;
    const { spiffeId, id } = await entryFor(NODE, { expiresAt });
    await service(bench).issueX509(caller(NODE, 'node'), { csr: csrs.p256, spiffeId });
    bench.clock.advance(MINUTE);
    try {
      const detail = new RegExp(`^entry ${id} expired at ${new Date(expiresAt).toISOString().replace(/\./g, '\\.')}$`);
      await refusedWithoutWriting(() => service(bench).issueX509(caller(NODE, 'node'), { csr: csrs.p256, spiffeId }), 'forbidden', detail);
      await refusedWithoutWriting(() => service(bench).issueX509(caller(spiffeId), { csr: csrs.p256, spiffeId }), 'forbidden', detail);
    } finally {
      bench.clock.advance(-MINUTE);
    }
  });

  it('uses a live entry when another for the same caller has expired', async () => {
    const spiffeId = `${WEB}-two-parents`;
    await entryFor(NODE, { spiffeId, expiresAt: bench.clock.now() + SECOND });
    await entryFor(OTHER_NODE, { spiffeId, x509TtlMs: 3 * HOUR });
    bench.clock.advance(2 * SECOND);
    try {
      const svid = await service(bench).issueX509(caller(spiffeId), { csr: csrs.p256, spiffeId });
      assert.equal(svid.expiresAt, Math.floor((bench.clock.now() + 3 * HOUR) / SECOND) * SECOND);
    } finally {
      bench.clock.advance(-2 * SECOND);
    }
  });
});

describe('SvidService.issueX509: TTL', () => {
  it('honours a shorter requested ttl and refuses a longer one (malformed)', async () => {
    const { spiffeId, id } = await entryFor(NODE, { x509TtlMs: HOUR });
    const svid = await service(bench).issueX509(caller(NODE), { csr: csrs.p256, spiffeId, ttlMs: 10 * MINUTE });
    assert.equal(svid.expiresAt, Math.floor((bench.clock.now() + 10 * MINUTE) / SECOND) * SECOND);
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(NODE), { csr: csrs.p256, spiffeId, ttlMs: HOUR + SECOND }),
      'malformed',
      new RegExp(`requested ttl 3601 s exceeds the 3600 s entry ${id} allows`),
    );
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(NODE), { csr: csrs.p256, spiffeId, ttlMs: 10 }),
      'malformed',
      /at least 1 s/,
    );
  });

  it('caps an entry made under a higher maximum at the maximum configured now', async () => {
    const { spiffeId } = await entryFor(NODE, { x509TtlMs: DAY });
    const svid = await service(bench, { maxX509TtlMs: HOUR }).issueX509(caller(NODE), { csr: csrs.p256, spiffeId });
    assert.equal(svid.expiresAt, Math.floor((bench.clock.now() + HOUR) / SECOND) * SECOND);
  });
});

describe('SvidService.issueX509: CSR and identity refusals write nothing', () => {
  it('accepts P-384, Ed25519 and RSA-2048 keys', async () => {
    const { spiffeId } = await entryFor(NODE);
    for (const csr of [csrs.p384, csrs.ed25519, csrs.rsa2048]) {
      const svid = await service(bench).issueX509(caller(NODE), { csr, spiffeId });
      assert.ok(leafOf(svid).checkIssued(new X509Certificate(bench.material.intermediate.certDer)));
    }
  });

  it('refuses a CSR that does not decode (malformed)', async () => {
    const { spiffeId } = await entryFor(NODE);
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(NODE), { csr: 'bm90IGEgY3Ny', spiffeId }),
      'malformed',
      /not a DER PKCS#10/,
    );
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(NODE), { csr: 'not base64 at all!', spiffeId }),
      'malformed',
      /neither PEM nor base64/,
    );
  });

  it('refuses a CSR whose signature does not verify (badCSR)', async () => {
    const { spiffeId } = await entryFor(NODE);
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(NODE), { csr: csrs.badSignature, spiffeId }),
      'badCSR',
      /signature does not verify/,
    );
  });

  it('refuses weak or unsupported keys: RSA-1024 and P-521 (badCSR)', async () => {
    const { spiffeId } = await entryFor(NODE);
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(NODE), { csr: csrs.rsa1024, spiffeId }),
      'badCSR',
      /RSA modulus of 1024 bits is not accepted/,
    );
    await refusedWithoutWriting(() => service(bench).issueX509(caller(NODE), { csr: csrs.p521, spiffeId }), 'badCSR', /not accepted/);
  });

  it('refuses an invalid SPIFFE ID (malformed), another trust domain and node identities (rejectedIdentifier)', async () => {
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(NODE), { csr: csrs.p256, spiffeId: 'spiffe://example.org/a/../b' }),
      'malformed',
      /invalid SPIFFE ID/,
    );
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(NODE), { csr: csrs.p256, spiffeId: 'spiffe://other.org/web' }),
      'rejectedIdentifier',
      /not in trust domain/,
    );
    await refusedWithoutWriting(
      () => service(bench).issueX509(caller(NODE), { csr: csrs.p256, spiffeId: NODE }),
      'rejectedIdentifier',
      /node identities/,
    );
  });
});

describe('SvidService.issueX509: admin entries', () => {
  it('issues an /admin/ SVID to a workload caller through an admin entry (the entry is the grant)', async () => {
    const { spiffeId } = await entryFor(NODE, { spiffeId: 'spiffe://example.org/admin/deployer', admin: true, x509TtlMs: HOUR });
    const svid = await service(bench).issueX509(caller(NODE, 'node'), { csr: csrs.p256, spiffeId });
    assert.equal(leafOf(svid).subjectAltName, `URI:${spiffeId}`);
    const record = bench.ledger.certificates.findBySerial(svid.serial);
    assert.equal(record?.requester, NODE);
    assert.equal(svid.expiresAt, Math.floor((bench.clock.now() + HOUR) / SECOND) * SECOND);
  });

  it("still refuses /admin/ identities to a workload requester without a grant (the Authority's own rule)", async () => {
    const rows = countRows(bench, 'certificates');
    await rejectsWith(
      bench.authority.issue({ publicKey: keyPair('p256').spki, spiffeId: 'spiffe://example.org/admin/deployer', requester: NODE }, 'svid'),
      'rejectedIdentifier',
      /admin identities are issued only to the operator/,
    );
    assert.equal(countRows(bench, 'certificates'), rows);
  });
});

describe('SvidService.issueX509Batch', () => {
  it('answers each request on its own, in request order, and writes only the good ones', async () => {
    const { spiffeId } = await entryFor(NODE);
    const rows = countRows(bench, 'certificates');
    const results = await service(bench).issueX509Batch(caller(NODE), [
      { csr: csrs.p256, spiffeId },
      { csr: csrs.badSignature, spiffeId },
      { csr: csrs.p384, spiffeId: `${WEB}/nobody` },
      { csr: csrs.ed25519, spiffeId, ttlMs: 5 * MINUTE },
      { csr: csrs.rsa1024, spiffeId },
    ]);
    assert.deepEqual(
      results.map((result) => (result.ok ? 'ok' : result.error.kind)),
      ['ok', 'badCSR', 'forbidden', 'ok', 'badCSR'],
    );
    assert.equal(countRows(bench, 'certificates'), rows + 2);
    const second = results[2];
    assert.ok(second !== undefined && !second.ok);
    assert.match(second.error.detail, /no registration entry lets/);
  });

  it('issues 100 requests concurrently with distinct serials, all recorded', async () => {
    const { spiffeId } = await entryFor(NODE);
    const rows = countRows(bench, 'certificates');
    const results = await service(bench).issueX509Batch(
      caller(NODE),
      Array.from({ length: 100 }, () => ({ csr: csrs.p256, spiffeId })),
    );
    const serials = results.map((result) => (result.ok ? result.svid.serial : 'failed'));
    assert.equal(new Set(serials).size, 100);
    assert.ok(!serials.includes('failed'));
    assert.equal(countRows(bench, 'certificates'), rows + 100);
  });

  it('refuses an empty batch and one of 101 (malformed) before issuing anything', async () => {
    const { spiffeId } = await entryFor(NODE);
    await refusedWithoutWriting(() => service(bench).issueX509Batch(caller(NODE), []), 'malformed', /1 to 100 requests, not 0/);
    await refusedWithoutWriting(
      () =>
        service(bench).issueX509Batch(
          caller(NODE),
          Array.from({ length: 101 }, () => ({ csr: csrs.p256, spiffeId })),
        ),
      'malformed',
      /not 101/,
    );
  });

  it('turns an unexpected fault in one item into kind internal without its message, and reports it', async () => {
    const { spiffeId } = await entryFor(NODE);
    const faulty = `${WEB}-faulty`;
    await entryFor(NODE, { spiffeId: faulty });
    // The real Authority, with a fault injected for one SPIFFE ID (a disk error, say).
    const issuer: SvidIssuer = {
      issue: (request, profile) =>
        request.spiffeId === faulty
          ? Promise.reject(new Error('EIO: /var/lib/keysmith/secret.key'))
          : bench.authority.issue(request, profile),
      bundlePem: () => bench.authority.bundlePem(),
    };
    const reported: unknown[] = [];
    const svids = service(bench, { onInternalError: (err) => reported.push(err) }, issuer);
    const results = await svids.issueX509Batch(caller(NODE), [
      { csr: csrs.p256, spiffeId },
      { csr: csrs.p256, spiffeId: faulty },
      { csr: csrs.p256, spiffeId },
    ]);
    assert.deepEqual(
      results.map((result) => result.ok),
      [true, false, true],
    );
    assert.deepEqual(results[1], { ok: false, error: { kind: 'internal', detail: 'internal error' } });
    assert.doesNotMatch(JSON.stringify(results), /secret\.key/);
    assert.equal(reported.length, 1);
    assert.ok(reported[0] instanceof Error && !isDomainError(reported[0]));
  });
});

describe('SvidService renew_after', () => {
  it('lies at half the lifetime from issuance, scaled by 1 + uniform(-0.1, 0.1) from the injected random', async () => {
    const { spiffeId } = await entryFor(NODE, { x509TtlMs: HOUR });
    for (const [unit, factor] of [
      [0, 0.9],
      [0.5, 1],
      [0.75, 1.05],
    ] as const) {
      const svid = await service(bench, { random: () => unit }).issueX509(caller(NODE), { csr: csrs.p256, spiffeId });
      const lifetime = svid.expiresAt - bench.clock.now();
      assert.equal(svid.renewAfter, bench.clock.now() + Math.round((lifetime / 2) * factor));
    }
  });

  it('stays within 45%..55% of the lifetime with the default random source, and varies', async () => {
    const { spiffeId } = await entryFor(NODE, { x509TtlMs: HOUR });
    const results = await service(bench).issueX509Batch(
      caller(NODE),
      Array.from({ length: 40 }, () => ({ csr: csrs.p256, spiffeId })),
    );
    const offsets = new Set<number>();
    for (const result of results) {
      assert.ok(result.ok);
      const lifetime = result.svid.expiresAt - bench.clock.now();
      const offset = result.svid.renewAfter - bench.clock.now();
      assert.ok(
        offset >= Math.floor(lifetime * 0.45) && offset <= Math.ceil(lifetime * 0.55),
        `renew_after offset ${offset} of ${lifetime}`,
      );
      offsets.add(offset);
    }
    assert.ok(offsets.size > 1);
  });
});
