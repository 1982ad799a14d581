import '../../../helpers/fast-check-seed.js';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { Protector } from '../../../../src/tls/record/protector.js';
import { SUITES, type SuiteInfo } from '../../../../src/tls/crypto/suites.js';
import { CipherSuite, ContentType } from '../../../../src/tls/codec/enums.js';
import { TlsAlertError, type AlertName } from '../../../../src/tls/alert.js';
import { trafficKeys } from '../../../../src/tls/keyschedule/stages.js';
import { Rfc8448Trace } from '../../../helpers/vectors.js';

/**
 * Record protection (RFC 8446 §5.2-5.4) against the protected records of
 * RFC 8448 §3 and §4. A Protector is built from (suite, traffic secret), so
 * the secrets come from the trace too and the Protector derives key and IV.
 */

const s3 = Rfc8448Trace.load('rfc8448-simple-1rtt.txt');
const s4 = Rfc8448Trace.load('rfc8448-resumed-0rtt.txt');

function suite(id: CipherSuite): SuiteInfo {
  const info = SUITES.get(id);
  if (info === undefined) throw new Error(`suite 0x${id.toString(16)} missing`);
  return info;
}

const AES128 = suite(CipherSuite.TLS_AES_128_GCM_SHA256);

const secrets = {
  serverHandshake: s3.bytes('{server}  derive secret "tls13 s hs traffic"', 'expanded (32 octets)'),
  clientHandshake: s3.bytes('{server}  derive secret "tls13 c hs traffic"', 'expanded (32 octets)'),
  serverApplication: s3.bytes('{server}  derive secret "tls13 s ap traffic"', 'expanded (32 octets)'),
  clientApplication: s3.bytes('{server}  derive secret "tls13 c ap traffic"', 'expanded (32 octets)'),
  clientEarly: s4.bytes('{client}  derive secret "tls13 c e traffic"', 'expanded (32 octets)'),
};

interface ProtectedRecord {
  readonly name: string;
  readonly type: ContentType;
  readonly plaintext: Buffer;
  readonly record: Buffer;
}

function sent(trace: Rfc8448Trace, heading: string, occurrence: number, type: ContentType, name: string): ProtectedRecord {
  return {
    name,
    type,
    plaintext: trace.bytes(heading, 'payload', occurrence),
    record: trace.bytes(heading, 'complete record', occurrence),
  };
}

// The records one direction sends under one secret, in sequence order.
const serverHandshakeFlight = [
  // Occurrence 0 is the plaintext ServerHello record; 1 is the encrypted flight.
  sent(s3, '{server}  send handshake record', 1, ContentType.handshake, 'EncryptedExtensions..Finished'),
];
// Occurrence 0 is the plaintext ClientHello record; 1 is the encrypted client Finished.
const clientHandshakeFlight = [sent(s3, '{client}  send handshake record', 1, ContentType.handshake, 'client Finished')];
const serverApplication = [
  sent(s3, '{server}  send handshake record', 2, ContentType.handshake, 'NewSessionTicket'),
  sent(s3, '{server}  send application_data record', 0, ContentType.application_data, 'application data'),
  sent(s3, '{server}  send alert record', 0, ContentType.alert, 'close_notify'),
];
const clientApplication = [
  sent(s3, '{client}  send application_data record', 0, ContentType.application_data, 'application data'),
  sent(s3, '{client}  send alert record', 0, ContentType.alert, 'close_notify'),
];
const clientEarly = [sent(s4, '{client}  send application_data record', 0, ContentType.application_data, '0-RTT data')];

const directions: readonly { readonly name: string; readonly secret: Buffer; readonly records: readonly ProtectedRecord[] }[] = [
  { name: 'server handshake (s hs traffic, RFC 8448 §3)', secret: secrets.serverHandshake, records: serverHandshakeFlight },
  { name: 'client handshake (c hs traffic, RFC 8448 §3)', secret: secrets.clientHandshake, records: clientHandshakeFlight },
  { name: 'server application (s ap traffic, RFC 8448 §3)', secret: secrets.serverApplication, records: serverApplication },
  { name: 'client application (c ap traffic, RFC 8448 §3)', secret: secrets.clientApplication, records: clientApplication },
  { name: 'client early data (c e traffic, RFC 8448 §4)', secret: secrets.clientEarly, records: clientEarly },
];

function split(record: Buffer): { header: Buffer; body: Buffer } {
  return { header: record.subarray(0, 5), body: record.subarray(5) };
}

function assertAlert(fn: () => unknown, alert: AlertName): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TlsAlertError, `expected TlsAlertError, got ${String(err)}`);
    assert.equal(err.alert, alert);
    return true;
  });
}

