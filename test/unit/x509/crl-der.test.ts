import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { verify, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ecdsaSigner } from '../../../src/ca/ocsp-signer.js';
import { REVOCATION_REASONS, type RevocationReason } from '../../../src/domain/certificates.js';
import {
  crlIssuerOf,
  describeCrl,
  encodeCrl,
  encodeCrlTbs,
  encodeCrlTbsWithSchemas,
  encodeCrlWithSchemas,
  issuerFromCertificate,
  type CrlContent,
  type CrlEntry,
  type CrlIssuer,
} from '../../../src/x509/index.js';
import { openssl, tempDir } from '../ca/helpers.js';
import { ocspStack, type OcspStack } from '../ocsp/helpers.js';

/** The hand-written CRL DER writer (src/x509/crl.ts) against the asn1-x509 schema builder, and against openssl. */

let stack: OcspStack;
let issuer: CrlIssuer;
let sign: (tbs: Uint8Array) => Uint8Array;
const dir = tempDir('crl-der');

before(async () => {
  stack = await ocspStack();
  const { intermediate } = stack.material;
  issuer = crlIssuerOf(issuerFromCertificate(intermediate.certDer, intermediate.key));
  sign = ecdsaSigner(intermediate.keyObject, issuer.curve);
});
after(() => {
  stack.close();
  dir.remove();
});

const THIS_UPDATE = Date.parse('2030-01-01T00:00:00Z');
const REASONS = Object.keys(REVOCATION_REASONS) as RevocationReason[];

function content(entries: readonly CrlEntry[], extra: Partial<CrlContent> = {}): CrlContent {
  return { thisUpdate: THIS_UPDATE, nextUpdate: THIS_UPDATE + 86_400_000, crlNumber: 1_893_456_000_000, entries, ...extra };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

describe('encodeCrlTbs (RFC 5280 §5.1)', () => {
  it('writes the same bytes as the schema builder: every reason, a serial with its top bit set, a one-octet serial, an empty list', () => {
    const entries: CrlEntry[] = [
      ...REASONS.map((reason, i) => ({ serial: `4a${i.toString(16).padStart(2, '0')}`, revokedAt: THIS_UPDATE - i * 1_000, reason })),
      { serial: '8710f1206b2deffc76502c94ffd7768f', revokedAt: THIS_UPDATE - 5_500, reason: null },
      { serial: '01', revokedAt: THIS_UPDATE - 1, reason: 'keyCompromise' },
    ];
    for (const c of [content(entries), content([]), content(entries, { crlNumber: 1 }), content(entries, { crlNumber: 2 ** 31 })]) {
      assert.equal(hex(encodeCrlTbs(c, issuer)), hex(encodeCrlTbsWithSchemas(c, issuer)));
    }
  });

  it('writes the same bytes as the schema builder for a shard with its Issuing Distribution Point (RFC 5280 §5.2.5)', () => {
    const c = content([{ serial: '4a01', revokedAt: THIS_UPDATE, reason: 'superseded' }], {
      distributionPoint: 'http://127.0.0.1:8080/crl/3',
    });
    assert.equal(hex(encodeCrlTbs(c, issuer)), hex(encodeCrlTbsWithSchemas(c, issuer)));
    const described = describeCrl(encodeCrl(c, { issuer, sign }));
    assert.equal(described.distributionPoint, 'http://127.0.0.1:8080/crl/3');
    assert.equal(described.isDistributionPointCritical, true);
  });

  it('switches to GeneralizedTime from 2050 as the schema builder does (RFC 5280 §5.1.2.4)', () => {
    const late = Date.parse('2050-03-04T05:06:07Z');
    const c = content([{ serial: '4a01', revokedAt: late, reason: null }], { thisUpdate: late, nextUpdate: late + 1000 });
    assert.equal(hex(encodeCrlTbs(c, issuer)), hex(encodeCrlTbsWithSchemas(c, issuer)));
  });

  it('agrees with the schema builder on random lists (serials, times, reasons, numbers)', () => {
    const entry = fc.record({
      serial: fc.uint8Array({ minLength: 1, maxLength: 20 }).map((bytes) => {
        const h = Buffer.from(bytes)
          .toString('hex')
          .replace(/^(00)+/, '');
        return h === '' ? '01' : h;
      }),
      revokedAt: fc.integer({ min: Date.parse('1990-01-01T00:00:00Z'), max: Date.parse('2080-01-01T00:00:00Z') }),
      reason: fc.constantFrom<RevocationReason | null>(null, ...REASONS),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 12 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (entries, crlNumber) => {
        const c = content(entries, { crlNumber });
        assert.equal(hex(encodeCrlTbs(c, issuer)), hex(encodeCrlTbsWithSchemas(c, issuer)));
      }),
      { numRuns: 200 },
    );
  });

  it('signs a CertificateList identical to the schema-built one, given the same signature', () => {
    const c = content([{ serial: '4a01', revokedAt: THIS_UPDATE, reason: 'keyCompromise' }]);
    // ECDSA signatures are randomized: sign once and hand both builders the same bytes.
    const fixed = sign(encodeCrlTbs(c, issuer));
    assert.equal(hex(encodeCrl(c, { issuer, sign: () => fixed })), hex(encodeCrlWithSchemas(c, { issuer, sign: () => fixed })));
  });

  it('is read by openssl crl -inform DER: reason codes, CRL number, the IDP and a signature the intermediate verifies', () => {
    const entries: CrlEntry[] = [
      { serial: '4a01', revokedAt: THIS_UPDATE - 1000, reason: 'keyCompromise' },
      { serial: '4a02', revokedAt: THIS_UPDATE - 2000, reason: 'cessationOfOperation' },
      { serial: '4a03', revokedAt: THIS_UPDATE - 3000, reason: 'unspecified' },
    ];
    const der = encodeCrl(content(entries, { crlNumber: 1234567, distributionPoint: 'http://127.0.0.1/crl/7' }), { issuer, sign });
    const file = join(dir.path, 'shard.crl');
    writeFileSync(file, der);
    const text = openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-text', '-CAfile', stack.files.chain]);
    assert.match(text, /X509v3 CRL Number:\s*\n\s*1234567\b/);
    assert.match(
      text,
      /X509v3 Issuing Distribution Point: critical\s*\n\s*Full Name:\s*\n\s*URI:http:\/\/127\.0\.0\.1\/crl\/7\s+Only User Certificates/,
    );
    assert.match(
      text,
      /Serial Number: 4A01\s*\n\s*Revocation Date: Dec 31 23:59:59 2029 GMT\s*\n\s*CRL entry extensions:\s*\n\s*X509v3 CRL Reason Code:\s*\n\s*Key Compromise/,
    );
    assert.match(text, /Serial Number: 4A02[\s\S]*?Cessation Of Operation/);
    // RFC 5280 §5.3.1: unspecified is left out rather than written.
    assert.match(text, /Serial Number: 4A03\s*\n\s*Revocation Date: Dec 31 23:59:57 2029 GMT\s*\n(?!\s*CRL entry extensions)/);
    const described = describeCrl(der);
    assert.ok(
      verify(
        'sha256',
        described.tbs,
        { key: new X509Certificate(stack.material.intermediate.certDer).publicKey, dsaEncoding: 'der' },
        described.signature,
      ),
    );
  });
});
