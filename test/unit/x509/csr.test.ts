import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDomainError, type DomainErrorKind } from '../../../src/shared/errors.js';
import { ECDH } from 'node:crypto';
import { checkPublicKey, checkSubjectPublicKey, fromPem, parseCsr, toPem } from '../../../src/x509/index.js';
import { peculiar } from '../../../src/x509/provider.js';
import { keyPair, openssl, tempDir } from '../ca/helpers.js';

/** CSRs made by openssl at test time, one per key type. */

let dir: ReturnType<typeof tempDir>;
const csrs = new Map<string, string>();

const KEYS: Readonly<Record<string, readonly string[]>> = {
  p256: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  p521: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  ed25519: ['-newkey', 'ed25519'],
  rsa2048: ['-newkey', 'rsa:2048'],
  rsa1024: ['-newkey', 'rsa:1024'],
  rsapss: ['-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048'],
};

/** Requests whose signature algorithm or subject is unusual, all from one RSA key (rsaEncryption). */
const VARIANTS: Readonly<Record<string, readonly string[]>> = {
  pss: ['-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'],
  pss384: ['-sha384', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:-1'],
  pssMgfMismatch: ['-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_mgf1_md:sha384'],
  sha1: ['-sha1'],
  sha512: ['-sha512'],
};
const ODD_SUBJECTS: Readonly<Record<string, string>> = {
  escaped: '/O=Acme, Inc./OU= leading space/CN=a\\+b;c<d>"e#',
  unicode: '/O=Zürich AG/CN=zürich.example',
  multivalued: '/O=Acme/CN=host+OU=ops',
  otherTypes: '/C=DE/ST=Berlin/L=Berlin/serialNumber=1234/CN=typed',
};

before(() => {
  dir = tempDir('csr');
  for (const [name, keyArgs] of Object.entries(KEYS)) {
    const out = join(dir.path, `${name}.csr`);
    const sans =
      name === 'p256'
        ? ['-addext', 'subjectAltName=DNS:Web.Example.com,IP:2001:db8::1,IP:192.0.2.9,URI:spiffe://example.org/web,email:ops@example.com']
        : [];
    openssl([
      'req',
      '-new',
      ...keyArgs,
      '-nodes',
      '-keyout',
      join(dir.path, `${name}.key`),
      '-subj',
      `/O=Acme/CN=${name}.example.com`,
      ...sans,
      '-out',
      out,
    ]);
    csrs.set(name, readFileSync(out, 'utf8'));
  }
  const rsaKey = join(dir.path, 'rsa2048.key');
  for (const [name, sigArgs] of Object.entries(VARIANTS)) {
    const out = join(dir.path, `${name}.csr`);
    openssl(['req', '-new', '-key', rsaKey, ...sigArgs, '-subj', `/CN=${name}.example.com`, '-out', out]);
    csrs.set(name, readFileSync(out, 'utf8'));
  }
  for (const [name, subject] of Object.entries(ODD_SUBJECTS)) {
    const out = join(dir.path, `${name}.csr`);
    openssl(['req', '-new', '-key', rsaKey, '-utf8', '-multivalue-rdn', '-subj', subject, '-out', out]);
    csrs.set(name, readFileSync(out, 'utf8'));
  }
});

after(() => dir.remove());

function csr(name: string): string {
  const pem = csrs.get(name);
  assert.ok(pem !== undefined);
  return pem;
}

async function rejectsWith(input: string | Uint8Array, kind: DomainErrorKind, detail: RegExp): Promise<void> {
  await assert.rejects(parseCsr(input), (err: unknown) => isDomainError(err, kind) && detail.test(err.detail));
}

describe('parseCsr', () => {
  it('returns the key, subject and every requested name of a verified P-256 CSR', async () => {
    const parsed = await parseCsr(csr('p256'));
    assert.deepEqual(parsed.keyAlgorithm, { kind: 'ec', curve: 'P-256' });
    assert.equal(parsed.commonName, 'p256.example.com');
    assert.equal(parsed.subject, 'O=Acme, CN=p256.example.com');
    assert.deepEqual(parsed.dnsNames, ['Web.Example.com']);
    assert.deepEqual(parsed.ipAddresses, ['2001:db8::1', '192.0.2.9']);
    assert.deepEqual(parsed.uris, ['spiffe://example.org/web']);
    assert.deepEqual(parsed.emails, ['ops@example.com']);
    assert.equal(parsed.publicKey[0], 0x30);
  });

  it('accepts P-384, Ed25519 and RSA-2048 keys, as PEM, DER, base64 and base64url', async () => {
    assert.deepEqual((await parseCsr(csr('p384'))).keyAlgorithm, { kind: 'ec', curve: 'P-384' });
    assert.deepEqual((await parseCsr(csr('ed25519'))).keyAlgorithm, { kind: 'ed25519' });
    const der = fromPem(csr('rsa2048'), 'CERTIFICATE REQUEST');
    assert.deepEqual((await parseCsr(der)).keyAlgorithm, { kind: 'rsa', modulusLength: 2048 });
    assert.equal((await parseCsr(Buffer.from(der).toString('base64'))).commonName, 'rsa2048.example.com');
    // RFC 8555 §7.4: finalize carries the CSR as base64url DER.
    assert.equal((await parseCsr(Buffer.from(der).toString('base64url'))).commonName, 'rsa2048.example.com');
  });

  it('refuses weak or unsupported keys as badCSR', async () => {
    await rejectsWith(csr('rsa1024'), 'badCSR', /^RSA modulus of 1024 bits is not accepted: .*\(CA\/Browser Forum BR §6\.1\.5\)$/);
    await rejectsWith(csr('p521'), 'badCSR', /^EC curve P-521 is not accepted: .*P-256 and P-384 only/);
    await rejectsWith(csr('rsapss'), 'badCSR', /RSASSA-PSS-only keys \(id-RSASSA-PSS\) are not accepted/);
  });

  it('refuses a CSR whose signature does not verify (RFC 2986 §3 proof of possession)', async () => {
    const der = Buffer.from(fromPem(csr('p256'), 'CERTIFICATE REQUEST'));
    // Flip a bit of the subject's CN: still decodes, signature no longer matches.
    const at = der.indexOf(Buffer.from('p256.example.com'));
    assert.ok(at > 0);
    der[at] = 'q'.charCodeAt(0);
    await rejectsWith(der, 'badCSR', /signature does not verify/);
  });

  it('refuses undecodable input as malformed', async () => {
    await rejectsWith('not a csr!', 'malformed', /neither PEM nor base64/);
    await rejectsWith(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), 'malformed', /not a DER PKCS#10/);
    await rejectsWith(toPem(Uint8Array.of(0x30, 0x00), 'CERTIFICATE'), 'malformed', /CERTIFICATE REQUEST/);
    await rejectsWith(new Uint8Array(20_000), 'malformed', /1 to 16384 bytes/);
  });

  it('verifies RSASSA-PSS and SHA-512 signatures (RFC 4055), and refuses SHA-1 and a PSS MGF1 digest other than the message digest', async () => {
    assert.equal((await parseCsr(csr('pss'))).commonName, 'pss.example.com');
    assert.equal((await parseCsr(csr('pss384'))).commonName, 'pss384.example.com');
    assert.equal((await parseCsr(csr('sha512'))).commonName, 'sha512.example.com');
    await rejectsWith(csr('sha1'), 'badCSR', /signature algorithm is not supported/);
    await rejectsWith(csr('pssMgfMismatch'), 'badCSR', /signature algorithm is not supported/);
  });

  it('reads subjects and names exactly as @peculiar/x509 does, escaped, non-ASCII and multi-valued ones included', async () => {
    for (const name of [...Object.keys(KEYS).filter((k) => !['rsa1024', 'p521', 'rsapss'].includes(k)), ...Object.keys(ODD_SUBJECTS)]) {
      const pem = csr(name);
      const reference = new peculiar.Pkcs10CertificateRequest(pem);
      const parsed = await parseCsr(pem);
      assert.equal(parsed.subject, reference.subject, name);
      assert.equal(parsed.commonName, reference.subjectName.getField('CN')[0] ?? null, name);
      assert.deepEqual(parsed.publicKey, new Uint8Array(reference.publicKey.rawData), name);
    }
    assert.equal((await parseCsr(csr('unicode'))).commonName, 'zürich.example');
  });

  it('refuses BER forms and trailing bytes as malformed (the signature covers DER)', async () => {
    const der = fromPem(csr('p256'), 'CERTIFICATE REQUEST');
    await rejectsWith(Uint8Array.from([...der, 0x00]), 'malformed', /not a DER PKCS#10/);
    // The same request with its outer length in a needless long form (one more, leading zero, octet).
    const [, first = 0] = der;
    assert.ok(first > 0x80, 'the request is longer than 127 octets');
    const lengthOctets = der.subarray(2, 2 + (first & 0x7f));
    const contents = der.subarray(2 + (first & 0x7f));
    await rejectsWith(Uint8Array.from([0x30, first + 1, 0x00, ...lengthOctets, ...contents]), 'malformed', /not a DER PKCS#10/);
    // Indefinite length (X.690 §8.1.3.6) with end-of-contents octets.
    await rejectsWith(Uint8Array.from([0x30, 0x80, ...contents, 0x00, 0x00]), 'malformed', /not a DER PKCS#10/);
  });
});

describe('checkSubjectPublicKey', () => {
  /** The outcome as data: the checked key, or the DomainError's kind and detail. */
  function outcome(check: (spki: Uint8Array) => { spki: Uint8Array; algorithm: unknown }, spki: Uint8Array): unknown {
    try {
      const checked = check(spki);
      return { spki: Buffer.from(checked.spki).toString('hex'), algorithm: checked.algorithm };
    } catch (err) {
      assert.ok(isDomainError(err), String(err));
      return { kind: err.kind, detail: err.detail };
    }
  }

  it('accepts P-256, P-384, Ed25519 and RSA-2048, and refuses weak, broken, compressed (RFC 5480 §2.2) and non-DER keys as badCSR', () => {
    const p256 = keyPair('p256').spki;
    const offCurve = Uint8Array.from(p256);
    offCurve[offCurve.length - 1] = (offCurve[offCurve.length - 1] ?? 0) ^ 1;
    // SEC 1 §2.3.3 compressed form of the same P-256 key, in an SPKI of its own.
    const point = p256.subarray(p256.length - 65);
    const compressed = ECDH.convertKey(Buffer.from(point), 'prime256v1', undefined, undefined, 'compressed') as Buffer;
    const compressedSpki = Uint8Array.from([
      0x30,
      0x39,
      0x30,
      0x13,
      0x06,
      0x07,
      0x2a,
      0x86,
      0x48,
      0xce,
      0x3d,
      0x02,
      0x01,
      0x06,
      0x08,
      0x2a,
      0x86,
      0x48,
      0xce,
      0x3d,
      0x03,
      0x01,
      0x07,
      0x03,
      0x22,
      0x00,
      ...compressed,
    ]);
    const cases: Readonly<Record<string, Uint8Array>> = {
      p256,
      p384: keyPair('p384').spki,
      ed25519: keyPair('ed25519').spki,
      rsa2048: keyPair('rsa2048').spki,
      rsa1024: keyPair('rsa1024').spki,
      p521: keyPair('p521').spki,
      offCurve,
      compressedSpki,
      trailing: Uint8Array.from([...p256, 0x00]),
      longLength: Uint8Array.from([0x30, 0x81, p256[1] ?? 0, ...p256.subarray(2)]),
      empty: new Uint8Array(0),
      garbage: Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00),
    };
    const accepted: Readonly<Record<string, unknown>> = {
      p256: { kind: 'ec', curve: 'P-256' },
      p384: { kind: 'ec', curve: 'P-384' },
      ed25519: { kind: 'ed25519' },
      rsa2048: { kind: 'rsa', modulusLength: 2048 },
    };
    for (const [name, spki] of Object.entries(cases)) {
      const expected = accepted[name];
      const got = outcome(checkSubjectPublicKey, spki);
      if (expected === undefined) {
        assert.equal((got as { kind?: unknown }).kind, 'badCSR', name);
      } else {
        assert.deepEqual(got, { spki: Buffer.from(spki).toString('hex'), algorithm: expected }, name);
      }
      // checkPublicKey is the same check without the node:crypto key.
      assert.deepEqual(outcome(checkPublicKey, spki), got, name);
    }
  });

  it('answers a second check of the same array from its memo, and re-checks when the bytes changed', () => {
    const spki = keyPair('p256').spki;
    const first = checkSubjectPublicKey(spki);
    assert.equal(checkSubjectPublicKey(spki).policyKey, first.policyKey);
    assert.equal(checkSubjectPublicKey(first.spki).policyKey, first.policyKey);
    spki[spki.length - 1] = (spki[spki.length - 1] ?? 0) ^ 1;
    assert.throws(
      () => checkSubjectPublicKey(spki),
      (err: unknown) => isDomainError(err, 'badCSR'),
    );
  });
});