/** Seals an arbitrary TLSInnerPlaintext the way a (possibly hostile) peer could, bypassing Protector.seal. */
function sealRawInner(secret: Buffer, sequence: number, inner: Buffer): Buffer {
  const { key, iv } = trafficKeys(nodeCryptoProvider, AES128.hash, AES128.keyLength, secret);
  const nonce = Buffer.from(iv);
  nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ sequence) >>> 0, 8);
  const header = Buffer.of(ContentType.application_data, 3, 3, 0, 0);
  header.writeUInt16BE(inner.length + 16, 3);
  const cipher = createCipheriv('aes-128-gcm', key, nonce, { authTagLength: 16 });
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(inner), cipher.final(), cipher.getAuthTag()]);
  return Buffer.concat([header, body]);
}

describe('Protector against RFC 8448 protected records', () => {
  for (const direction of directions) {
    it(`opens every ${direction.name} record to the RFC's plaintext`, () => {
      const reader = new Protector(nodeCryptoProvider, AES128, direction.secret);
      for (const [sequence, r] of direction.records.entries()) {
        const { header, body } = split(r.record);
        const opened = reader.open(header, body);
        assert.equal(opened.type, r.type, `${r.name}: content type`);
        assert.deepEqual(opened.content, r.plaintext, `${r.name}: plaintext`);
        assert.equal(reader.recordsProcessed, sequence + 1);
      }
    });

    it(`seals the ${direction.name} plaintext into the RFC's exact record bytes (padding 0)`, () => {
      const writer = new Protector(nodeCryptoProvider, AES128, direction.secret);
      for (const r of direction.records) {
        assert.deepEqual(writer.seal(r.type, r.plaintext), r.record, r.name);
      }
    });
  }

  it('uses nonce iv XOR 1 for the second record in a direction (RFC 8446 §5.3)', () => {
    // The server's application data is its second record under s ap traffic.
    const [, second] = serverApplication;
    assert.ok(second !== undefined);
    const { header, body } = split(second.record);
    // At sequence 0 the nonce is the bare IV, so the tag cannot verify.
    assertAlert(() => new Protector(nodeCryptoProvider, AES128, secrets.serverApplication).open(header, body), 'bad_record_mac');

    const { key, iv } = trafficKeys(nodeCryptoProvider, AES128.hash, AES128.keyLength, secrets.serverApplication);
    const nonce = Buffer.from(iv);
    nonce[11] = (nonce[11] ?? 0) ^ 1;
    const inner = Buffer.concat([second.plaintext, Buffer.of(second.type)]);
    const cipher = createCipheriv('aes-128-gcm', key, nonce, { authTagLength: 16 });
    cipher.setAAD(header);
    const expected = Buffer.concat([cipher.update(inner), cipher.final(), cipher.getAuthTag()]);
    assert.deepEqual(expected, body, 'the RFC record is sealed with iv ^ 1');

    const writer = new Protector(nodeCryptoProvider, AES128, secrets.serverApplication);
    writer.seal(ContentType.handshake, Buffer.alloc(0));
    assert.deepEqual(writer.seal(second.type, second.plaintext), second.record);
  });

  it('restarts the sequence at zero for a new Protector, i.e. a new secret (RFC 8446 §5.3)', () => {
    const first = clientApplication[0];
    assert.ok(first !== undefined);
    const used = new Protector(nodeCryptoProvider, AES128, secrets.clientApplication);
    used.seal(ContentType.application_data, Buffer.of(1));
    assert.equal(used.recordsProcessed, 1);
    assert.deepEqual(new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).seal(first.type, first.plaintext), first.record);
  });

  it('sends bad_record_mac when any ciphertext or tag byte is altered (RFC 8446 §5.2)', () => {
    const r = clientHandshakeFlight[0];
    assert.ok(r !== undefined);
    const { header, body } = split(r.record);
    for (let i = 0; i < body.length; i++) {
      const tampered = Buffer.from(body);
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      assertAlert(() => new Protector(nodeCryptoProvider, AES128, secrets.clientHandshake).open(header, tampered), 'bad_record_mac');
    }
  });

  it('sends bad_record_mac when the header (the additional data) is altered (RFC 8446 §5.2)', () => {
    const r = clientHandshakeFlight[0];
    assert.ok(r !== undefined);
    const { header, body } = split(r.record);
    const tampered = Buffer.from(header);
    tampered[2] = 1; // legacy_record_version 0x0301 instead of 0x0303
    assertAlert(() => new Protector(nodeCryptoProvider, AES128, secrets.clientHandshake).open(tampered, body), 'bad_record_mac');
  });

  it('sends bad_record_mac when the key is wrong', () => {
    const r = clientHandshakeFlight[0];
    assert.ok(r !== undefined);
    const { header, body } = split(r.record);
    assertAlert(() => new Protector(nodeCryptoProvider, AES128, secrets.serverHandshake).open(header, body), 'bad_record_mac');
  });

  it('sends bad_record_mac for a body shorter than a tag plus the content type', () => {
    const header = Buffer.of(23, 3, 3, 0, 16);
    assertAlert(() => new Protector(nodeCryptoProvider, AES128, secrets.clientHandshake).open(header, Buffer.alloc(16)), 'bad_record_mac');
  });

  it('sends unexpected_message for an inner plaintext of only zeros (RFC 8446 §5.4)', () => {
    const record = sealRawInner(secrets.clientApplication, 0, Buffer.alloc(12));
    const { header, body } = split(record);
    assertAlert(() => new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).open(header, body), 'unexpected_message');
  });

  it('sends record_overflow for a ciphertext over 2^14 + 256 octets (RFC 8446 §5.2)', () => {
    const length = 2 ** 14 + 257;
    const header = Buffer.of(23, 3, 3, length >> 8, length & 0xff);
    assertAlert(
      () => new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).open(header, Buffer.alloc(length)),
      'record_overflow',
    );
  });

  it('checks a ciphertext of exactly 2^14 + 256 octets by its tag, not its length (RFC 8446 §5.2)', () => {
    const length = 2 ** 14 + 256;
    const header = Buffer.of(23, 3, 3, length >> 8, length & 0xff);
    assertAlert(
      () => new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).open(header, Buffer.alloc(length)),
      'bad_record_mac',
    );
  });

  it('sends record_overflow for an authenticated inner plaintext over 2^14 octets (RFC 8446 §5.4)', () => {
    const inner = Buffer.concat([Buffer.alloc(2 ** 14 + 1, 0x61), Buffer.of(ContentType.application_data)]);
    const { header, body } = split(sealRawInner(secrets.clientApplication, 0, inner));
    assertAlert(() => new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).open(header, body), 'record_overflow');
  });

  // RFC 8446 §5.4: "the full encoded TLSInnerPlaintext MUST NOT exceed 2^14 + 1 octets", padding included.
  it('refuses to seal a TLSInnerPlaintext over 2^14 + 1 octets once padding is counted (RFC 8446 §5.4)', () => {
    assertAlert(
      () =>
        new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).seal(ContentType.application_data, Buffer.alloc(2 ** 14), 1),
      'internal_error',
    );
  });

  it('sends record_overflow for a padded TLSInnerPlaintext over 2^14 + 1 octets (RFC 8446 §5.4, as Go halfConn.decrypt)', () => {
    const inner = Buffer.concat([Buffer.alloc(2 ** 14, 0x61), Buffer.of(ContentType.application_data, 0)]);
    const { header, body } = split(sealRawInner(secrets.clientApplication, 0, inner));
    assertAlert(() => new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).open(header, body), 'record_overflow');
  });

  it('consumes no sequence number on a record that fails to authenticate (RFC 8446 §4.2.10)', () => {
    // A server skipping rejected 0-RTT records must stay at the sequence number of the next real record.
    const reader = new Protector(nodeCryptoProvider, AES128, secrets.serverApplication);
    for (const r of serverApplication) {
      const { header, body } = split(r.record);
      const tampered = Buffer.from(body);
      tampered[0] = (tampered[0] ?? 0) ^ 0x80;
      assertAlert(() => reader.open(header, tampered), 'bad_record_mac');
      assert.deepEqual(reader.open(header, body).content, r.plaintext, r.name);
    }
    assert.equal(reader.recordsProcessed, serverApplication.length);
  });

  it('seals each of many records in a row under iv XOR its own sequence number, small and 16 KiB, padded or not (RFC 8446 §5.3, §5.4)', () => {
    // One Protector rewrites one nonce buffer per record: every record must still carry its own nonce, and a
    // reader and a writer on the same secret, used in turn, must not disturb each other's sequence.
    const writer = new Protector(nodeCryptoProvider, AES128, secrets.clientApplication);
    const reader = new Protector(nodeCryptoProvider, AES128, secrets.clientApplication);
    const sizes = [1, 2048, 2049, 16384, 100, 16384, 0, 5000];
    for (let sequence = 0; sequence < 40; sequence++) {
      const size = sizes[sequence % sizes.length]!;
      const content = Buffer.alloc(size, sequence);
      const type = sequence % 3 === 0 ? ContentType.handshake : ContentType.application_data;
      const padding = sequence % 4 === 1 && size < 2 ** 14 ? 3 : 0;
      const record = writer.seal(type, content, padding);
      const inner = Buffer.concat([content, Buffer.of(type), Buffer.alloc(padding)]);
      assert.deepEqual(record, sealRawInner(secrets.clientApplication, sequence, inner), `record ${sequence} (${size} bytes)`);
      const { header, body } = split(record);
      const opened = reader.open(header, body);
      assert.equal(opened.type, type);
      assert.deepEqual(opened.content, content, `record ${sequence} opens to its content`);
    }
    assert.equal(writer.recordsProcessed, 40);
    assert.equal(reader.recordsProcessed, 40);
  });

  it('refuses to seal more than 2^14 octets of content (RFC 8446 §5.1)', () => {
    assertAlert(
      () =>
        new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).seal(ContentType.application_data, Buffer.alloc(2 ** 14 + 1)),
      'internal_error',
    );
  });

  it('strips zero padding but keeps trailing zeros of the content (RFC 8446 §5.4)', () => {
    const content = Buffer.of(0x41, 0x00, 0x00);
    const record = new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).seal(ContentType.application_data, content, 7);
    assert.equal(record.length, 5 + content.length + 1 + 7 + 16);
    const { header, body } = split(record);
    const opened = new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).open(header, body);
    assert.equal(opened.type, ContentType.application_data);
    assert.deepEqual(opened.content, content);
  });

  it('writes an application_data outer type and legacy version 0x0303 on every sealed record (RFC 8446 §5.2)', () => {
    const record = new Protector(nodeCryptoProvider, AES128, secrets.clientApplication).seal(ContentType.alert, Buffer.of(1, 0));
    assert.deepEqual(record.subarray(0, 3), Buffer.of(ContentType.application_data, 3, 3));
    assert.equal(record.readUInt16BE(3), record.length - 5);
  });
});

