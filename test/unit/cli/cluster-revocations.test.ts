import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { revocationHandler, startRevocationFeed } from '../../../src/cli/cluster-revocations.js';
import { clientCertificateVerdict, openCore } from '../../../src/cli/compose.js';
import { openRevocation } from '../../../src/cli/issuer-revocation.js';
import { issueIdentity } from '../../../src/cli/identities.js';
import { loadConfig } from '../../../src/config/index.js';
import { requestForCertificate } from '../../../src/ocsp/index.js';

/**
 * What a revocation made on another node changes on this one, on a real
 * core (SQLite ledger, Authority, OCSP responder, CRL publisher): the
 * handler the feed calls. The revocation is written straight to the ledger,
 * past this node's Authority, as another node's would be.
 */
describe('revocationHandler: a revocation heard from the cluster', () => {
  it('drops the cached OCSP responses, refuses the serial at the handshake check, and rebuilds the CRL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-cluster-revocation-'));
    const config = loadConfig({
      env: { KEYSMITH_DATA_DIR: dir, KEYSMITH_LISTEN: '127.0.0.1:18443', KEYSMITH_LOG_LEVEL: 'silent', KEYSMITH_CRL_REBUILD_DELAY_MS: '0' },
    });
    const core = await openCore(config, { ensureIdentities: false });
    const revocation = await openRevocation(core);
    try {
      const { issued } = await issueIdentity(core.authority, {
        profile: 'svid',
        spiffeId: 'spiffe://keysmith.local/workload/a',
        requester: 'test',
      });
      const ocspRequest = requestForCertificate(issued.der, core.authority.material.intermediate.certDer);
      assert.equal((await revocation.port.responder.answer(ocspRequest)).status, 'successful');
      assert.equal(revocation.source.size, 1, 'the response is cached');
      assert.ok(core.ledger.kind === 'sqlite');
      core.ledger.ledger.certificates.revoke(issued.serial, 'keyCompromise', Date.now());
      assert.equal(core.revokedSerials.has(issued.serial), false, 'this node has not heard of it yet');
      const buildsBefore = revocation.crl.builds;

      revocationHandler({ source: revocation.source, crl: revocation.crl, revokedSerials: core.revokedSerials })(issued.serial);

      assert.equal(revocation.source.size, 0, 'the cached response is gone');
      assert.equal(core.revokedSerials.has(issued.serial), true);
      assert.equal(clientCertificateVerdict(core, { serialNumber: issued.serial, notAfter: new Date(issued.notAfter) }), 'revoked');
      const deadline = Date.now() + 10_000;
      while (revocation.crl.builds === buildsBefore && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(revocation.crl.builds, buildsBefore + 1, 'one CRL rebuild for the revocation');
    } finally {
      revocation.stop();
      await core.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts no feed on SQLite: one process, and Authority.onRevoked already reaches everything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-cluster-revocation-'));
    const config = loadConfig({ env: { KEYSMITH_DATA_DIR: dir, KEYSMITH_LISTEN: '127.0.0.1:18443', KEYSMITH_LOG_LEVEL: 'silent' } });
    const core = await openCore(config, { ensureIdentities: false });
    const revocation = await openRevocation(core);
    try {
      const feed = await startRevocationFeed(
        core.ledger,
        { source: revocation.source, crl: revocation.crl, revokedSerials: core.revokedSerials },
        () => undefined,
      );
      assert.equal(feed, undefined);
      // The local path: the Authority's own revocation reaches the remembered serials directly.
      const { issued } = await issueIdentity(core.authority, {
        profile: 'svid',
        spiffeId: 'spiffe://keysmith.local/workload/b',
        requester: 'test',
      });
      await core.authority.revoke(issued.serial, 'superseded');
      assert.equal(core.revokedSerials.has(issued.serial), true);
    } finally {
      revocation.stop();
      await core.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
