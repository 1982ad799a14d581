import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Authority, initCertificateAuthority, type CaMaterial, type IssueRequest, type IssuedCertificate } from '../../../src/ca/index.js';
import { DomainError, isDomainError, type DomainErrorKind } from '../../../src/shared/errors.js';
import type { ProfileName } from '../../../src/domain/certificates.js';
import { describeCertificate, issuerFromCertificate, prepareCertificate, signCertificate, toPem } from '../../../src/x509/index.js';
import { FixedClock, keyPair, openssl, opensslText, tempDir, type KeyKind } from './helpers.js';
import { MemoryStore } from './memory-store.js';

/**
 * Real issuance through Authority.issue against a CA made in a temporary
 * directory, with a Map-backed store. Each certificate is read back three
 * ways: node:crypto's X509Certificate, `openssl x509 -text`, and
 * `openssl verify` of the chain.
 */

const TD = 'example.org';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const OCSP_URL = 'https://ca.example.org:8443/ocsp';

let dir: ReturnType<typeof tempDir>;
let material: CaMaterial;
let intermediate: X509Certificate;
const clock = new FixedClock(Date.now());

before(async () => {
  dir = tempDir('authority');
  ({ material } = await initCertificateAuthority({ dataDir: dir.path, trustDomain: TD, store: new MemoryStore(), clock }));
  intermediate = new X509Certificate(material.intermediate.certDer);
  writeFileSync(join(dir.path, 'root.pem'), material.root.certPem);
  writeFileSync(join(dir.path, 'intermediate.pem'), material.intermediate.certPem);
});

after(() => dir.remove());

function authority(
  options: { store?: MemoryStore; ocspUrl?: string; crlUrl?: string; maxTlsServerTtlMs?: number; random?: (n: number) => Uint8Array } = {},
): {
  authority: Authority;
  store: MemoryStore;
} {
  const store = options.store ?? new MemoryStore();
  const { store: _ignored, ...rest } = options;
  return { authority: new Authority({ material, store, clock, ...rest }), store };
}

function request(fields: Partial<IssueRequest> & { key?: KeyKind } = {}): IssueRequest {
  const { key = 'p256', ...rest } = fields;
  return { publicKey: keyPair(key).spki, requester: 'spiffe://example.org/node/agent-1', ...rest };
}

/** openssl verify of leaf + intermediate to the root, for a purpose. */
function opensslVerify(issued: IssuedCertificate, purpose?: 'sslclient' | 'sslserver' | 'ocsphelper'): string {
  const leaf = join(dir.path, `leaf-${issued.serial}.pem`);
  writeFileSync(leaf, issued.pem);
  return openssl([
    'verify',
    '-CAfile',
    join(dir.path, 'root.pem'),
    '-untrusted',
    join(dir.path, 'intermediate.pem'),
    ...(purpose === undefined ? [] : ['-purpose', purpose]),
    leaf,
  ]);
}

async function rejectsWith(promise: Promise<unknown>, kind: DomainErrorKind, detail: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isDomainError(err, kind), `expected DomainError ${kind}, got ${String(err)}`);
    assert.match(err.detail, detail);
    return true;
  });
}

