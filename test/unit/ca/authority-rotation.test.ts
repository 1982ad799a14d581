import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import {
  Authority,
  DirectOcspSigner,
  initCertificateAuthority,
  loadCertificateAuthority,
  prepareIntermediate,
  type CaMaterial,
} from '../../../src/ca/index.js';
import { openLedger } from '../../../src/ledger/index.js';
import { compromisedIssuerSource, IssuerRouter, OcspResponder, requestForCertificate } from '../../../src/ocsp/index.js';
import { isDomainError } from '../../../src/shared/errors.js';
import { describeOcspResponse } from '../../../src/x509/index.js';
import { FixedClock, keyPair, openssl, tempDir } from './helpers.js';

/**
 * Authority.useIntermediate (the running switch a rotation's activation
 * makes) and the OCSP routing by issuer, on a real CA directory and ledger.
 */
const TD = 'example.org';
const HOUR = 3_600_000;

async function twoIntermediates(name: string): Promise<{ first: CaMaterial; second: CaMaterial; authority: Authority; close(): void }> {
  const dir = tempDir(name);
  const ledger = openLedger({ path: join(dir.path, 'keysmith.db') });
  const clock = new FixedClock(Date.now());
  const { material: first } = await initCertificateAuthority({ dataDir: dir.path, trustDomain: TD, store: ledger.certificates, clock });
  await prepareIntermediate({ dataDir: dir.path, trustDomain: TD, clock, store: ledger.certificates }, clock.now() + HOUR);
  clock.advance(HOUR);
  const second = await loadCertificateAuthority({ dataDir: dir.path, trustDomain: TD, clock });
  const authority = new Authority({ material: first, store: ledger.certificates, clock, crlUrl: 'https://ca.example.org/crl' });
  return {
    first,
    second,
    authority,
    close: () => {
      ledger.close();
      dir.remove();
    },
  };
}

function svidRequest(path: string): { publicKey: Uint8Array; spiffeId: string; requester: string } {
  return { publicKey: keyPair('p256').spki, spiffeId: `spiffe://${TD}/${path}`, requester: 'system' };
}

describe('Authority.useIntermediate', () => {
  it('signs with the new intermediate from the next issuance; the chain and the CRL URL follow it', async () => {
    const f = await twoIntermediates('switch');
    try {
      const before = await f.authority.issue(svidRequest('a'), 'svid');
      assert.ok(new X509Certificate(before.der).verify(new X509Certificate(f.first.intermediate.certDer).publicKey));
      assert.ok(before.chainPem.endsWith(f.first.intermediate.certPem));
      const switched: string[] = [];
      f.authority.onIntermediateChanged((material) => switched.push(material.intermediate.serial));
      f.authority.useIntermediate(f.second);
      assert.deepEqual(switched, [f.second.intermediate.serial]);
      const after = await f.authority.issue(svidRequest('b'), 'svid');
      const leaf = new X509Certificate(after.der);
      assert.ok(leaf.verify(new X509Certificate(f.second.intermediate.certDer).publicKey));
      assert.ok(after.chainPem.endsWith(f.second.intermediate.certPem));
      assert.equal(
        after.record.issuer,
        `O=keysmith, OU=example.org, CN=keysmith intermediate CA ${f.second.intermediate.serial.slice(0, 16)}`,
      );
      // RFC 5280 §5: one CRL per issuer; the rotated intermediate's leaves name its own.
      assert.equal(
        openssl(['x509', '-noout', '-ext', 'crlDistributionPoints'], { input: after.pem }).replace(/\s+/g, ' ').trim(),
        `X509v3 CRL Distribution Points: Full Name: URI:https://ca.example.org/crl/issuer/${f.second.intermediate.serial}`,
      );
      assert.equal(
        openssl(['x509', '-noout', '-ext', 'crlDistributionPoints'], { input: before.pem }).replace(/\s+/g, ' ').trim(),
        'X509v3 CRL Distribution Points: Full Name: URI:https://ca.example.org/crl',
      );
      assert.equal(f.authority.material.intermediate.serial, f.second.intermediate.serial);
    } finally {
      f.close();
    }
  });

  it('never revokes a CA certificate, past or present, through the issuance pipeline', async () => {
    const f = await twoIntermediates('ca-serials');
    try {
      f.authority.useIntermediate(f.second);
      for (const serial of [f.first.intermediate.serial, f.second.intermediate.serial]) {
        await assert.rejects(f.authority.revoke(serial, 'keyCompromise'), (err: unknown) => isDomainError(err) && err.kind === 'forbidden');
      }
    } finally {
      f.close();
    }
  });

  it('keeps the root', async () => {
    const f = await twoIntermediates('root');
    const other = tempDir('other-root');
    const otherLedger = openLedger({ path: join(other.path, 'keysmith.db') });
    try {
      const foreign = await initCertificateAuthority({
        dataDir: other.path,
        trustDomain: TD,
        store: otherLedger.certificates,
        clock: new FixedClock(Date.now()),
      });
      assert.throws(() => f.authority.useIntermediate(foreign.material), /a rotation keeps the root/);
      assert.equal(f.authority.material.intermediate.serial, f.first.intermediate.serial, 'nothing switched');
    } finally {
      otherLedger.close();
      other.remove();
      f.close();
    }
  });
});

describe('IssuerRouter: OCSP for several intermediates', () => {
  it('routes each request to its issuer, and refuses one naming no issuer it serves or mixing two (RFC 6960 §2.3)', async () => {
    const f = await twoIntermediates('router');
    try {
      const clock = new FixedClock(Date.now());
      const oldLeaf = await f.authority.issue(svidRequest('old'), 'svid');
      f.authority.useIntermediate(f.second);
      const newLeaf = await f.authority.issue(svidRequest('new'), 'svid');
      const router = new IssuerRouter();
      const signerOf = (m: CaMaterial): DirectOcspSigner => new DirectOcspSigner(m.intermediate.certDer, m.intermediate.keyObject);
      // The old one is known compromised (RFC 6960 §2.7): revoked for everything it issued.
      router.setRoutes([
        {
          id: f.first.intermediate.serial,
          issuerCertificate: f.first.intermediate.certDer,
          source: compromisedIssuerSource({ signer: signerOf(f.first), revokedAt: 1_700_000_000_000, clock, validityMs: HOUR }),
        },
      ]);
      const responder = new OcspResponder(router);
      const askOld = requestForCertificate(oldLeaf.der, f.first.intermediate.certDer);
      const askNew = requestForCertificate(newLeaf.der, f.second.intermediate.certDer);
      const oldReply = await responder.answer(askOld);
      assert.equal(oldReply.status, 'successful');
      const decoded = describeOcspResponse(oldReply.der).basic;
      assert.deepEqual(
        decoded?.responses.map((r) => r.status),
        [{ kind: 'revoked', revokedAt: 1_700_000_000_000, reason: 'cACompromise' }],
      );
      assert.equal((await responder.answer(askNew)).status, 'unauthorized', 'no route for the new issuer yet');
    } finally {
      f.close();
    }
  });
});
