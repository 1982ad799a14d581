import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PFX } from '@peculiar/asn1-pfx';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { bmpPassword, pkcs12Kdf, Pkcs12KdfId, type Pkcs12KdfHash } from '../../../src/x509/index.js';
import { runProcess } from '../../helpers/processes.js';

/**
 * The PKCS#12 KDF (RFC 7292 Appendix B.2) against values keysmith did not
 * compute: Dr Stephen Henson's published vectors (SHA-1, as Bouncy Castle's
 * PKCS12Test carries them), OpenSSL's own PKCS12KDF (`openssl kdf`) over
 * SHA-256 and lengths that need several blocks, and the MAC of PKCS#12 files
 * `openssl pkcs12 -export` wrote.
 */
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase();

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'keysmith-pkcs12-kdf-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('bmpPassword (RFC 7292 Appendix B.1)', () => {
  it('writes big-endian UTF-16 with a two-octet zero terminator', () => {
    assert.equal(toHex(bmpPassword('smeg')), '0073006D006500670000');
    assert.equal(toHex(bmpPassword('é')), '00E90000');
  });

  it('writes characters outside the BMP as a surrogate pair, as OpenSSL does', () => {
    assert.equal(toHex(bmpPassword('\u{1F511}')), 'D83DDD110000');
  });

  it('refuses a lone surrogate (it has no UTF-8 form for PBES2 to agree with)', () => {
    assert.throws(() => bmpPassword('a\uD800'), /not well-formed Unicode/);
  });
});

describe('pkcs12Kdf (RFC 7292 Appendix B.2)', () => {
  // Henson's vectors: ID 1 (key, 24 octets), ID 2 (IV, 8 octets), ID 3 (MAC key, 20 octets), SHA-1.
  const vectors: readonly { password: string; salt: string; id: Pkcs12KdfId; iterations: number; expected: string }[] = [
    { password: 'smeg', salt: '0A58CF64530D823F', id: 1, iterations: 1, expected: '8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3' },
    { password: 'smeg', salt: '0A58CF64530D823F', id: 2, iterations: 1, expected: '79993DFE048D3B76' },
    { password: 'smeg', salt: '642B99AB44FB4B1F', id: 1, iterations: 1, expected: 'F3A95FEC48D7711E985CFE67908C5AB79FA3D7C5CAA5D966' },
    { password: 'smeg', salt: '642B99AB44FB4B1F', id: 2, iterations: 1, expected: 'C0A38D64A79BEA1D' },
    { password: 'smeg', salt: '3D83C0E4546AC140', id: 3, iterations: 1, expected: '8D967D88F6CAA9D714800AB3D48051D63F73A312' },
    { password: 'queeg', salt: '05DEC959ACFF72F7', id: 1, iterations: 1000, expected: 'ED2034E36328830FF09DF1E1A07DD357185DAC0D4F9EB3D4' },
    { password: 'queeg', salt: '05DEC959ACFF72F7', id: 2, iterations: 1000, expected: '11DEDAD7758D4860' },
    { password: 'queeg', salt: '1682C0FC5B3F7EC5', id: 1, iterations: 1000, expected: '483DD6E919D7DE2E8E648BA8F862F3FBFBDC2BCB2C02957F' },
    { password: 'queeg', salt: '1682C0FC5B3F7EC5', id: 2, iterations: 1000, expected: '9D461D1B00355C50' },
    { password: 'queeg', salt: '263216FCC2FAB31C', id: 3, iterations: 1000, expected: '5EC4C7A80DF652294C3925B6489A7AB857C83476' },
  ];
  for (const v of vectors) {
    it(`gives Henson's SHA-1 vector for '${v.password}', salt ${v.salt}, ID ${v.id}, ${v.iterations} iteration(s)`, () => {
      const length = v.expected.length / 2;
      const derived = pkcs12Kdf({
        hash: 'sha1',
        password: bmpPassword(v.password),
        salt: hex(v.salt),
        id: v.id,
        iterations: v.iterations,
        length,
      });
      assert.equal(toHex(derived), v.expected);
    });
  }

  // Lengths above one hash output run step 6's I update; salts and passwords longer than one 64-octet block give I several blocks.
  const cases: readonly { hash: Pkcs12KdfHash; password: string; salt: string; id: Pkcs12KdfId; iterations: number; length: number }[] = [
    { hash: 'sha256', password: 'correct horse', salt: '00112233445566778899aabbccddeeff', id: 3, iterations: 2048, length: 32 },
    { hash: 'sha256', password: 'pässwörd \u{1F511}', salt: 'ffeeddccbbaa99887766554433221100', id: 3, iterations: 7, length: 32 },
    { hash: 'sha256', password: 'x'.repeat(70), salt: 'ab'.repeat(70), id: 1, iterations: 3, length: 100 },
    { hash: 'sha1', password: 'y'.repeat(33), salt: '01'.repeat(65), id: 2, iterations: 5, length: 61 },
  ];
  for (const c of cases) {
    it(`equals OpenSSL's PKCS12KDF: ${c.hash}, ID ${c.id}, ${c.iterations} iterations, ${c.length} octets`, async () => {
      const password = bmpPassword(c.password);
      const result = await runProcess('openssl', [
        'kdf',
        '-keylen',
        String(c.length),
        '-kdfopt',
        `digest:${c.hash.toUpperCase()}`,
        '-kdfopt',
        `hexpass:${Buffer.from(password).toString('hex')}`,
        '-kdfopt',
        `hexsalt:${c.salt}`,
        '-kdfopt',
        `iter:${c.iterations}`,
        '-kdfopt',
        `id:${c.id}`,
        'PKCS12KDF',
      ]);
      assert.equal(result.code, 0, result.stderr);
      const expected = result.stdout.trim().replaceAll(':', '');
      const derived = pkcs12Kdf({ hash: c.hash, password, salt: hex(c.salt), id: c.id, iterations: c.iterations, length: c.length });
      assert.equal(toHex(derived), expected);
    });
  }

  it('refuses zero iterations and a zero length', () => {
    const base = { hash: 'sha256', password: bmpPassword('a'), salt: hex('00'), id: Pkcs12KdfId.mac } as const;
    assert.throws(() => pkcs12Kdf({ ...base, iterations: 0, length: 32 }), RangeError);
    assert.throws(() => pkcs12Kdf({ ...base, iterations: 1, length: 0 }), RangeError);
  });
});

