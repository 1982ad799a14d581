import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDomainError } from '../../../src/shared/errors.js';
import { fromPem, parsePemBlocks, splitPemChain, toPem } from '../../../src/x509/index.js';

const FIXTURES = join(process.cwd(), 'test', 'fixtures');

describe('pem', () => {
  it('round-trips DER with 64-character lines (RFC 7468 §2)', () => {
    const der = Uint8Array.from({ length: 200 }, (_, i) => i);
    const pem = toPem(der, 'CERTIFICATE');
    const lines = pem.trimEnd().split('\n');
    assert.equal(lines[0], '-----BEGIN CERTIFICATE-----');
    assert.equal(lines.at(-1), '-----END CERTIFICATE-----');
    assert.ok(lines.slice(1, -1).every((line) => line.length <= 64));
    assert.equal(lines[1]?.length, 64);
    assert.deepEqual(fromPem(pem), der);
  });

  it('splits a chain leaf first and ignores text between blocks', () => {
    const chain = readFileSync(join(FIXTURES, 'nc-server-chain.pem'), 'utf8');
    const ders = splitPemChain(`subject=leaf\n${chain}\ntrailing words\n`);
    assert.ok(ders.length >= 2);
    assert.equal(ders[0]?.[0], 0x30);
  });

  it('refuses mismatched labels, bad base64, a wrong label and an empty chain', () => {
    const der = Uint8Array.of(0x30, 0x00);
    const malformed = (err: unknown): boolean => isDomainError(err, 'malformed');
    assert.throws(() => parsePemBlocks('-----BEGIN CERTIFICATE-----\nMAA=\n-----END PRIVATE KEY-----\n'), malformed);
    assert.throws(() => parsePemBlocks('-----BEGIN CERTIFICATE-----\nMA*A\n-----END CERTIFICATE-----\n'), malformed);
    assert.throws(() => fromPem(toPem(der, 'PRIVATE KEY')), /expected PEM label "CERTIFICATE"/);
    assert.throws(() => fromPem(toPem(der) + toPem(der)), /expected one PEM block, found 2/);
    assert.throws(() => splitPemChain('no pem here'), malformed);
    assert.throws(() => splitPemChain(toPem(der) + toPem(der, 'PRIVATE KEY')), /unexpected PEM label/);
  });
});