describe('Authority.issue: svid (SPIFFE X509-SVID)', () => {
  it('issues one URI SAN, CA=false, critical digitalSignature only, EKU serverAuth+clientAuth, chaining to the root', async () => {
    const { authority: ca, store } = authority({ ocspUrl: OCSP_URL });
    const issued = await ca.issue(request({ spiffeId: 'spiffe://example.org/ns/prod/sa/web' }), 'svid');
    const cert = new X509Certificate(issued.der);
    assert.equal(cert.subjectAltName, 'URI:spiffe://example.org/ns/prod/sa/web');
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage?.slice().sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.ok(cert.checkIssued(intermediate) && cert.verify(intermediate.publicKey));

    const text = opensslText(issued.pem, dir.path);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE\n/);
    assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, /Extended Key Usage:\s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
    assert.match(text, /Subject Alternative Name:\s*\n\s+URI:spiffe:\/\/example\.org\/ns\/prod\/sa\/web\n/);
    assert.match(text, /Authority Information Access:\s*\n\s+OCSP - URI:https:\/\/ca\.example\.org:8443\/ocsp\n/);
    assert.match(text, /Subject Key Identifier/);
    const aki = /Authority Key Identifier:\s*\n\s+(?:keyid:)?([0-9A-F:]+)\n/.exec(text)?.[1];
    assert.equal(aki?.replace(/:/g, '').toLowerCase(), describeCertificate(material.intermediate.certDer).subjectKeyId);

    assert.match(opensslVerify(issued, 'sslclient'), /: OK/);
    assert.match(opensslVerify(issued, 'sslserver'), /: OK/);

    // Default TTL 1 h, notBefore 60 s back, both whole seconds.
    assert.equal(issued.notBefore, Math.floor((clock.now() - 60_000) / 1000) * 1000);
    assert.equal(issued.notAfter, Math.floor((clock.now() + HOUR) / 1000) * 1000);
    assert.ok(issued.notAfter <= Date.parse(intermediate.validTo));
    assert.equal(Date.parse(cert.validTo), issued.notAfter);

    assert.equal(issued.chainPem, issued.pem + material.intermediate.certPem);
    assert.equal(issued.pem, toPem(issued.der));
    const record = store.records.get(issued.serial);
    assert.deepEqual(record, issued.record);
    assert.equal(record?.spiffeId, 'spiffe://example.org/ns/prod/sa/web');
    assert.equal(record?.profile, 'svid');
    assert.equal(record?.requester, 'spiffe://example.org/node/agent-1');
    assert.equal(record?.fingerprint, createHash('sha256').update(issued.der).digest('hex'));
    assert.deepEqual(record?.sans, [{ type: 'uri', value: 'spiffe://example.org/ns/prod/sa/web' }]);
  });

  it('adds requested DNS names (lowercased) after the one URI SAN', async () => {
    const { authority: ca } = authority();
    const issued = await ca.issue(
      request({ spiffeId: 'spiffe://example.org/web', dnsNames: ['Web.Example.ORG', 'web.example.org', 'web'] }),
      'svid',
    );
    assert.equal(new X509Certificate(issued.der).subjectAltName, 'URI:spiffe://example.org/web, DNS:web.example.org, DNS:web');
    assert.doesNotMatch(opensslText(issued.pem, dir.path), /Authority Information Access/);
  });

  it('caps the lifetime at 24 h and at the intermediate notAfter', async () => {
    const { authority: ca } = authority();
    const ok = await ca.issue(request({ spiffeId: 'spiffe://example.org/web', ttlMs: DAY }), 'svid');
    assert.equal(ok.notAfter - ok.notBefore, DAY + 60_000);
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://example.org/web', ttlMs: DAY + 1000 }), 'svid'),
      'malformed',
      /svid maximum of 1 d/,
    );

    const late = new FixedClock(Date.parse(intermediate.validTo) - 30 * 60_000);
    const nearEnd = new Authority({ material, store: new MemoryStore(), clock: late });
    const clipped = await nearEnd.issue(request({ spiffeId: 'spiffe://example.org/web' }), 'svid');
    assert.equal(clipped.notAfter, Date.parse(intermediate.validTo));
  });

  it('honours a requested notBefore no later than now, and refuses one in the future', async () => {
    const { authority: ca } = authority();
    const issued = await ca.issue(request({ spiffeId: 'spiffe://example.org/web', notBefore: clock.now() - 10_000 }), 'svid');
    assert.equal(issued.notBefore, Math.floor((clock.now() - 10_000) / 1000) * 1000);
    const backdated = await ca.issue(request({ spiffeId: 'spiffe://example.org/web', notBefore: clock.now() - DAY }), 'svid');
    assert.equal(backdated.notBefore, Math.floor((clock.now() - 60_000) / 1000) * 1000);
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://example.org/web', notBefore: clock.now() + 5000 }), 'svid'),
      'malformed',
      /future/,
    );
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://example.org/web', ttlMs: HOUR, notAfter: clock.now() + HOUR }), 'svid'),
      'malformed',
      /ttlMs or notAfter/,
    );
  });

  it('refuses what the profile does not allow, before signing anything', async () => {
    const { authority: ca, store } = authority();
    await rejectsWith(ca.issue(request({}), 'svid'), 'malformed', /needs a SPIFFE ID/);
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://other.org/web' }), 'svid'),
      'rejectedIdentifier',
      /not in trust domain example\.org/,
    );
    await rejectsWith(ca.issue(request({ spiffeId: 'spiffe://example.org' }), 'svid'), 'rejectedIdentifier', /names the trust domain/);
    await rejectsWith(ca.issue(request({ spiffeId: 'spiffe://example.org/node/agent-1' }), 'svid'), 'rejectedIdentifier', /node profile/);
    await rejectsWith(ca.issue(request({ spiffeId: 'spiffe://example.org/admin/alice' }), 'svid'), 'rejectedIdentifier', /operator/);
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://example.org/web', ipAddresses: ['10.0.0.1'] }), 'svid'),
      'rejectedIdentifier',
      /no IP/,
    );
    await rejectsWith(ca.issue(request({ spiffeId: 'spiffe://example.org/a//b' }), 'svid'), 'malformed', /empty segment/);
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://example.org/web', dnsNames: ['*.example.org'] }), 'svid'),
      'rejectedIdentifier',
      /wildcard/,
    );
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://example.org/web', dnsNames: ['bad_name'] }), 'svid'),
      'malformed',
      /not a valid DNS name/,
    );
    await rejectsWith(ca.issue(request({ spiffeId: 'spiffe://example.org/web', requester: '' }), 'svid'), 'malformed', /requester/);
    await rejectsWith(ca.issue(request({ spiffeId: 'spiffe://example.org/web' }), 'root'), 'malformed', /only when the CA is created/);
    assert.equal(store.records.size, 0);
    assert.equal(store.asked.length, 0);
  });

  it('refuses keys other than EC P-256/P-384, Ed25519 and RSA >= 2048 as badCSR', async () => {
    const { authority: ca } = authority();
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://example.org/web', key: 'rsa1024' }), 'svid'),
      'badCSR',
      /RSA modulus of 1024 bits is not accepted/,
    );
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://example.org/web', key: 'p521' }), 'svid'),
      'badCSR',
      /EC curve P-521 is not accepted/,
    );
    await rejectsWith(
      ca.issue({ publicKey: Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01), spiffeId: 'spiffe://example.org/web', requester: 'x' }, 'svid'),
      'badCSR',
      /SubjectPublicKeyInfo/,
    );
    const trailing = Uint8Array.from([...keyPair('p256').spki, 0x00]);
    await rejectsWith(
      ca.issue({ publicKey: trailing, spiffeId: 'spiffe://example.org/web', requester: 'x' }, 'svid'),
      'badCSR',
      /not a DER SubjectPublicKeyInfo \(RFC 5280 §4\.1\): trailing bytes/,
    );
    for (const key of ['p384', 'ed25519', 'rsa2048'] as const) {
      const issued = await ca.issue(request({ spiffeId: 'spiffe://example.org/web', key }), 'svid');
      assert.match(opensslVerify(issued, 'sslclient'), /: OK/, key);
      assert.match(opensslText(issued.pem, dir.path), /Key Usage: critical\s+Digital Signature\n/, key);
    }
  });

  it('issues admin identities (/admin/*) only to the operator, for up to 90 days', async () => {
    const { authority: ca } = authority();
    const issued = await ca.issue(
      request({ spiffeId: 'spiffe://example.org/admin/bootstrap', requester: 'system', ttlMs: 90 * DAY }),
      'svid',
    );
    assert.equal(issued.notAfter - issued.notBefore, 90 * DAY + 60_000);
    const byCli = await ca.issue(request({ spiffeId: 'spiffe://example.org/admin/alice', requester: 'cli:alice' }), 'svid');
    assert.equal(byCli.notAfter - byCli.notBefore, 30 * DAY + 60_000);
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://example.org/admin/alice', requester: 'cli:alice', ttlMs: 91 * DAY }), 'svid'),
      'malformed',
      /svid \(admin\) maximum of 90 d/,
    );
  });
});

