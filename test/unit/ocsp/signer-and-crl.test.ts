import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verify, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OcspSigner, type PublishedCrl } from '../../../src/ca/index.js';
import { describeCertificate, describeCrl, describeOcspResponse, encodeOcspRequest, toPem } from '../../../src/x509/index.js';
import { FixedClock, openssl } from '../ca/helpers.js';
import { ocspStack, type OcspStack } from './helpers.js';

/** The delegated responder's certificate and its rotation (src/ca/ocsp-signer.ts), and the CRL (src/ca/crl.ts). */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let stack: OcspStack;

before(async () => {
  stack = await ocspStack({ clock: new FixedClock(Date.parse('2030-06-01T08:00:00Z')) });
});
after(() => stack.close());

describe('OcspSigner (RFC 6960 §4.2.2.2 delegated responder)', () => {
  it('issues its certificate through the Authority: recorded, EKU OCSPSigning, id-pkix-ocsp-nocheck, no OCSP URL of its own, 7 days', () => {
    const der = stack.signer.certificateDer;
    assert.ok(der !== undefined);
    const described = describeCertificate(der);
    assert.deepEqual(described.extendedKeyUsage, ['ocspSigning']);
    assert.deepEqual(described.keyUsage, ['digitalSignature']);
    assert.ok(described.hasOcspNoCheck);
    assert.deepEqual(described.ocspUrls, []);
    assert.equal(described.notAfter, stack.signer.notAfter);
    assert.equal(described.notAfter - described.notBefore, 7 * DAY + 60_000);
    const record = stack.ledger.certificates.findBySerial(described.serial);
    assert.equal(record?.profile, 'ocsp-signer');
    assert.equal(record?.requester, 'system');
    // openssl agrees it may sign OCSP responses for this CA.
    const file = join(stack.dir, 'responder.pem');
    writeFileSync(file, toPem(der));
    const at = String(Math.floor(stack.clock.now() / 1000));
    assert.match(
      openssl([
        'verify',
        '-attime',
        at,
        '-CAfile',
        stack.files.root,
        '-untrusted',
        stack.files.intermediate,
        '-purpose',
        'ocsphelper',
        file,
      ]),
      /: OK/,
    );
  });

  it('rotates well before the certificate expires, and only then; responses signed before stay verifiable', async () => {
    const clock = new FixedClock(stack.clock.now());
    const signer = new OcspSigner({ authority: stack.authority, clock });
    await signer.rotate();
    const first = signer.serial;
    const issuerDer = stack.material.intermediate.certDer;
    const content = { producedAt: clock.now(), responses: [] };
    assert.equal(await signer.rotateIfDue(), false);
    clock.advance(4 * DAY);
    assert.equal(await signer.rotateIfDue(), false, 'more than a third of 7 days is left');
    clock.advance(DAY);
    const before = signer.signResponse({
      ...content,
      responses: [
        {
          certId: certIdOf(encodeOcspRequest([{ certificateDer: issuerDer, issuerDer }])),
          status: { kind: 'good' },
          thisUpdate: clock.now(),
          nextUpdate: clock.now() + HOUR,
        },
      ],
    });
    assert.equal(await signer.rotateIfDue(), true);
    assert.notEqual(signer.serial, first);
    const basic = describeOcspResponse(before).basic;
    const [oldCert] = basic?.certificates ?? [];
    assert.ok(basic !== undefined && oldCert !== undefined);
    assert.ok(verify('sha256', basic.tbs, { key: new X509Certificate(oldCert).publicKey, dsaEncoding: 'der' }, basic.signature));
  });

  it('shares one issuance between concurrent rotations', async () => {
    const signer = new OcspSigner({ authority: stack.authority, clock: stack.clock });
    const before = stack.ledger.certificates.count();
    await Promise.all([signer.rotate(), signer.rotate(), signer.rotate()]);
    assert.equal(stack.ledger.certificates.count(), before + 1);
  });

  it('refuses to sign with no certificate or an expired one', async () => {
    const clock = new FixedClock(stack.clock.now());
    const signer = new OcspSigner({ authority: stack.authority, clock, certificateTtlMs: DAY });
    assert.throws(() => signer.signResponse({ producedAt: clock.now(), responses: [] }), /no OCSP responder certificate/);
    await signer.rotate();
    clock.advance(DAY + 1000);
    assert.throws(() => signer.signResponse({ producedAt: clock.now(), responses: [] }), /has expired/);
  });

  it('refuses a rotation margin that is not inside the lifetime', () => {
    assert.throws(
      () => new OcspSigner({ authority: stack.authority, clock: stack.clock, certificateTtlMs: DAY, rotateBeforeMs: DAY }),
      /rotateBeforeMs/,
    );
    assert.throws(() => new OcspSigner({ authority: stack.authority, clock: stack.clock, certificateTtlMs: 31 * DAY }), /certificateTtlMs/);
  });
});

