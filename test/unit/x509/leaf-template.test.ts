import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, KeyObject, webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { Authority, initCertificateAuthority, type CaMaterial, type IssueRequest } from '../../../src/ca/index.js';
import { planLeaf, TLS_SERVER_MAX_TTL_MS } from '../../../src/ca/profiles.js';
import type { NewCertificateRecord, ProfileName } from '../../../src/domain/certificates.js';
import { systemClock } from '../../../src/shared/clock.js';
import {
  checkSubjectPublicKey,
  describeCertificate,
  issuerFromCertificate,
  LeafTemplate,
  prepareCertificate,
  selfIssuer,
  signCertificate,
  toPem,
  type CertificateIssuer,
  type CertificateTemplate,
} from '../../../src/x509/index.js';
import { encodeTime } from '../../../src/x509/leaf-template.js';
import { peculiar } from '../../../src/x509/provider.js';
import { keyPair, openssl, tempDir, type KeyKind } from '../ca/helpers.js';
import { MemoryStore } from '../ca/memory-store.js';

/**
 * The DER template path against the asn1-schema builder: for the same plan,
 * serial and key the TBSCertificate must be byte-identical, and the signed
 * certificates must read the same to @peculiar/x509, `openssl x509 -text`,
 * `openssl asn1parse` and `openssl verify`.
 */

const TD = 'example.org';
const OCSP_URL = 'https://ca.example.org:8443/ocsp';
const CRL_URL = 'http://ca.example.org/crl/intermediate.crl';
const LONG_ID = `spiffe://${TD}/ns/production/sa/${'a-very-long-service-account-name-'.repeat(3)}end`;

interface Ca {
  readonly material: CaMaterial;
  readonly issuer: CertificateIssuer;
  readonly template: LeafTemplate;
  readonly dir: string;
}

let dir: ReturnType<typeof tempDir>;
const cas = new Map<'P-256' | 'P-384', Ca>();

before(async () => {
  dir = tempDir('leaf-template');
  for (const curve of ['P-256', 'P-384'] as const) {
    const caDir = join(dir.path, curve);
    const { material } = await initCertificateAuthority({
      dataDir: caDir,
      trustDomain: TD,
      store: new MemoryStore(),
      clock: systemClock,
      algorithm: curve,
    });
    const issuer = issuerFromCertificate(material.intermediate.certDer, material.intermediate.key);
    writeFileSync(join(caDir, 'root.pem'), material.root.certPem);
    writeFileSync(join(caDir, 'intermediate.pem'), material.intermediate.certPem);
    cas.set(curve, { material, issuer, template: new LeafTemplate(issuer, material.intermediate.keyObject), dir: caDir });
  }
});

after(() => dir.remove());

function ca(curve: 'P-256' | 'P-384'): Ca {
  const found = cas.get(curve);
  assert.ok(found !== undefined);
  return found;
}

let serialCounter = 0x4000;
function nextSerial(): string {
  serialCounter += 1;
  return `${serialCounter.toString(16)}${'5a'.repeat(14)}`;
}

/** A template exactly as the Authority makes it: planLeaf, then a serial. */
function planned(
  c: Ca,
  profile: ProfileName,
  request: Omit<IssueRequest, 'publicKey' | 'requester'> & { key: KeyKind },
  urls = true,
): CertificateTemplate {
  const { key, ...rest } = request;
  const checked = checkSubjectPublicKey(keyPair(key).spki);
  const plan = planLeaf(profile, { ...rest, publicKey: checked.spki, requester: 'system' }, checked, {
    now: Date.now(),
    trustDomain: TD,
    issuerNotAfter: c.issuer.notAfter,
    maxTlsServerTtlMs: TLS_SERVER_MAX_TTL_MS,
    ...(urls ? { ocspUrl: OCSP_URL, crlUrl: CRL_URL } : {}),
  });
  return { ...plan.template, serial: nextSerial() };
}

interface Pair {
  readonly fast: Uint8Array;
  readonly slow: Uint8Array;
}

