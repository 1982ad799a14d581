import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDomainError } from '../../../src/shared/errors.js';
import {
  checkIssuedCertificate,
  describeCertificate,
  issuerFromCertificate,
  prepareCertificate,
  selfIssuer,
  signCertificate,
  splitPemChain,
  type CertificateIssuer,
  type CertificateTemplate,
  type PreparedCertificate,
} from '../../../src/x509/index.js';
import { keyPair } from '../ca/helpers.js';

const NOW = Math.floor(Date.now() / 1000) * 1000;
const HOUR = 3_600_000;

let root: CertificateIssuer;
let rootTemplate: CertificateTemplate;
let intermediate: CertificateIssuer;
let rootDer: Uint8Array;

async function ecKeys(): Promise<{ privateKey: webcrypto.CryptoKey; spki: Uint8Array }> {
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  return { privateKey: pair.privateKey, spki: new Uint8Array(await webcrypto.subtle.exportKey('spki', pair.publicKey)) };
}

before(async () => {
  const keys = await ecKeys();
  const subject = [
    { type: 'O', value: 'test' },
    { type: 'CN', value: 'root' },
  ] as const;
  root = selfIssuer(subject, keys.spki, keys.privateKey);
  rootTemplate = {
    serial: '4001',
    subject,
    notBefore: NOW - 60_000,
    notAfter: NOW + 1000 * HOUR,
    publicKey: keys.spki,
    basicConstraints: { ca: true, pathLength: 1 },
    keyUsage: ['keyCertSign', 'cRLSign'],
  };
  const prepared = prepareCertificate(rootTemplate, root);
  rootDer = await signCertificate(prepared);
  checkIssuedCertificate(rootDer, prepared);
  intermediate = issuerFromCertificate(rootDer, keys.privateKey);
});

function leafTemplate(overrides: Partial<CertificateTemplate> = {}): CertificateTemplate {
  return {
    serial: '5a' + '01'.repeat(15),
    subject: [{ type: 'O', value: 'test' }],
    notBefore: NOW - 60_000,
    notAfter: NOW + HOUR,
    publicKey: keyPair('p256').spki,
    basicConstraints: { ca: false },
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['clientAuth'],
    subjectAltNames: [{ type: 'uri', value: 'spiffe://example.org/web' }],
    ...overrides,
  };
}

describe('prepareCertificate', () => {
  it('refuses templates keysmith must never sign', () => {
    const cases: readonly (readonly [Partial<CertificateTemplate>, RegExp])[] = [
      [{ serial: '8001' }, /serial/],
      [{ serial: '0001' }, /serial/],
      [{ serial: 'ABCD' }, /serial/],
      [{ serial: '01'.repeat(21) }, /serial/],
      [{ notBefore: NOW + 1 }, /whole seconds/],
      [{ notAfter: NOW - 60_000 }, /after notBefore/],
      [{ notAfter: NOW + 2000 * HOUR }, /past the issuer/],
      [{ keyUsage: [] }, /must not be empty/],
      [{ keyUsage: ['digitalSignature', 'keyCertSign'] }, /CA certificates only/],
      [{ basicConstraints: { ca: false, pathLength: 0 } }, /pathLength needs ca=true/],
      [{ basicConstraints: { ca: true }, keyUsage: ['keyCertSign'] }, /no extendedKeyUsage/],
      [{ permittedUriHosts: ['example.org'] }, /name constraints are for CA/],
      [{ subjectAltNames: [{ type: 'dns', value: 'WWW.example.com' }] }, /not normalized/],
      [{ subjectAltNames: [{ type: 'ip', value: '2001:DB8::1' }] }, /canonical/],
      [{ subjectAltNames: [{ type: 'email', value: 'a@example.com' }] }, /rfc822Name/],
      [{ subject: [], subjectAltNames: [] }, /empty subject/],
      [{ subject: [{ type: 'CN', value: 'x'.repeat(65) }] }, /CN must be 1 to 64/],
      [{ ocspUrl: 'ftp://x/ocsp' }, /http\(s\) URL/],
    ];
    for (const [overrides, message] of cases) {
      assert.throws(
        () => prepareCertificate(leafTemplate(overrides), intermediate),
        (err: unknown) => err instanceof Error && message.test(err.message),
        JSON.stringify(overrides),
      );
    }
  });

  it('makes a one-use token: a prepared certificate is signed once', async () => {
    const prepared = prepareCertificate(leafTemplate(), intermediate);
    await signCertificate(prepared);
    await assert.rejects(signCertificate(prepared), /signed only once/);
  });

  it('marks subjectAltName critical when the subject is empty (RFC 5280 §4.2.1.6)', async () => {
    const prepared = prepareCertificate(leafTemplate({ subject: [] }), intermediate);
    const der = await signCertificate(prepared);
    assert.ok(checkIssuedCertificate(der, prepared).criticalExtensions.includes('2.5.29.17'));
    assert.ok(!new X509Certificate(der).subject);
  });
});

