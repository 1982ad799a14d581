import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateError, parsePemCertificates } from '../../../src/pkix/index.js';
import { TlsAlertError } from '../../../src/tls/alert.js';
import { describeCertificate, PeerChainVerifier } from '../../../src/tls/peer-verifier.js';

/** The engine's side of pkix: its refusals become the TLS alerts they name (RFC 8446 §6.2), with the pkix error as cause. */

const FIXTURES = join(process.cwd(), 'test', 'fixtures');
const ders = (name: string): Buffer[] => parsePemCertificates(readFileSync(join(FIXTURES, name), 'utf8'));

function assertAlertFromPkix(fn: () => unknown, alert: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TlsAlertError, `expected TlsAlertError, got ${String(error)}`);
    assert.equal(error.alert, alert);
    assert.match(error.message, message);
    assert.ok(error.cause instanceof CertificateError);
    assert.equal(error.message, error.cause.message);
    return true;
  });
}

describe('PeerChainVerifier', () => {
  const verifier = new PeerChainVerifier({ ca: ders('ca.pem') });

  it('returns the verified chain and the anchors for certificate_authorities', () => {
    const verified = verifier.verify(ders('client-chain.pem'), { role: 'client' });
    assert.equal(verified.peer.chain.length, 3);
    assert.equal(verified.peer.leaf, verified.peer.chain[0]);
    assert.equal(verifier.anchorSubjects.length, 1);
    assert.deepEqual(verifier.stats.signatureChecks, 2);
  });

  it('turns unknown_ca and bad_certificate refusals into TlsAlertErrors', () => {
    const otherChain = ders('other-client-chain.pem');
    assertAlertFromPkix(() => verifier.verify(otherChain, { role: 'client' }), 'unknown_ca', /^unknown_ca: no path from /);
    assertAlertFromPkix(() => verifier.verify([], { role: 'client' }), 'bad_certificate', /^bad_certificate: empty certificate chain$/);
    const malformed = /^bad_certificate: malformed certificate: /;
    assertAlertFromPkix(() => describeCertificate(Uint8Array.of(0x30, 0x00)), 'bad_certificate', malformed);
  });
});
