import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRevocationFeed } from '../../../src/cli/cluster-revocations.js';
import type { IssuedCertificate } from '../../../src/ca/index.js';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { openRevocation, type Revocation } from '../../../src/cli/issuer-revocation.js';
import { issueIdentity } from '../../../src/cli/identities.js';
import { loadConfig } from '../../../src/config/index.js';
import { openLedgerBackend, type PostgresLedger, type RevocationFeed } from '../../../src/ledger/index.js';
import { requestForCertificate, type OcspReply } from '../../../src/ocsp/index.js';
import { describeOcspResponse } from '../../../src/x509/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';
import { FixedClock } from '../ca/helpers.js';

/**
 * A node on PostgreSQL as `serve` composes it (openCore, openRevocation, the
 * revocation feed), its database reached through a loopback relay that the
 * test cuts to take the database away: OCSP keeps answering what it has
 * cached, says tryLater for the rest, hears another node's revocation within
 * a second while the database is up, and recovers by itself.
 */

describe('OCSP on a PostgreSQL node while the database is down', () => {
  const clock = new FixedClock(Date.now());
  let database: TestDatabase;
  let proxy: TcpProxy;
  let dir: string;
  let core: Core;
  let revocation: Revocation;
  let feed: RevocationFeed | undefined;
  /** Another node's ledger, straight to the database. */
  let other: PostgresLedger;
  const feedErrors: string[] = [];

  before(async () => {
    database = await createTestDatabase('ocspdown');
    const target = new URL(database.url);
    proxy = await startTcpProxy(target.hostname, Number(target.port || '5432'));
    const proxied = new URL(database.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    dir = mkdtempSync(join(tmpdir(), 'keysmith-ocsp-down-'));
    const config = loadConfig({
      env: {
        KEYSMITH_DATA_DIR: dir,
        KEYSMITH_LISTEN: '127.0.0.1:18443',
        KEYSMITH_LOG_LEVEL: 'silent',
        KEYSMITH_DATABASE_URL: proxied.toString(),
      },
    });
    core = await openCore(config, { clock, ensureIdentities: false });
    revocation = await openRevocation(core);
    feed = await startRevocationFeed(
      core.ledger,
      { source: revocation.source, crl: revocation.crl, revokedSerials: core.revokedSerials },
      (_error, context) => feedErrors.push(context),
    );
    const opened = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 2 });
    assert.ok(opened.kind === 'postgres');
    other = opened.ledger;
  });

  after(async () => {
    await proxy.restore();
    await feed?.stop();
    revocation.stop();
    await core.close();
    await other.close();
    await proxy.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const issue = async (name: string): Promise<IssuedCertificate> =>
    (await issueIdentity(core.authority, { profile: 'svid', spiffeId: `spiffe://keysmith.local/workload/${name}`, requester: 'test' }))
      .issued;
  const ask = (issued: IssuedCertificate): Promise<OcspReply> =>
    Promise.resolve(revocation.port.responder.answer(requestForCertificate(issued.der, core.authority.material.intermediate.certDer)));

  function statusKind(reply: OcspReply): string | undefined {
    assert.equal(reply.status, 'successful', `${reply.status} ${String(reply.fault ?? reply.detail ?? '')}`);
    return describeOcspResponse(reply.der).basic?.responses[0]?.status.kind;
  }

  let cached: IssuedCertificate;
  let cachedReply: OcspReply;
  let uncached: IssuedCertificate;

  it('trusts the feed on PostgreSQL: another node revokes, the next answers are revoked within 1 s', async () => {
    assert.equal(feed?.isListening, true);
    cached = await issue('cached');
    uncached = await issue('uncached');
    const revoked = await issue('revoked');
    cachedReply = await ask(cached);
    assert.equal(statusKind(cachedReply), 'good');
    assert.equal(statusKind(await ask(revoked)), 'good');
    assert.equal(revocation.source.size, 2);
    const revokedAt = Date.now();
    await other.certificates.revoke(revoked.serial, 'keyCompromise', clock.now());
    let kind = 'good';
    while (kind === 'good' && Date.now() - revokedAt < 1_000) {
      kind = statusKind(await ask(revoked)) ?? 'none';
      if (kind === 'good') await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(kind, 'revoked');
    assert.ok(Date.now() - revokedAt < 1_000, `revoked seen after ${Date.now() - revokedAt} ms`);
    assert.equal(core.revokedSerials.has(revoked.serial), true);
  });

  it('database unreachable: a cached serial is still answered good (the same bytes), an uncached one tryLater', async () => {
    await proxy.cut();
    assert.equal(await core.repositories.ping(), false, 'the database is really out of reach');
    const hit = await ask(cached);
    assert.equal(hit.status, 'successful');
    assert.deepEqual(hit.der, cachedReply.der);
    assert.equal((await ask(uncached)).status, 'tryLater');
  });

  it('past the refresh point the held response is served until its nextUpdate, then tryLater', async () => {
    const facts = cachedReply.cache;
    assert.ok(facts !== undefined);
    const refreshAt = facts.thisUpdate + Math.floor((facts.nextUpdate - facts.thisUpdate) / 2);
    clock.time = refreshAt + 1_000;
    const late = await ask(cached);
    assert.equal(late.status, 'successful');
    assert.deepEqual(late.der, cachedReply.der, 're-signing failed, so the held response answers');
    clock.time = facts.nextUpdate;
    assert.equal((await ask(cached)).status, 'tryLater', 'never past nextUpdate (RFC 5019 §2.2.4)');
  });

  it('recovers by itself once the database is back: the uncached serial is answered good', async () => {
    await proxy.restore();
    clock.time = Date.now();
    assert.equal(statusKind(await ask(uncached)), 'good');
    assert.equal(statusKind(await ask(cached)), 'good');
    assert.ok(feedErrors.includes('listen'), 'the feed saw its LISTEN connection go');
  });
});