/** Both encoders on one template: asserts identical TBS bytes, signs both, runs the fast check. */
async function encodeBoth(c: Ca, template: CertificateTemplate): Promise<Pair> {
  const encoded = c.template.encode(template);
  assert.ok(encoded !== undefined, 'the template path covers this shape');
  const prepared = prepareCertificate(template, c.issuer);
  const slowTbs = prepared.take();
  assert.deepEqual(Buffer.from(encoded.tbs).toString('hex'), Buffer.from(slowTbs).toString('hex'), 'TBSCertificate DER is byte-identical');
  const fast = await c.template.sign(encoded);
  await c.template.check(fast, encoded);
  const slow = await signCertificate(prepareCertificate(template, c.issuer));
  return { fast, slow };
}

function withoutSignature(text: string): string {
  // The ECDSA signature is randomized: drop its hex block, keep everything else.
  return text.replace(/Signature Value:[\s\S]*$/, '');
}

function write(c: Ca, name: string, der: Uint8Array): string {
  const file = join(c.dir, `${name}.pem`);
  writeFileSync(file, toPem(der));
  return file;
}

/** openssl -text, asn1parse of the TBS, @peculiar/x509's view and describeCertificate all agree; openssl verify accepts the fast one. */
function assertSameToEveryParser(c: Ca, pair: Pair, purpose: 'sslclient' | 'sslserver'): void {
  const fastFile = write(c, 'fast', pair.fast);
  const slowFile = write(c, 'slow', pair.slow);
  const fastText = openssl(['x509', '-in', fastFile, '-text', '-noout']);
  assert.equal(withoutSignature(fastText), withoutSignature(openssl(['x509', '-in', slowFile, '-text', '-noout'])));
  // -strparse 4: the TBSCertificate, whose offset is the same in both (the outer length takes three octets).
  const parseTbs = (file: string): string => openssl(['asn1parse', '-in', file, '-strparse', '4', '-i']);
  assert.equal(parseTbs(fastFile), parseTbs(slowFile));

  const fastX509 = new peculiar.X509Certificate(pair.fast);
  const slowX509 = new peculiar.X509Certificate(pair.slow);
  const view = (cert: peculiar.X509Certificate): unknown => ({
    serial: cert.serialNumber,
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
    signatureAlgorithm: cert.signatureAlgorithm,
    publicKey: Buffer.from(cert.publicKey.rawData).toString('hex'),
    extensions: cert.extensions.map((e) => ({ type: e.type, critical: e.critical, value: Buffer.from(e.value).toString('hex') })),
  });
  assert.deepEqual(view(fastX509), view(slowX509));
  const { fingerprint: _fast, ...fastDescription } = describeCertificate(pair.fast);
  const { fingerprint: _slow, ...slowDescription } = describeCertificate(pair.slow);
  assert.deepEqual(fastDescription, slowDescription);

  const verified = openssl([
    'verify',
    '-CAfile',
    join(c.dir, 'root.pem'),
    '-untrusted',
    join(c.dir, 'intermediate.pem'),
    '-purpose',
    purpose,
    fastFile,
  ]);
  assert.match(verified, /: OK/);
}

