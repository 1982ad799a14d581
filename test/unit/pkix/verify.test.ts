import '../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  CertificateError,
  ChainVerifier,
  decodeCertificate,
  DerError,
  DerReader,
  describeCertificate,
  parseIpAddress,
  parsePemCertificates,
  type ChainVerifierOptions,
  type RefusalAlert,
  type VerifyExpectation,
} from '../../../src/pkix/index.js';

/**
 * The default chain verifier against the committed fixtures
 * (test/fixtures/make-fixtures.sh). Negative tests are named after the
 * alert they expect (RFC 8446 §6.2).
 */

const FIXTURES = join(process.cwd(), 'test', 'fixtures');

function pem(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

function ders(name: string): Buffer[] {
  return parsePemCertificates(pem(name));
}

function one(name: string): Buffer {
  const [der] = ders(name);
  assert.ok(der !== undefined);
  return der;
}

function verifier(caFiles: readonly string[] = ['ca.pem'], options: Partial<ChainVerifierOptions> = {}): ChainVerifier {
  return new ChainVerifier({ ca: caFiles.flatMap(ders), ...options });
}

const CLIENT: VerifyExpectation = { role: 'client' };
const SERVER: VerifyExpectation = { role: 'server' };

function assertAlert(fn: () => unknown, alert: RefusalAlert, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CertificateError, `expected CertificateError, got ${String(error)}`);
    assert.equal(error.alert, alert, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

describe('parsePemCertificates', () => {
  it('returns the DER of every block in order', () => {
    const chain = ders('server-chain.pem');
    assert.equal(chain.length, 2);
    assert.deepEqual(chain[0], one('server.pem'));
    assert.deepEqual(chain[1], one('intermediate.pem'));
  });

  it('accepts PEM bytes and lists of inputs', () => {
    const fromBytes = parsePemCertificates(readFileSync(join(FIXTURES, 'ca.pem')));
    const fromList = parsePemCertificates([pem('ca.pem'), readFileSync(join(FIXTURES, 'other-ca.pem'))]);
    assert.deepEqual(fromBytes, [one('ca.pem')]);
    assert.deepEqual(fromList, [one('ca.pem'), one('other-ca.pem')]);
  });

  it('throws when there is no certificate', () => {
    assert.throws(() => parsePemCertificates(pem('client.key')), TypeError);
    assert.throws(() => parsePemCertificates([]), TypeError);
  });

  it('throws on damaged base64 instead of skipping it', () => {
    const damaged = pem('ca.pem').replace(/\n([A-Za-z0-9+/]{10})/, '\n$1!');
    assert.throws(() => parsePemCertificates(damaged), TypeError);
  });
});

describe('ChainVerifier: building the path', () => {
  it('accepts the client chain and returns it leaf first, ending at the anchor', () => {
    const result = verifier().verify(ders('client-chain.pem'), CLIENT);
    assert.deepEqual(
      result.peer.chain.map((c) => c.subject),
      ['CN=keysmith test client', 'CN=keysmith test intermediate', 'CN=keysmith test root'],
    );
    assert.equal(result.peer.leaf, result.peer.chain[0]);
    const expectedKey = createPublicKey(createPrivateKey(pem('client.key'))).export({ format: 'der', type: 'spki' });
    assert.deepEqual(result.leafPublicKey.export({ format: 'der', type: 'spki' }), expectedKey);
    assert.equal(result.leafNotAfterMs, Date.parse(new X509Certificate(one('client.pem')).validTo));
  });

  for (const name of ['server', 'server-p384', 'server-ed25519', 'server-rsa']) {
    it(`accepts the ${name} chain for role server with servername localhost`, () => {
      const result = verifier().verify(ders(`${name}-chain.pem`), { role: 'server', servername: 'localhost' });
      assert.equal(result.peer.chain.length, 3);
    });
  }

  for (const name of ['client-rsa', 'client-ed25519']) {
    it(`accepts the ${name} chain for role client`, () => {
      assert.equal(verifier().verify(ders(`${name}-chain.pem`), CLIENT).peer.chain.length, 3);
    });
  }

  it('accepts the anchor when the peer also sends it, without listing it twice', () => {
    const result = verifier().verify([...ders('client-chain.pem'), one('ca.pem')], CLIENT);
    assert.equal(result.peer.chain.length, 3);
  });

  it('accepts intermediates in any order, ignoring unrelated extras', () => {
    const [leaf, ...intermediates] = ders('deep-client-chain.pem');
    assert.ok(leaf !== undefined);
    const shuffled = [leaf, one('other-ca.pem'), ...intermediates.reverse(), one('server.pem')];
    const result = verifier(['deep-int1.pem']).verify(shuffled, CLIENT);
    assert.equal(result.peer.chain.length, 8);
  });

  it('rejects an empty chain with bad_certificate', () => {
    assertAlert(() => verifier().verify([], CLIENT), 'bad_certificate', /empty/);
  });

  it('rejects more than 16 presented certificates with bad_certificate', () => {
    const chain = ders('client-chain.pem');
    assertAlert(() => verifier().verify([...chain, ...new Array<Buffer>(16).fill(one('intermediate.pem'))], CLIENT), 'bad_certificate');
  });

  it('tries a repeated certificate once and still answers unknown_ca', () => {
    const v = verifier();
    const chain = [one('other-client.pem'), ...new Array<Buffer>(15).fill(one('other-ca.pem'))];
    assertAlert(() => v.verify(chain, CLIENT), 'unknown_ca');
    assert.equal(v.stats.signatureChecks, 1);
  });

  it('rejects a client chain from another CA with unknown_ca', () => {
    assertAlert(() => verifier().verify(ders('other-client-chain.pem'), CLIENT), 'unknown_ca');
  });

  it('rejects a leaf sent without its intermediate with unknown_ca', () => {
    assertAlert(() => verifier().verify([one('client.pem')], CLIENT), 'unknown_ca');
  });

  it('never trusts a presented self-signed certificate that is not an anchor: unknown_ca', () => {
    assertAlert(() => verifier().verify([one('other-ca.pem')], CLIENT), 'unknown_ca');
    // other-client-chain.pem ends in its own self-signed root.
    assertAlert(() => verifier().verify(ders('other-client-chain.pem'), CLIENT), 'unknown_ca');
  });

  it('rejects everything with unknown_ca when no anchors are configured', () => {
    assertAlert(() => new ChainVerifier({ ca: [] }).verify(ders('client-chain.pem'), CLIENT), 'unknown_ca');
  });

  it('rejects a path of 9 certificates with bad_certificate and accepts one of 8', () => {
    const chain = ders('deep-client-chain.pem');
    assertAlert(() => verifier(['deep-ca.pem']).verify(chain, CLIENT), 'bad_certificate', /within 8 certificates/);
    assert.equal(verifier(['deep-int1.pem']).verify(chain, CLIENT).peer.chain.length, 8);
  });

  it('rejects a leaf whose signature does not verify with bad_certificate (RFC 5280 §6.1.3)', () => {
    const [leaf, intermediate] = ders('client-chain.pem');
    assert.ok(leaf !== undefined && intermediate !== undefined);
    const forged = Buffer.from(leaf);
    // The last octet lies inside the ECDSA signature's s value; the DER stays well-formed.
    const last = forged.length - 1;
    forged[last] = forged[last]! ^ 0x01;
    assertAlert(() => verifier().verify([forged, intermediate], CLIENT), 'bad_certificate', /does not verify/);
  });
});

describe('ChainVerifier: validity period', () => {
  const chain = ders('client-chain.pem');
  const views = verifier().verify(chain, CLIENT).peer.chain;
  const earliestStart = Math.min(...views.map((c) => c.notBefore.getTime()));
  const latestStart = Math.max(...views.map((c) => c.notBefore.getTime()));
  const earliestEnd = Math.min(...views.map((c) => c.notAfter.getTime()));
  const latestEnd = Math.max(...views.map((c) => c.notAfter.getTime()));

  it('rejects an expired leaf with certificate_expired', () => {
    assertAlert(() => verifier().verify(ders('expired-client-chain.pem'), CLIENT), 'certificate_expired', /expired client has expired/);
  });

  it('rejects a chain that is not yet valid with certificate_expired, saying so', () => {
    const now = (): number => earliestStart - 3_600_000;
    assertAlert(() => verifier(['ca.pem'], { now }).verify(chain, CLIENT), 'certificate_expired', /not yet valid/);
  });

  it('rejects every certificate past notAfter with certificate_expired, anchor included', () => {
    const now = (): number => latestEnd + 3_600_000;
    assertAlert(() => verifier(['ca.pem'], { now }).verify(chain, CLIENT), 'certificate_expired', /has expired/);
  });

  it('rejects an expired trust anchor with certificate_expired', () => {
    assertAlert(
      () => verifier(['expired-ca.pem']).verify([one('client-under-expired-ca.pem')], CLIENT),
      'certificate_expired',
      /keysmith expired root has expired/,
    );
  });

  it('allows clockSkewMs on both ends of the validity period', () => {
    assert.ok(latestStart - earliestStart < 30_000 && latestEnd - earliestEnd < 30_000, 'fixtures were made within seconds');
    const early = (): number => earliestStart - 30_000;
    const late = (): number => latestEnd + 30_000 - (latestEnd - earliestEnd);
    assert.equal(verifier(['ca.pem'], { now: early }).verify(chain, CLIENT).peer.chain.length, 3);
    assert.equal(verifier(['ca.pem'], { now: late }).verify(chain, CLIENT).peer.chain.length, 3);
    assertAlert(() => verifier(['ca.pem'], { now: early, clockSkewMs: 0 }).verify(chain, CLIENT), 'certificate_expired', /not yet valid/);
    assertAlert(
      () => verifier(['ca.pem'], { now: (): number => latestEnd + 30_000, clockSkewMs: 0 }).verify(chain, CLIENT),
      'certificate_expired',
    );
  });
});

describe('ChainVerifier: issuers (RFC 5280 §6.1.4)', () => {
  it('rejects an intermediate that is not a CA with bad_certificate', () => {
    assertAlert(() => verifier().verify(ders('client-under-leaf-chain.pem'), CLIENT), 'bad_certificate', /is not a CA/);
  });

  it('rejects an intermediate whose keyUsage lacks keyCertSign with bad_certificate', () => {
    assertAlert(() => verifier().verify(ders('client-under-no-certsign-chain.pem'), CLIENT), 'bad_certificate', /keyCertSign/);
  });

  it('rejects a path that breaks pathLenConstraint with bad_certificate', () => {
    assertAlert(() => verifier().verify(ders('client-pathlen-violation-chain.pem'), CLIENT), 'bad_certificate', /allows 0 intermediates/);
  });

  it('rejects a trust anchor that is not a CA with bad_certificate', () => {
    assertAlert(
      () => verifier(['server.pem']).verify([one('client-under-leaf.pem')], CLIENT),
      'bad_certificate',
      /trust anchor .* is not a CA/,
    );
  });

  it('rejects a self-signed CA presented as the leaf with bad_certificate', () => {
    assertAlert(() => verifier().verify([one('ca.pem')], CLIENT), 'bad_certificate', /leaf .* is a CA/);
  });
});

describe('ChainVerifier: the leaf', () => {
  it('rejects a leaf with cA TRUE with bad_certificate', () => {
    assertAlert(() => verifier().verify(ders('client-ca-true-chain.pem'), CLIENT), 'bad_certificate', /is a CA certificate/);
  });

  it('rejects a leaf whose keyUsage lacks digitalSignature with bad_certificate', () => {
    assertAlert(() => verifier().verify(ders('client-ku-keyagreement-chain.pem'), CLIENT), 'bad_certificate', /digitalSignature/);
  });

  it('rejects a server certificate without serverAuth with unsupported_certificate', () => {
    assertAlert(() => verifier().verify(ders('server-noeku-chain.pem'), SERVER), 'unsupported_certificate', /serverAuth/);
  });

  it('rejects a server certificate used by a client with unsupported_certificate', () => {
    assertAlert(() => verifier().verify(ders('server-chain.pem'), CLIENT), 'unsupported_certificate', /clientAuth/);
  });

  it('rejects a client certificate used by a server with unsupported_certificate', () => {
    assertAlert(() => verifier().verify(ders('client-chain.pem'), SERVER), 'unsupported_certificate', /serverAuth/);
  });

  it('accepts anyExtendedKeyUsage and an absent extKeyUsage', () => {
    assert.equal(verifier().verify(ders('client-anyeku-chain.pem'), CLIENT).peer.chain.length, 3);
    assert.equal(verifier().verify(ders('client-noeku-chain.pem'), CLIENT).peer.chain.length, 3);
  });

  it('rejects an unknown critical extension with unsupported_certificate (RFC 5280 §4.2)', () => {
    assertAlert(
      () => verifier().verify(ders('client-unknown-critical-chain.pem'), CLIENT),
      'unsupported_certificate',
      /1\.3\.6\.1\.4\.1\.55555\.1\.1/,
    );
  });

  it('rejects a P-521 leaf key with unsupported_certificate', () => {
    assertAlert(() => verifier().verify(ders('client-p521-chain.pem'), CLIENT), 'unsupported_certificate', /EC secp521r1/);
  });

  it('rejects an RSA-1024 leaf key with unsupported_certificate', () => {
    assertAlert(() => verifier().verify(ders('client-rsa1024-chain.pem'), CLIENT), 'unsupported_certificate', /RSA 1024 bits/);
  });

  it('reports the leaf key type of each supported key', () => {
    assert.equal(describeCertificate(one('server.pem')).leafKeyType, 'ecdsa-p256');
    assert.equal(describeCertificate(one('server-p384.pem')).leafKeyType, 'ecdsa-p384');
    assert.equal(describeCertificate(one('server-ed25519.pem')).leafKeyType, 'ed25519');
    assert.equal(describeCertificate(one('server-rsa.pem')).leafKeyType, 'rsa');
  });
});

describe('ChainVerifier: name constraints (RFC 5280 §4.2.1.10)', () => {
  it('accepts a SPIFFE ID inside the permitted trust domain', () => {
    assert.deepEqual(verifier().verify(ders('nc-client-chain.pem'), CLIENT).peer.leaf.uris, ['spiffe://keysmith.local/workload/test']);
  });

  it('rejects a URI outside the permitted trust domain with bad_certificate', () => {
    assertAlert(
      () => verifier().verify(ders('nc-client-other-domain-chain.pem'), CLIENT),
      'bad_certificate',
      /evil\.example.* not permitted/,
    );
  });

  it('accepts DNS and IP names inside the permitted subtrees', () => {
    assert.equal(verifier().verify(ders('nc-server-chain.pem'), { role: 'server', servername: 'api.keysmith.test' }).peer.chain.length, 3);
  });

  it('rejects a DNS name in an excluded subtree with bad_certificate', () => {
    assertAlert(() => verifier().verify(ders('nc-server-excluded-chain.pem'), SERVER), 'bad_certificate', /excluded/);
  });

  it('rejects a DNS name outside the permitted subtrees with bad_certificate', () => {
    assertAlert(() => verifier().verify(ders('nc-server-outside-chain.pem'), SERVER), 'bad_certificate', /localhost is not permitted/);
  });

  it('rejects an IP address outside the permitted subtrees with bad_certificate', () => {
    assertAlert(() => verifier().verify(ders('nc-server-ip-outside-chain.pem'), SERVER), 'bad_certificate', /10\.0\.0\.1 is not permitted/);
  });
});

describe('ChainVerifier: server name (RFC 6125 §6.4)', () => {
  const server = ders('server-chain.pem');
  const wildcard = ders('server-wildcard-chain.pem');
  const check = (chain: Buffer[], servername: string): unknown => verifier().verify(chain, { role: 'server', servername });

  it('matches a DNS SAN case-insensitively, with or without a trailing dot', () => {
    check(server, 'localhost');
    check(server, 'LocalHost');
    check(server, 'localhost.');
  });

  it('matches an IP SAN when the servername is an IP address', () => {
    check(server, '127.0.0.1');
    check(wildcard, '::1');
    check(wildcard, '0:0:0:0:0:0:0:1');
  });

  it('rejects an IP servername that only appears as text with bad_certificate', () => {
    assertAlert(() => check(server, '127.0.0.2'), 'bad_certificate');
    assertAlert(() => check(wildcard, '::2'), 'bad_certificate');
  });

  it('matches a wildcard over exactly one left-most label', () => {
    check(wildcard, 'a.example.test');
    check(wildcard, 'A-B.Example.Test');
  });

  it('rejects a wildcard covering two labels or none with bad_certificate', () => {
    assertAlert(() => check(wildcard, 'a.b.example.test'), 'bad_certificate');
    assertAlert(() => check(wildcard, 'example.test'), 'bad_certificate');
    assertAlert(() => check(wildcard, '.example.test'), 'bad_certificate');
  });

  it('rejects a partial-label wildcard with bad_certificate', () => {
    assertAlert(() => check(wildcard, 'foo1.partial.test'), 'bad_certificate');
    assertAlert(() => check(wildcard, 'foo*.partial.test'), 'bad_certificate');
  });

  it('does not fall back to the Common Name: bad_certificate', () => {
    assertAlert(() => check(ders('server-cn-only-chain.pem'), 'localhost'), 'bad_certificate');
  });

  it('rejects a different name with bad_certificate', () => {
    assertAlert(() => check(server, 'example.test'), 'bad_certificate', /not valid for example\.test/);
  });

  it('ignores the servername for client certificates', () => {
    verifier().verify(ders('client-chain.pem'), { role: 'client', servername: 'nowhere.test' });
  });

  it('parses IP addresses to octets', () => {
    assert.deepEqual(parseIpAddress('10.1.2.3'), Buffer.from([10, 1, 2, 3]));
    assert.equal(parseIpAddress('::ffff:1.2.3.4')?.toString('hex'), '00000000000000000000ffff01020304');
    assert.equal(parseIpAddress('2001:db8::1')?.toString('hex'), '20010db8000000000000000000000001');
    assert.equal(parseIpAddress('localhost'), undefined);
    assert.equal(parseIpAddress('fe80::1%eth0'), undefined);
  });
});

describe('ChainVerifier: PeerCertificate views', () => {
  const result = verifier().verify(ders('server-chain.pem'), { role: 'server', servername: 'localhost' });

  it('gives the serial as lowercase hex without the DER 00 octet', () => {
    for (const cert of result.peer.chain) {
      const expected = new X509Certificate(cert.raw).serialNumber.toLowerCase();
      assert.equal(cert.serialNumber, expected);
      assert.match(cert.serialNumber, /^[89a-f][0-9a-f]*$/, 'fixture serials have the top bit set');
    }
  });

  it('gives the SHA-256 fingerprint of the DER', () => {
    const leaf = result.peer.leaf;
    assert.equal(leaf.fingerprint256, createHash('sha256').update(leaf.raw).digest('hex'));
  });

  it('lists SAN names parsed from DER', () => {
    assert.deepEqual(result.peer.leaf.dnsNames, ['localhost']);
    assert.deepEqual(result.peer.leaf.ipAddresses, ['127.0.0.1']);
    assert.deepEqual(result.peer.leaf.uris, []);
    assert.deepEqual(describeCertificate(one('server-wildcard.pem')).view.ipAddresses, ['::1']);
  });

  it('marks the CA certificates', () => {
    assert.deepEqual(
      result.peer.chain.map((c) => c.isCA),
      [false, true, true],
    );
  });

  it('gives validity dates equal to node:crypto', () => {
    const leaf = result.peer.leaf;
    const x509 = new X509Certificate(leaf.raw);
    assert.equal(leaf.notBefore.getTime(), Date.parse(x509.validFrom));
    assert.equal(leaf.notAfter.getTime(), Date.parse(x509.validTo));
  });
});

describe('ChainVerifier: caches', () => {
  it('a warm verify parses nothing and checks no signature', () => {
    const v = verifier();
    v.verify(ders('client-chain.pem'), CLIENT);
    const before = v.stats;
    // Fresh buffers with the same bytes: the cache is keyed by content, not identity.
    for (let i = 0; i < 5; i++) v.verify(ders('client-chain.pem'), CLIENT);
    assert.deepEqual(v.stats, before);
  });

  it('parses anchors once, at construction', () => {
    const v = verifier();
    assert.deepEqual(v.stats, { parsed: 1, signatureChecks: 0 });
    v.verify([...ders('client-chain.pem'), one('ca.pem')], CLIENT);
    assert.equal(v.stats.parsed, 3);
  });

  it('stays within cacheSize, evicting the least recently used, and still verifies', () => {
    const v = verifier(['ca.pem'], { cacheSize: 2 });
    const a = ders('client-chain.pem');
    const b = ders('client-rsa-chain.pem');
    v.verify(a, CLIENT); // cache: client, intermediate
    const afterA = v.stats.parsed;
    v.verify(a, CLIENT);
    assert.equal(v.stats.parsed, afterA, 'warm');
    v.verify(b, CLIENT); // client-rsa evicts client
    v.verify(a, CLIENT);
    assert.equal(v.stats.parsed, afterA + 2, 'client-rsa and then client parsed again');
  });

  it('keeps its own copy of the DER', () => {
    const chain = ders('client-chain.pem');
    const v = verifier();
    const fingerprint = v.verify(chain, CLIENT).peer.leaf.fingerprint256;
    chain[0]!.fill(0);
    assert.equal(v.verify(ders('client-chain.pem'), CLIENT).peer.leaf.fingerprint256, fingerprint);
  });

  it('never answers from the cache for different bytes with the same signature: bad_certificate', () => {
    const v = verifier();
    const [leaf, intermediate] = ders('client-chain.pem');
    assert.ok(leaf !== undefined && intermediate !== undefined);
    v.verify([leaf, intermediate], CLIENT);
    // Same length and signature (the cache key), different subject.
    const at = leaf.indexOf('keysmith test client');
    assert.ok(at > 0);
    const altered = Buffer.from(leaf);
    altered.write('Keysmith', at, 'latin1');
    assertAlert(() => v.verify([altered, intermediate], CLIENT), 'bad_certificate', /does not verify/);
    assert.equal(v.verify([leaf, intermediate], CLIENT).peer.leaf.subject, 'CN=keysmith test client');
  });

  it('describeCertificate returns the cached object for equal bytes', () => {
    assert.equal(describeCertificate(one('client.pem')), describeCertificate(Buffer.from(one('client.pem'))));
  });
});

describe('ChainVerifier: construction', () => {
  it('lists each anchor subject once, as DER, for certificate_authorities', () => {
    const v = verifier(['ca.pem', 'ca.pem', 'other-ca.pem']);
    assert.equal(v.anchorSubjects.length, 2);
    assert.deepEqual(Buffer.from(v.anchorSubjects[0]!), decodeCertificate(one('ca.pem')).subject.der);
    assert.match(Buffer.from(v.anchorSubjects[0]!).toString('latin1'), /keysmith test root/);
  });

  it('refuses an anchor that does not parse, and bad options', () => {
    assert.throws(() => new ChainVerifier({ ca: [Buffer.from('not a certificate')] }), TypeError);
    assert.throws(() => new ChainVerifier({ ca: [], clockSkewMs: -1 }), RangeError);
    assert.throws(() => new ChainVerifier({ ca: [], cacheSize: 0 }), RangeError);
  });
});

describe('der: bounded reader', () => {
  const expectDerError = (bytes: number[]): void => {
    assert.throws(() => DerReader.of(Buffer.from(bytes)).read('test'), DerError);
  };

  it('rejects indefinite, non-minimal, oversized and overlong lengths', () => {
    expectDerError([0x30, 0x80, 0x00, 0x00]);
    expectDerError([0x04, 0x81, 0x05, 1, 2, 3, 4, 5]);
    expectDerError([0x04, 0x82, 0x00, 0x80, ...new Array<number>(0x80).fill(0)]);
    expectDerError([0x04, 0x85, 1, 0, 0, 0, 0]);
    expectDerError([0x04, 0x03, 1, 2]);
    expectDerError([0x04]);
    expectDerError([]);
  });

  it('rejects high tag numbers', () => {
    expectDerError([0x1f, 0x81, 0x00, 0x00]);
  });

  it('rejects trailing bytes after a certificate with bad_certificate', () => {
    assertAlert(() => describeCertificate(Buffer.concat([one('client.pem'), Buffer.from([0])])), 'bad_certificate');
  });

  it('rejects every strict prefix of a certificate with bad_certificate', () => {
    const der = one('client.pem');
    for (let n = 0; n < der.length; n++) assertAlert(() => describeCertificate(der.subarray(0, n)), 'bad_certificate');
  });

  it('decodes the X.509 fields the verifier relies on', () => {
    const intermediate = decodeCertificate(one('intermediate.pem')).extensions;
    assert.deepEqual(intermediate.basicConstraints, { isCA: true, pathLen: 0 });
    assert.equal(intermediate.keyUsage, (1 << 5) | (1 << 6));
    const client = decodeCertificate(one('client.pem'));
    assert.equal(client.version, 3);
    assert.deepEqual(client.extensions.extKeyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(client.extensions.keyUsage, 1);
    assert.deepEqual(client.extensions.unknownCritical, []);
    const nc = decodeCertificate(one('nc-intermediate.pem')).extensions.nameConstraints;
    assert.deepEqual(
      nc?.permitted.map((n) => n.kind),
      ['uniformResourceIdentifier', 'dNSName', 'iPAddress'],
    );
    assert.deepEqual(nc?.excluded, [{ kind: 'dNSName', value: 'bad.keysmith.test' }]);
  });

  it('turns random mutations of certificates only into CertificateError (bounded fuzz)', () => {
    // Leaves and CAs with every extension kind we decode; the mutant goes in either chain position.
    const bases = [
      'client.pem',
      'intermediate.pem',
      'nc-intermediate.pem',
      'server-rsa.pem',
      'server-wildcard.pem',
      'client-unknown-critical.pem',
    ].map(one);
    const [leaf, intermediate] = ders('client-chain.pem');
    assert.ok(leaf !== undefined && intermediate !== undefined);
    // A small cache of its own: mutants must not push the fixtures out of the shared one.
    const v = verifier(['ca.pem'], { cacheSize: 64 });
    const edit = fc.record({
      kind: fc.constantFrom('flip', 'truncate', 'insert', 'delete'),
      at: fc.nat(2048),
      value: fc.integer({ min: 1, max: 255 }),
    });
    fc.assert(
      fc.property(fc.nat(bases.length - 1), fc.array(edit, { minLength: 1, maxLength: 3 }), fc.boolean(), (which, edits, asLeaf) => {
        let der = Buffer.from(bases[which]!);
        for (const e of edits) {
          const at = e.at % (der.length + 1);
          if (e.kind === 'flip' && at < der.length) der[at] = der[at]! ^ e.value;
          else if (e.kind === 'truncate') der = der.subarray(0, at);
          else if (e.kind === 'insert') der = Buffer.concat([der.subarray(0, at), Buffer.from([e.value]), der.subarray(at)]);
          else if (e.kind === 'delete') der = Buffer.concat([der.subarray(0, at), der.subarray(at + 1)]);
        }
        const chain = asLeaf ? [der, intermediate] : [leaf, der];
        for (const attempt of [() => describeCertificate(der), () => v.verify(chain, CLIENT)]) {
          try {
            attempt();
          } catch (error) {
            if (!(error instanceof CertificateError)) throw error;
          }
        }
      }),
      { numRuns: 4000 },
    );
  });
});
