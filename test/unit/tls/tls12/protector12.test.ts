import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import { TLS12_SUITES, type Tls12SuiteInfo } from '../../../../src/tls/crypto/suites.js';
import { ContentType, Tls12CipherSuite } from '../../../../src/tls/codec/enums.js';
import { Protector12 } from '../../../../src/tls/record/protector12.js';
import { assertAlert } from '../messages/codec-properties.js';

const crypto = nodeCryptoProvider;

function suite(id: number): Tls12SuiteInfo {
  const info = TLS12_SUITES.get(id);
  if (info === undefined) throw new Error(`suite 0x${id.toString(16)} missing`);
  return info;
}

const AES128 = suite(Tls12CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
const CHACHA = suite(Tls12CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256);

function keysFor(s: Tls12SuiteInfo): { key: Buffer; iv: Buffer } {
  return { key: Buffer.alloc(s.keyLength, 0x11), iv: Buffer.from('0102030405060708090a0b0c', 'hex').subarray(0, s.fixedIvLength) };
}

/** A record sealed straight from the RFC's formulas with node:crypto, independent of Protector12. */
function referenceRecord(s: Tls12SuiteInfo, seq: number, type: number, plaintext: Buffer): Buffer {
  const { key, iv } = keysFor(s);
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeBigUInt64BE(BigInt(seq));
  // RFC 5288 §3: salt || explicit (we send the sequence number); RFC 7905 §2: IV XOR padded sequence.
  const nonce =
    s.aead === 'chacha20-poly1305'
      ? Buffer.from(iv.map((b, i) => b ^ (i < 4 ? 0 : (seqBytes[i - 4] ?? 0))))
      : Buffer.concat([iv, seqBytes]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(plaintext.length);
  // RFC 5246 §6.2.3.3: additional_data = seq_num + type + version + length.
  const aad = Buffer.concat([seqBytes, Buffer.of(type, 3, 3), length]);
  const cipher = createCipheriv(s.aead, key, nonce, { authTagLength: 16 } as never) as unknown as import('node:crypto').CipherGCM;
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const explicit = s.aead === 'chacha20-poly1305' ? Buffer.alloc(0) : seqBytes;
  const header = Buffer.of(type, 3, 3, 0, 0);
  header.writeUInt16BE(explicit.length + body.length, 3);
  return Buffer.concat([header, explicit, body]);
}

function split(record: Buffer): { header: Buffer; body: Buffer } {
  return { header: record.subarray(0, 5), body: record.subarray(5) };
}

describe('TLS 1.2 AEAD record protection (RFC 5246 §6.2.3.3, RFC 5288 §3, RFC 7905 §2)', () => {
  for (const s of TLS12_SUITES.values()) {
    it(`${s.name}: seals the same bytes as the RFC formulas for three records in a row, and opens them`, () => {
      const writer = new Protector12(crypto, s, keysFor(s));
      const reader = new Protector12(crypto, s, keysFor(s));
      const plaintexts = [Buffer.from('GET / HTTP/1.1\r\n'), Buffer.alloc(0), Buffer.alloc(16384, 0x61)];
      const types = [ContentType.handshake, ContentType.alert, ContentType.application_data];
      plaintexts.forEach((plaintext, seq) => {
        const type = types[seq] ?? ContentType.application_data;
        const sealed = writer.seal(type, plaintext);
        assert.ok(sealed.equals(referenceRecord(s, seq, type, plaintext)), `record ${seq}`);
        const { header, body } = split(sealed);
        const opened = reader.open(header, body);
        assert.equal(opened.type, type);
        assert.ok(opened.content.equals(plaintext));
      });
      assert.equal(reader.recordsProcessed, 3);
    });
  }

  it('GCM records carry the 8-byte explicit nonce in front (the sequence number); ChaCha20-Poly1305 records carry none', () => {
    const gcm = new Protector12(crypto, AES128, keysFor(AES128));
    gcm.seal(ContentType.application_data, Buffer.of(1));
    const second = gcm.seal(ContentType.application_data, Buffer.of(1));
    assert.equal(second.readUInt16BE(3), 8 + 1 + 16);
    assert.equal(second.subarray(5, 13).toString('hex'), '0000000000000001');
    const chacha = new Protector12(crypto, CHACHA, keysFor(CHACHA)).seal(ContentType.application_data, Buffer.of(1));
    assert.equal(chacha.readUInt16BE(3), 1 + 16);
  });

  it('refuses a record opened out of order, a flipped bit, or a changed header type with bad_record_mac', () => {
    for (const s of [AES128, CHACHA]) {
      const writer = new Protector12(crypto, s, keysFor(s));
      const first = split(writer.seal(ContentType.application_data, Buffer.from('one')));
      const second = split(writer.seal(ContentType.application_data, Buffer.from('two')));
      if (s === CHACHA) assertAlert(() => new Protector12(crypto, s, keysFor(s)).open(second.header, second.body), 'bad_record_mac');
      const flipped = Buffer.from(first.body);
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
      assertAlert(() => new Protector12(crypto, s, keysFor(s)).open(first.header, flipped), 'bad_record_mac');
      const retyped = Buffer.from(first.header);
      retyped[0] = ContentType.handshake;
      assertAlert(() => new Protector12(crypto, s, keysFor(s)).open(retyped, first.body), 'bad_record_mac');
    }
  });

  it('answers a body shorter than nonce and tag with bad_record_mac, and one over 2^14 + 2048 with record_overflow', () => {
    const reader = new Protector12(crypto, AES128, keysFor(AES128));
    const header = Buffer.of(ContentType.application_data, 3, 3, 0, 0);
    assertAlert(() => reader.open(header, Buffer.alloc(23)), 'bad_record_mac');
    assertAlert(() => reader.open(header, Buffer.alloc(2 ** 14 + 2049)), 'record_overflow');
    // A plaintext of 2^14 + 1 bytes inside an otherwise allowed ciphertext length is record_overflow too (§6.2.1).
    assertAlert(() => reader.open(header, Buffer.alloc(2 ** 14 + 1 + 8 + 16)), 'record_overflow');
  });

  it('refuses to seal more than 2^14 bytes of plaintext (internal_error: our bug)', () => {
    assertAlert(
      () => new Protector12(crypto, AES128, keysFor(AES128)).seal(ContentType.application_data, Buffer.alloc(2 ** 14 + 1)),
      'internal_error',
    );
  });
});