describe('LeafTemplate: the same DER as the certificate builder', () => {
  it('svid with a P-256 CA: P-256 key, CN = SPIFFE ID, URI SAN, AIA and CRL DP', async () => {
    const c = ca('P-256');
    const template = planned(c, 'svid', { key: 'p256', spiffeId: `spiffe://${TD}/ns/prod/sa/web` });
    assertSameToEveryParser(c, await encodeBoth(c, template), 'sslclient');
  });

  it('svid with a P-384 CA (ecdsa-with-SHA384) and a P-384 subject key', async () => {
    const c = ca('P-384');
    const template = planned(c, 'svid', { key: 'p384', spiffeId: `spiffe://${TD}/ns/prod/sa/db` });
    const pair = await encodeBoth(c, template);
    assert.match(openssl(['x509', '-in', write(c, 'p384', pair.fast), '-text', '-noout']), /ecdsa-with-SHA384/);
    assertSameToEveryParser(c, pair, 'sslserver');
  });

  it('a SPIFFE ID longer than 64 characters: subject O only, no CN (RFC 5280 ub-common-name)', async () => {
    const c = ca('P-256');
    assert.ok(LONG_ID.length > 64);
    const template = planned(c, 'svid', { key: 'ed25519', spiffeId: LONG_ID });
    assert.deepEqual(template.subject, [{ type: 'O', value: 'keysmith' }]);
    const pair = await encodeBoth(c, template);
    assert.equal(describeCertificate(pair.fast).subject, 'O=keysmith');
    assertSameToEveryParser(c, pair, 'sslclient');
  });

  it('DNS names after the URI SAN, with RSA-2048 and Ed25519 subject keys, under both CAs', async () => {
    for (const curve of ['P-256', 'P-384'] as const) {
      for (const key of ['rsa2048', 'ed25519'] as const) {
        const c = ca(curve);
        const template = planned(c, 'svid', {
          key,
          spiffeId: `spiffe://${TD}/ns/prod/sa/api`,
          dnsNames: ['API.example.org', 'api.internal'],
        });
        assertSameToEveryParser(c, await encodeBoth(c, template), 'sslserver');
      }
    }
  });

  it('lengths in the long forms: 40 DNS names make the SAN and the TBS cross 255 octets', async () => {
    const c = ca('P-256');
    const dnsNames = Array.from({ length: 40 }, (_, i) => `replica-${i}.database.internal.example.org`);
    const template = planned(c, 'svid', { key: 'rsa2048', spiffeId: `spiffe://${TD}/ns/prod/sa/db`, dnsNames });
    assertSameToEveryParser(c, await encodeBoth(c, template), 'sslserver');
  });

  it('node profile (EKU clientAuth then serverAuth), without AIA or CRL DP', async () => {
    const c = ca('P-256');
    const template = planned(c, 'node', { key: 'p256', spiffeId: `spiffe://${TD}/node/agent-7` }, false);
    assertSameToEveryParser(c, await encodeBoth(c, template), 'sslclient');
  });

  it('tls-server: IPv4 and IPv6 SANs, keyEncipherment for an RSA key', async () => {
    const c = ca('P-384');
    const template = planned(c, 'tls-server', { key: 'rsa2048', dnsNames: ['www.example.org'], ipAddresses: ['192.0.2.7', '2001:db8::7'] });
    assert.deepEqual(template.keyUsage, ['digitalSignature', 'keyEncipherment']);
    assertSameToEveryParser(c, await encodeBoth(c, template), 'sslserver');
  });

  it('an empty subject makes the SAN extension critical (RFC 5280 §4.1.2.6), as the builder does', async () => {
    const c = ca('P-256');
    const template = { ...planned(c, 'svid', { key: 'p256', spiffeId: `spiffe://${TD}/ns/x` }), subject: [] };
    const pair = await encodeBoth(c, template);
    assert.ok(describeCertificate(pair.fast).criticalExtensions.includes('2.5.29.17'));
    assertSameToEveryParser(c, pair, 'sslclient');
  });

  it('validity: UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), as asn1-schema writes them', async () => {
    for (const iso of ['1999-12-31T23:59:59Z', '2049-12-31T23:59:59Z', '2050-01-01T00:00:00Z', '2123-05-06T07:08:09Z']) {
      const expected = new Uint8Array(AsnConvert.serialize(new asn.Time(new Date(iso))));
      assert.deepEqual(encodeTime(Date.parse(iso)), expected, iso);
    }
    assert.equal(encodeTime(Date.parse('1949-12-31T23:59:59Z')), undefined);

    // A certificate that ends after 2049, under an issuer that lives until 2100.
    const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', pair.publicKey));
    const root = selfIssuer([{ type: 'CN', value: 'long-lived test root' }], spki, pair.privateKey);
    const rootDer = await signCertificate(
      prepareCertificate(
        {
          serial: '01',
          subject: [{ type: 'CN', value: 'long-lived test root' }],
          notBefore: Date.parse('2020-01-01T00:00:00Z'),
          notAfter: Date.parse('2100-01-01T00:00:00Z'),
          publicKey: spki,
          basicConstraints: { ca: true },
          keyUsage: ['keyCertSign'],
        },
        root,
      ),
    );
    const issuer = issuerFromCertificate(rootDer, pair.privateKey);
    const leaf = new LeafTemplate(issuer, KeyObject.from(pair.privateKey));
    const template: CertificateTemplate = {
      serial: nextSerial(),
      subject: [{ type: 'O', value: 'keysmith' }],
      notBefore: Date.parse('2049-06-01T00:00:00Z'),
      notAfter: Date.parse('2051-06-01T12:34:56Z'),
      publicKey: keyPair('p256').spki,
      basicConstraints: { ca: false },
      keyUsage: ['digitalSignature'],
      extendedKeyUsage: ['clientAuth'],
      subjectAltNames: [{ type: 'uri', value: `spiffe://${TD}/late` }],
    };
    const encoded = leaf.encode(template);
    assert.ok(encoded !== undefined);
    assert.deepEqual(encoded.tbs, prepareCertificate(template, issuer).take());
    const der = await leaf.sign(encoded);
    await leaf.check(der, encoded);
    const described = describeCertificate(der);
    assert.equal(described.notBefore, template.notBefore);
    assert.equal(described.notAfter, template.notAfter);
  });

  it('declines what it does not cover, so the builder handles it: CA, name constraints, ocsp-nocheck, rfc822Name, non-ASCII URIs', () => {
    const c = ca('P-256');
    const base = planned(c, 'svid', { key: 'p256', spiffeId: `spiffe://${TD}/w` });
    assert.equal(c.template.encode({ ...base, basicConstraints: { ca: true }, keyUsage: ['keyCertSign'] }), undefined);
    assert.equal(c.template.encode({ ...base, permittedUriHosts: [TD] }), undefined);
    assert.equal(c.template.encode({ ...base, ocspNoCheck: true }), undefined);
    assert.equal(c.template.encode({ ...base, subjectAltNames: [{ type: 'email', value: 'ops@example.org' }] }), undefined);
    assert.equal(c.template.encode({ ...base, subjectAltNames: [{ type: 'uri', value: `spiffe://${TD}/zürich` }] }), undefined);
  });

  it('refuses a bad template as the builder does (plain Error, nothing signed)', () => {
    const c = ca('P-256');
    const base = planned(c, 'svid', { key: 'p256', spiffeId: `spiffe://${TD}/w` });
    assert.throws(() => c.template.encode({ ...base, serial: '00ff' }), /serial must be lowercase hex/);
    assert.throws(() => c.template.encode({ ...base, notBefore: base.notBefore + 1 }), /whole seconds/);
    assert.throws(() => c.template.encode({ ...base, notAfter: c.issuer.notAfter + 1000 }), /past the issuer/);
    assert.throws(() => c.template.encode({ ...base, subjectAltNames: [{ type: 'dns', value: 'UPPER.example.org' }] }), /not normalized/);
  });
});