describe('checkIssuedCertificate', () => {
  it('returns the description when DER and template agree', async () => {
    const prepared = prepareCertificate(leafTemplate({ ocspUrl: 'http://ca.example/ocsp', crlUrl: 'http://ca.example/crl' }), intermediate);
    const der = await signCertificate(prepared);
    const described = checkIssuedCertificate(der, prepared);
    assert.equal(described.spiffeId, 'spiffe://example.org/web');
    assert.deepEqual(described.ocspUrls, ['http://ca.example/ocsp']);
    assert.deepEqual(described.crlUrls, ['http://ca.example/crl']);
    assert.equal(described.issuer, 'O=test, CN=root');
  });

  it('throws when the certificate is not what the template asked for, or not signed by the issuer', async () => {
    const template = leafTemplate();
    const prepared = prepareCertificate(template, intermediate);
    const der = await signCertificate(prepared);
    // Templates that were never signed stand in for "what the caller asked for".
    const asked = (t: CertificateTemplate, by: CertificateIssuer = intermediate): PreparedCertificate => prepareCertificate(t, by);
    assert.throws(() => checkIssuedCertificate(der, asked({ ...template, extendedKeyUsage: ['serverAuth'] })), /extendedKeyUsage/);
    assert.throws(() => checkIssuedCertificate(der, asked({ ...template, serial: '5b' })), /serial/);
    assert.throws(() => checkIssuedCertificate(der, asked({ ...template, notAfter: template.notAfter + 1000 })), /validity/);
    assert.throws(() => checkIssuedCertificate(der, asked({ ...template, publicKey: keyPair('p256').spki })), /public key/);
    const other = await ecKeys();
    const stranger = selfIssuer([{ type: 'CN', value: 'root' }], other.spki, other.privateKey);
    assert.throws(() => checkIssuedCertificate(der, asked(template, stranger)), /signature does not verify/);
    assert.ok(checkIssuedCertificate(der, prepared));
  });
});

describe('describeCertificate', () => {
  it('reads an openssl-made certificate the way node:crypto does', () => {
    const [der] = splitPemChain(readFileSync(join(process.cwd(), 'test', 'fixtures', 'client.pem'), 'utf8'));
    assert.ok(der !== undefined);
    const described = describeCertificate(der);
    const node = new X509Certificate(der);
    assert.equal(described.serial, node.serialNumber.toLowerCase().replace(/^(00)+(?=..)/, ''));
    assert.equal(described.notAfter, Date.parse(node.validTo));
    assert.equal(described.notBefore, Date.parse(node.validFrom));
    assert.equal(described.fingerprint, createHash('sha256').update(der).digest('hex'));
    assert.equal(described.isCa, false);
    assert.deepEqual(describeCertificate(rootDer).permittedUriHosts, []);
    assert.equal(describeCertificate(rootDer).pathLength, 1);
  });

  it('gives a SPIFFE ID only for exactly one valid spiffe URI SAN', async () => {
    const two = leafTemplate({
      subjectAltNames: [
        { type: 'uri', value: 'spiffe://example.org/a' },
        { type: 'uri', value: 'spiffe://example.org/b' },
      ],
    });
    assert.equal(describeCertificate(await signCertificate(prepareCertificate(two, intermediate))).spiffeId, null);
    const https = leafTemplate({ subjectAltNames: [{ type: 'uri', value: 'https://example.org/a' }] });
    assert.equal(describeCertificate(await signCertificate(prepareCertificate(https, intermediate))).spiffeId, null);
  });

  it('refuses bytes that are not a certificate as malformed', () => {
    assert.throws(
      () => describeCertificate(Uint8Array.of(1, 2, 3)),
      (err: unknown) => isDomainError(err, 'malformed'),
    );
    assert.throws(
      () => describeCertificate(rootDer.subarray(0, 40)),
      (err: unknown) => isDomainError(err, 'malformed'),
    );
  });
});
