import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromPem, parsePemBlocks, parsePemCertificates, PemError, splitPemChain, toPem } from '../../../src/pkix/index.js';

/** The one PEM codec (RFC 7468): round trip, strict base64, labels, and the bounds on what it reads. */

const pemError = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (error: unknown) => error instanceof PemError && error instanceof TypeError && message.test(error.message));
};

describe('PEM codec', () => {
  it('round-trips every length from 1 to 200 octets with 64-character lines (RFC 7468 §2)', () => {
    for (let size = 1; size <= 200; size++) {
      const der = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
      const pem = toPem(der, 'TEST DATA');
      const body = pem.trimEnd().split('\n').slice(1, -1);
      assert.ok(
        body.every((line, i) => (i < body.length - 1 ? line.length === 64 : line.length <= 64)),
        `size ${size}`,
      );
      assert.deepEqual(parsePemBlocks(pem), [{ label: 'TEST DATA', der }]);
    }
  });

  it('reads several blocks in order and ignores explanatory text between them', () => {
    const a = Uint8Array.of(0x30, 0x00);
    const b = Uint8Array.of(0x30, 0x01, 0x05);
    const text = `subject=leaf\n${toPem(a)}issuer=ca\r\n${toPem(b, 'PRIVATE KEY')}trailing words\n`;
    assert.deepEqual(parsePemBlocks(text), [
      { label: 'CERTIFICATE', der: a },
      { label: 'PRIVATE KEY', der: b },
    ]);
    assert.deepEqual(parsePemCertificates(text), [Buffer.from(a)]);
    assert.deepEqual(fromPem(toPem(b)), b);
    pemError(() => splitPemChain(text), /^unexpected PEM label "PRIVATE KEY" in a certificate chain$/);
  });

  it('refuses damaged base64, padding in the middle, an empty body and mismatched labels', () => {
    pemError(() => parsePemBlocks('-----BEGIN X-----\nMA*A\n-----END X-----\n'), /^PEM block "X" is not valid base64$/);
    pemError(() => parsePemBlocks('-----BEGIN X-----\nMA==MAAA\n-----END X-----\n'), /^PEM block "X" is not valid base64$/);
    pemError(() => parsePemBlocks('-----BEGIN X-----\nMAA\n-----END X-----\n'), /^PEM block "X" is not valid base64$/);
    pemError(() => parsePemBlocks('-----BEGIN X-----\n\n-----END X-----\n'), /^PEM block "X" is not valid base64$/);
    pemError(() => parsePemBlocks('-----BEGIN CERTIFICATE-----\nMAA=\n-----END PRIVATE KEY-----\n'), /ends with "END PRIVATE KEY"/);
    pemError(() => parsePemCertificates('no blocks here'), /^no CERTIFICATE block found$/);
    assert.deepEqual(parsePemBlocks('no blocks here'), []);
  });

  it('bounds the text and the number of blocks it reads', () => {
    const one = toPem(Uint8Array.of(0x30, 0x00));
    const three = one.repeat(3);
    assert.equal(parsePemBlocks(three, { maxBlocks: 3 }).length, 3);
    pemError(() => parsePemBlocks(three, { maxBlocks: 2 }), /^more than 2 PEM blocks$/);
    assert.equal(parsePemBlocks(three, { maxChars: three.length }).length, 3);
    const tooLong = new RegExp(`^PEM text of ${three.length} characters exceeds the limit of ${three.length - 1}$`);
    pemError(() => parsePemBlocks(three, { maxChars: three.length - 1 }), tooLong);
    pemError(() => parsePemCertificates([one, three], { maxBlocks: 2 }), /^more than 2 PEM blocks$/);
  });
});