describe('LeafTemplate.check: catches what the template path could get wrong', () => {
  it('refuses a certificate signed by another key (the wrong key loaded)', async () => {
    const c = ca('P-256');
    const stranger = new LeafTemplate(c.issuer, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const encoded = stranger.encode(planned(c, 'svid', { key: 'p256', spiffeId: `spiffe://${TD}/w` }));
    assert.ok(encoded !== undefined);
    const der = await stranger.sign(encoded);
    await assert.rejects(c.template.check(der, encoded), /signature does not verify/);
  });

  it('refuses a well-signed certificate whose spliced fields differ from the template', async () => {
    const c = ca('P-256');
    const first = c.template.encode(planned(c, 'svid', { key: 'p256', spiffeId: `spiffe://${TD}/a`, dnsNames: ['a.example.org'] }));
    assert.ok(first !== undefined);
    const der = await c.template.sign(first);
    const changes: readonly [Partial<CertificateTemplate>, RegExp][] = [
      [{ serial: nextSerial() }, /serial/],
      [{ notAfter: first.template.notAfter - 1000 }, /validity/],
      [
        {
          subject: [
            { type: 'O', value: 'keysmith' },
            { type: 'CN', value: `spiffe://${TD}/b` },
          ],
        },
        /subject/,
      ],
      [{ publicKey: keyPair('p256').spki }, /public key/],
      [
        {
          subjectAltNames: [
            { type: 'uri', value: `spiffe://${TD}/a` },
            { type: 'dns', value: 'b.example.org' },
          ],
        },
        /subjectAltName/,
      ],
    ];
    for (const [change, message] of changes) {
      await assert.rejects(c.template.check(der, { ...first, template: { ...first.template, ...change } }), message);
    }
    await assert.rejects(c.template.check(der, { ...first, subjectKeyId: new Uint8Array(20) }), /subjectKeyIdentifier/);
  });

  it('refuses truncated or padded DER', async () => {
    const c = ca('P-256');
    const encoded = c.template.encode(planned(c, 'svid', { key: 'p256', spiffeId: `spiffe://${TD}/a` }));
    assert.ok(encoded !== undefined);
    const der = await c.template.sign(encoded);
    await assert.rejects(c.template.check(der.subarray(0, der.byteLength - 1), encoded), /not well-formed DER/);
    await assert.rejects(c.template.check(Uint8Array.from([...der, 0]), encoded), /not well-formed DER/);
  });
});

/** A store whose durable write finishes later, like the group-commit writer. */
class DeferredStore extends MemoryStore {
  failWith: Error | undefined;
  override recordIssued(record: NewCertificateRecord): Promise<void> {
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        if (this.failWith !== undefined) return reject(this.failWith);
        super.recordIssued(record);
        resolve();
      }),
    );
  }
}

