import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDomainError, type DomainErrorKind } from '../../../src/shared/errors.js';
import { fromPem, parseCsr, toPem } from '../../../src/x509/index.js';
import { openssl, tempDir } from '../ca/helpers.js';

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

before(() => {
  dir = tempDir('csr');
  for (const [name, keyArgs] of Object.entries(KEYS)) {
    const out = join(dir.path, `${name}.csr`);
    const sans = name === 'p256' ? ['-addext', 'subjectAltName=DNS:Web.Example.com,IP:2001:db8::1,IP:192.0.2.9,URI:spiffe://example.org/web,email:ops@example.com'] : [];
    openssl(['req', '-new', ...keyArgs, '-nodes', '-keyout', join(dir.path, `${name}.key`), '-subj', `/O=Acme/CN=${name}.example.com`, ...sans, '-out', out]);
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
    await rejectsWith(csr('rsa1024'), 'badCSR', /RSA key of 1024 bits/);
    await rejectsWith(csr('p521'), 'badCSR', /secp521r1/);
    await rejectsWith(csr('rsapss'), 'badCSR', /rsa-pss is not accepted/);
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
});