describe('Protector round trips for every TLS 1.3 suite', () => {
  const contentTypes: readonly ContentType[] = [ContentType.alert, ContentType.handshake, ContentType.application_data];

  for (const info of SUITES.values()) {
    it(`opens what it seals with ${info.name}, random secrets and padding`, () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: info.hashLength, maxLength: info.hashLength }),
          fc.array(
            fc.record({
              type: fc.constantFrom(...contentTypes),
              content: fc.uint8Array({ maxLength: 300 }),
              padding: fc.nat({ max: 64 }),
            }),
            { minLength: 1, maxLength: 5 },
          ),
          (secretBytes, records) => {
            const secret = Buffer.from(secretBytes);
            const writer = new Protector(nodeCryptoProvider, info, secret);
            const reader = new Protector(nodeCryptoProvider, info, secret);
            for (const r of records) {
              const sealed = writer.seal(r.type, r.content, r.padding);
              assert.equal(sealed.length, 5 + r.content.length + 1 + r.padding + 16);
              const opened = reader.open(sealed.subarray(0, 5), sealed.subarray(5));
              assert.equal(opened.type, r.type);
              assert.deepEqual(opened.content, Buffer.from(r.content));
            }
            assert.equal(reader.recordsProcessed, records.length);
          },
        ),
        { numRuns: 60 },
      );
    });

    it(`rejects a record sealed under a different secret with ${info.name} (bad_record_mac)`, () => {
      const a = Buffer.alloc(info.hashLength, 1);
      const b = Buffer.alloc(info.hashLength, 2);
      const sealed = new Protector(nodeCryptoProvider, info, a).seal(ContentType.application_data, Buffer.from('hello'));
      assertAlert(() => new Protector(nodeCryptoProvider, info, b).open(sealed.subarray(0, 5), sealed.subarray(5)), 'bad_record_mac');
    });
  }

  it('covers the three suites of RFC 8446 §B.4', () => {
    assert.deepEqual([...SUITES.values()].map((s) => s.name).sort(), [
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
    ]);
  });
});

describe('Protector memory', () => {
  it('holds its key and nonce in buffers of their own, never slices of the shared Buffer pool (a pooled slice pins an 8 KiB slab per idle connection)', () => {
    const kept: Protector[] = [];
    for (let i = 0; i < 100; i++) {
      kept.push(new Protector(nodeCryptoProvider, AES128, secrets.serverApplication));
      // Small allocations in between, so a pooled slice would share a slab with them.
      Buffer.from('x'.repeat(100));
    }
    for (const protector of kept) {
      // The fields are private: read them as the memory they are, to check what each one keeps alive.
      const { key, nonceBuffer } = protector as unknown as { key: Buffer; nonceBuffer: Buffer };
      assert.equal(key.buffer.byteLength, 16);
      assert.equal(nonceBuffer.buffer.byteLength, 12);
    }
  });
});