describe('Authority on the template path', () => {
  it('records the ledger row from the template, equal to what describeCertificate reads from the DER', async () => {
    for (const curve of ['P-256', 'P-384'] as const) {
      const store = new MemoryStore();
      const authority = new Authority({ material: ca(curve).material, store, clock: systemClock, ocspUrl: OCSP_URL, crlUrl: CRL_URL });
      const requests: readonly [IssueRequest, ProfileName][] = [
        [
          { publicKey: keyPair('p256').spki, spiffeId: `spiffe://${TD}/ns/a/sa/b`, dnsNames: ['b.example.org'], requester: 'system' },
          'svid',
        ],
        [{ publicKey: keyPair('ed25519').spki, spiffeId: LONG_ID, requester: 'system' }, 'svid'],
        [{ publicKey: keyPair('p384').spki, spiffeId: `spiffe://${TD}/node/n1`, requester: 'system' }, 'node'],
        [
          { publicKey: keyPair('rsa2048').spki, dnsNames: ['www.example.org'], ipAddresses: ['192.0.2.1'], requester: 'acme:1' },
          'tls-server',
        ],
      ];
      for (const [request, profile] of requests) {
        const issued = await authority.issue(request, profile);
        const described = describeCertificate(issued.der);
        const row = store.records.get(issued.serial);
        assert.ok(row !== undefined);
        assert.deepEqual(
          {
            serial: row.serial,
            issuer: row.issuer,
            subject: row.subject,
            sans: row.sans,
            spiffeId: row.spiffeId,
            notBefore: row.notBefore,
            notAfter: row.notAfter,
          },
          {
            serial: described.serial,
            issuer: described.issuer,
            subject: described.subject,
            sans: described.sans,
            spiffeId: described.spiffeId,
            notBefore: described.notBefore,
            notAfter: described.notAfter,
          },
        );
        assert.equal(row.fingerprint, createHash('sha256').update(issued.der).digest('hex'));
        assert.deepEqual(issued.record, row);
      }
    }
  });

  it('awaits a store whose recordIssued returns a promise, and hands out nothing when it rejects', async () => {
    const store = new DeferredStore();
    const authority = new Authority({ material: ca('P-256').material, store, clock: systemClock });
    const issued = await authority.issue({ publicKey: keyPair('p256').spki, spiffeId: `spiffe://${TD}/w`, requester: 'system' }, 'svid');
    assert.ok(store.records.has(issued.serial), 'the row is written before issue resolves');
    store.failWith = new Error('disk full');
    await assert.rejects(
      authority.issue({ publicKey: keyPair('p256').spki, spiffeId: `spiffe://${TD}/w`, requester: 'system' }, 'svid'),
      /disk full/,
    );
    assert.equal(store.records.size, 1);
  });
});