describe('Authority.issue: tls-server, node, ocsp-signer', () => {
  it('tls-server: DNS and IP SANs, EKU serverAuth only, 90 days by default, verifies for sslserver under the URI-constrained intermediate', async () => {
    const { authority: ca, store } = authority({ ocspUrl: OCSP_URL, crlUrl: 'http://ca.example.org/crl' });
    const issued = await ca.issue(
      request({ dnsNames: ['www.example.com', '*.apps.example.com'], ipAddresses: ['192.0.2.7', '2001:DB8::0:1'], requester: 'acme:1' }),
      'tls-server',
    );
    const cert = new X509Certificate(issued.der);
    assert.equal(cert.subjectAltName, 'DNS:www.example.com, DNS:*.apps.example.com, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:1');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(cert.subject, 'O=keysmith\nCN=www.example.com');
    const text = opensslText(issued.pem, dir.path);
    assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, /CRL Distribution Points:\s*\n\s+Full Name:\s*\n\s+URI:http:\/\/ca\.example\.org\/crl/);
    assert.match(opensslVerify(issued, 'sslserver'), /: OK/);
    assert.equal(issued.notAfter - issued.notBefore, 90 * DAY + 60_000);
    assert.deepEqual(store.records.get(issued.serial)?.sans, [
      { type: 'dns', value: 'www.example.com' },
      { type: 'dns', value: '*.apps.example.com' },
      { type: 'ip', value: '192.0.2.7' },
      { type: 'ip', value: '2001:db8::1' },
    ]);
    assert.equal(store.records.get(issued.serial)?.spiffeId, null);
  });

  it('tls-server: keyEncipherment for RSA keys, a configurable maximum, no SPIFFE ID, at least one name', async () => {
    const { authority: ca } = authority({ maxTlsServerTtlMs: 30 * DAY });
    const rsa = await ca.issue(request({ dnsNames: ['rsa.example.com'], key: 'rsa2048', ttlMs: 30 * DAY }), 'tls-server');
    assert.match(opensslText(rsa.pem, dir.path), /Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    assert.equal(rsa.notAfter - rsa.notBefore, 30 * DAY + 60_000);
    await rejectsWith(ca.issue(request({ dnsNames: ['a.example.com'], ttlMs: 31 * DAY }), 'tls-server'), 'malformed', /maximum of 30 d/);
    await rejectsWith(
      ca.issue(request({ dnsNames: ['a.example.com'], spiffeId: 'spiffe://example.org/x' }), 'tls-server'),
      'rejectedIdentifier',
      /no SPIFFE ID/,
    );
    await rejectsWith(ca.issue(request({}), 'tls-server'), 'malformed', /at least one DNS name or IP/);
    await rejectsWith(ca.issue(request({ ipAddresses: ['fe80::1%eth0'] }), 'tls-server'), 'malformed', /not an IP address/);
    assert.throws(() => new Authority({ material, store: new MemoryStore(), clock, maxTlsServerTtlMs: 398 * DAY }), /at most/);
  });

  it('node: SPIFFE ID under /node/, EKU clientAuth+serverAuth, 24 h default, 7 d maximum', async () => {
    const { authority: ca } = authority();
    const issued = await ca.issue(request({ spiffeId: 'spiffe://example.org/node/agent-7', requester: 'join-token:abc' }), 'node');
    const cert = new X509Certificate(issued.der);
    assert.equal(cert.subjectAltName, 'URI:spiffe://example.org/node/agent-7');
    assert.deepEqual(cert.keyUsage?.slice().sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(issued.notAfter - issued.notBefore, DAY + 60_000);
    assert.match(opensslVerify(issued, 'sslclient'), /: OK/);
    await rejectsWith(
      ca.issue(request({ spiffeId: 'spiffe://example.org/node/agent-7', ttlMs: 8 * DAY }), 'node'),
      'malformed',
      /node maximum of 7 d/,
    );
    await rejectsWith(ca.issue(request({ spiffeId: 'spiffe://example.org/web' }), 'node'), 'rejectedIdentifier', /under \/node\//);
    await rejectsWith(ca.issue(request({ spiffeId: 'spiffe://example.org/node' }), 'node'), 'rejectedIdentifier', /under \/node\//);
  });

  it('ocsp-signer: EKU OCSPSigning, id-pkix-ocsp-nocheck, no names, no AIA, 7 days, operator only', async () => {
    const { authority: ca } = authority({ ocspUrl: OCSP_URL });
    const issued = await ca.issue(request({ requester: 'system' }), 'ocsp-signer');
    const cert = new X509Certificate(issued.der);
    assert.equal(cert.subjectAltName, undefined);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.9']);
    const text = opensslText(issued.pem, dir.path);
    assert.match(text, /OCSP No Check:/);
    assert.match(text, /Extended Key Usage:\s*\n\s+OCSP Signing\n/);
    assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
    assert.doesNotMatch(text, /Authority Information Access/);
    assert.equal(issued.notAfter - issued.notBefore, 7 * DAY + 60_000);
    assert.match(opensslVerify(issued, 'ocsphelper'), /: OK/);
    await rejectsWith(ca.issue(request({ requester: 'spiffe://example.org/web' }), 'ocsp-signer'), 'rejectedIdentifier', /operator/);
    await rejectsWith(ca.issue(request({ requester: 'system', dnsNames: ['x.example'] }), 'ocsp-signer'), 'rejectedIdentifier', /no names/);
  });

  it('the intermediate name constraint makes openssl refuse a SPIFFE ID of another trust domain', async () => {
    // Built around the Authority on purpose: it would refuse this name itself.
    const issuer = issuerFromCertificate(material.intermediate.certDer, material.intermediate.key);
    const now = Math.floor(clock.now() / 1000) * 1000;
    const der = await signCertificate(
      prepareCertificate(
        {
          serial: '41' + '00'.repeat(15),
          subject: [{ type: 'O', value: 'keysmith' }],
          notBefore: now - 60_000,
          notAfter: now + HOUR,
          publicKey: keyPair('p256').spki,
          basicConstraints: { ca: false },
          keyUsage: ['digitalSignature'],
          extendedKeyUsage: ['clientAuth'],
          subjectAltNames: [{ type: 'uri', value: 'spiffe://evil.org/web' }],
        },
        issuer,
      ),
    );
    const leaf = join(dir.path, 'outside.pem');
    writeFileSync(leaf, toPem(der));
    assert.throws(
      () => openssl(['verify', '-CAfile', join(dir.path, 'root.pem'), '-untrusted', join(dir.path, 'intermediate.pem'), leaf]),
      (err: unknown) =>
        err instanceof Error &&
        /permitted subtree violation/.test(`${String(Reflect.get(err, 'stdout'))}${String(Reflect.get(err, 'stderr'))}`),
    );
  });
});

describe('Authority.issue: serials and the ledger write', () => {
  it('uses 16-octet positive serials (>= 64 random bits) with no leading zero octet', async () => {
    const { authority: ca } = authority();
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const issued = await ca.issue(request({ spiffeId: 'spiffe://example.org/web' }), 'svid');
      assert.match(issued.serial, /^[4-7][0-9a-f]{31}$/);
      const node = new X509Certificate(issued.der).serialNumber.toLowerCase();
      assert.equal(node, issued.serial);
      serials.add(issued.serial);
    }
    assert.equal(serials.size, 5);
  });

  it('draws a new serial when the ledger reports the first as taken', async () => {
    const draws = [Buffer.alloc(16, 0x11), Buffer.alloc(16, 0x22)];
    const random = (n: number): Uint8Array => {
      const next = draws.shift();
      assert.ok(next !== undefined && next.length === n);
      return next;
    };
    const store = new MemoryStore();
    store.reserved.add('51' + '11'.repeat(15));
    const { authority: ca } = authority({ store, random });
    const issued = await ca.issue(request({ spiffeId: 'spiffe://example.org/web' }), 'svid');
    assert.deepEqual(store.asked, ['51' + '11'.repeat(15), '62' + '22'.repeat(15)]);
    assert.equal(issued.serial, '62' + '22'.repeat(15));
  });

  it('gives up after five taken serials instead of looping', async () => {
    const store = new MemoryStore();
    store.reserved.add('40' + '00'.repeat(15));
    const { authority: ca } = authority({ store, random: (n) => new Uint8Array(n) });
    await assert.rejects(ca.issue(request({ spiffeId: 'spiffe://example.org/web' }), 'svid'), /no unused serial after 5 attempts/);
    assert.equal(store.asked.length, 5);
    assert.equal(store.records.size, 0);
  });

  it('returns nothing when recordIssued throws', async () => {
    const store = new MemoryStore();
    store.failNextRecord = new DomainError('conflict', 'database is locked');
    const { authority: ca } = authority({ store });
    const outcome = await ca.issue(request({ spiffeId: 'spiffe://example.org/web' }), 'svid').then(
      (issued) => ({ issued }),
      (error: unknown) => ({ error }),
    );
    assert.ok('error' in outcome && isDomainError(outcome.error, 'conflict'));
    assert.equal(store.records.size, 0);
  });

  it('reports the time of each step to onStepTimed', async () => {
    const steps: string[] = [];
    const ca = new Authority({
      material,
      store: new MemoryStore(),
      clock,
      onStepTimed: (step, ms) => {
        assert.ok(ms >= 0);
        steps.push(step);
      },
    });
    await ca.issue(request({ spiffeId: 'spiffe://example.org/web' }), 'svid');
    assert.deepEqual(steps, ['validate', 'serial', 'build', 'sign', 'check', 'record']);
  });
});

describe('Authority.revoke', () => {
  async function issued(ca: Authority, profile: ProfileName = 'svid'): Promise<IssuedCertificate> {
    return ca.issue(request({ spiffeId: 'spiffe://example.org/web' }), profile);
  }

  it('revokes in the ledger, then tells every listener the serial', async () => {
    const { authority: ca, store } = authority();
    const cert = await issued(ca);
    const heard: string[] = [];
    ca.onRevoked((serial) => heard.push(`a:${serial}`));
    ca.onRevoked((serial) => heard.push(`b:${serial}`));
    clock.advance(1000);
    const record = await ca.revoke(cert.serial.toUpperCase(), 'keyCompromise');
    assert.equal(record.status, 'revoked');
    assert.equal(record.revocationReason, 'keyCompromise');
    assert.equal(record.revokedAt, clock.now());
    assert.deepEqual(heard, [`a:${cert.serial}`, `b:${cert.serial}`]);
    assert.equal(store.statusOf(cert.serial)?.status, 'revoked');
    await assert.rejects(
      async () => ca.revoke(cert.serial, 'superseded'),
      (err: unknown) => isDomainError(err, 'conflict'),
    );
  });

  it('keeps the revocation when a listener throws, runs the others, and reports the failure', async () => {
    const { authority: ca, store } = authority();
    const cert = await issued(ca);
    const heard: string[] = [];
    ca.onRevoked(() => {
      throw new Error('cache down');
    });
    ca.onRevoked((serial) => heard.push(serial));
    await assert.rejects(
      async () => ca.revoke(cert.serial, 'superseded'),
      (err: unknown) => err instanceof AggregateError && /is revoked in the ledger/.test(err.message),
    );
    assert.deepEqual(heard, [cert.serial]);
    assert.equal(store.statusOf(cert.serial)?.status, 'revoked');
  });

  it('refuses unknown serials, malformed serials, CA certificates and removeFromCRL', async () => {
    const { authority: ca } = authority();
    await assert.rejects(
      async () => ca.revoke('4f' + '00'.repeat(15), 'unspecified'),
      (err: unknown) => isDomainError(err, 'notFound'),
    );
    await assert.rejects(
      async () => ca.revoke('not-hex', 'unspecified'),
      (err: unknown) => isDomainError(err, 'malformed'),
    );
    await assert.rejects(
      async () => ca.revoke(describeCertificate(material.intermediate.certDer).serial, 'cACompromise'),
      (err: unknown) => isDomainError(err, 'forbidden'),
    );
    const cert = await issued(ca);
    await assert.rejects(
      async () => ca.revoke(cert.serial, 'removeFromCRL'),
      (err: unknown) => isDomainError(err, 'malformed'),
    );
  });

  it('bundlePem is the root certificate', () => {
    const { authority: ca } = authority();
    assert.equal(ca.bundlePem(), material.root.certPem);
  });
});