describe("the MAC of a PKCS#12 file 'openssl pkcs12 -export' wrote", () => {
  for (const passphrase of ['export me', 'grüße \u{1F511}']) {
    it(`recomputes to the file's HMAC-SHA256 with the ID 3 key (passphrase '${passphrase}')`, async () => {
      const passFile = join(work, 'pass.txt');
      const p12File = join(work, 'openssl.p12');
      await writeFile(passFile, `${passphrase}\n`);
      const exported = await runProcess('openssl', [
        'pkcs12',
        '-export',
        '-in',
        join(FIXTURES, 'client.pem'),
        '-inkey',
        join(FIXTURES, 'client.key'),
        '-passout',
        `file:${passFile}`,
        '-out',
        p12File,
      ]);
      assert.equal(exported.code, 0, exported.stderr);
      const pfx = AsnConvert.parse(await readFile(p12File), PFX);
      assert.equal(pfx.macData.mac.digestAlgorithm.algorithm, '2.16.840.1.101.3.4.2.1'); // OpenSSL 3: HMAC-SHA256
      const authSafe = new Uint8Array(AsnConvert.parse(pfx.authSafe.content, OctetString).buffer);
      const key = pkcs12Kdf({
        hash: 'sha256',
        password: bmpPassword(passphrase),
        salt: new Uint8Array(pfx.macData.macSalt.buffer),
        id: Pkcs12KdfId.mac,
        iterations: pfx.macData.iterations,
        length: 32,
      });
      const mac = createHmac('sha256', key).update(authSafe).digest();
      assert.equal(pfx.macData.iterations, 2048);
      assert.equal(mac.toString('hex'), Buffer.from(pfx.macData.mac.digest.buffer).toString('hex'));
    });
  }
});