/** The DER CertID of a one-CertID request (offset past OCSPRequest, TBSRequest, requestList and Request headers). */
function certIdOf(request: Uint8Array): Uint8Array {
  // 30 L 30 L 30 L 30 L <CertID>: four short-form headers for these small requests.
  return request.subarray(8);
}

/** The published full CRL, after every pending rebuild finished. */
async function settledCrl(local: OcspStack): Promise<PublishedCrl> {
  await local.crl.settled();
  const crl = local.crl.current();
  assert.ok(crl !== undefined, 'a CRL was built');
  return crl;
}

describe('CrlPublisher (RFC 5280 §5)', () => {
  it('lists every revoked, unexpired certificate of the intermediate with its reason, readable by openssl', async () => {
    const revoked = await stack.issue();
    const kept = await stack.issue();
    await stack.authority.revoke(revoked.serial, 'keyCompromise');
    const crl = await settledCrl(stack);
    const described = describeCrl(crl.der);
    assert.ok(described.entries.some((e) => e.serial === revoked.serial && e.reason === 'keyCompromise'));
    assert.ok(!described.entries.some((e) => e.serial === kept.serial));
    assert.equal(described.nextUpdate, crl.thisUpdate + DAY);
    const file = join(stack.dir, 'list.crl');
    writeFileSync(file, crl.der);
    const text = openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-text', '-CAfile', stack.files.chain]);
    assert.match(text, new RegExp(`Serial Number: ${revoked.serial.toUpperCase()}`));
    assert.match(text, /Key Compromise/);
  });

  it('is rebuilt off the request path after a revocation through the Authority, with a larger crlNumber', async () => {
    const before = await settledCrl(stack);
    const issued = await stack.issue();
    await stack.authority.revoke(issued.serial, 'superseded');
    // The revocation only signalled the publisher: the CRL served a moment ago is still the one served now.
    assert.equal(stack.crl.current()?.der, before.der);
    const after = await settledCrl(stack);
    assert.ok(after.crlNumber > before.crlNumber);
    assert.ok(describeCrl(after.der).entries.some((e) => e.serial === issued.serial));
  });

  it('leaves out revoked certificates once they have expired', async () => {
    const clock = new FixedClock(stack.clock.now());
    const local = await ocspStack({ clock });
    try {
      const short = await local.issue('short', HOUR);
      await local.authority.revoke(short.serial, 'keyCompromise');
      assert.equal((await settledCrl(local)).entries, 1);
      clock.advance(HOUR + 1000);
      assert.equal((await local.crl.rebuild()).full.entries, 0);
    } finally {
      local.close();
    }
  });

  it('on the schedule, re-signs only when the revoked set changed (e.g. by the offline CLI) or half its validity passed', async () => {
    const clock = new FixedClock(stack.clock.now());
    const local = await ocspStack({ clock });
    try {
      assert.equal(await local.crl.refresh(), 'rebuilt', 'no CRL yet');
      const first = await settledCrl(local);
      clock.advance(60_000);
      assert.equal(await local.crl.refresh(), 'unchanged');
      assert.equal(local.crl.current()?.der, first.der, 'nothing changed: the same CRL');
      const issued = await local.issue();
      // Straight into the ledger, as another process would: no listener runs.
      local.ledger.certificates.revoke(issued.serial, 'keyCompromise', clock.now());
      assert.equal(await local.crl.refresh(), 'rebuilt');
      const changed = await settledCrl(local);
      assert.equal(changed.entries, 1);
      clock.advance(12 * HOUR);
      assert.equal(await local.crl.refresh(), 'rebuilt', 'half of 24 h passed');
      clock.advance(60_000);
      assert.equal(await local.crl.refresh(), 'unchanged');
    } finally {
      local.close();
    }
  });
});
