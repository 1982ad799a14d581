import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Deframer, type RawRecord } from '../../../../src/tls/record/deframer.js';
import { MAX_CIPHERTEXT, RECORD_HEADER_LENGTH } from '../../../../src/tls/record/limits.js';
import { TlsAlertError, type AlertName } from '../../../../src/tls/alert.js';
import { Rfc8448Trace } from '../../../helpers/vectors.js';

/** Cutting the byte stream into records (RFC 8446 §5.1), fed with RFC 8448 §3's server records. */

const s3 = Rfc8448Trace.load('rfc8448-simple-1rtt.txt');

// The server's records in wire order: ServerHello, the encrypted flight, NewSessionTicket, data, close_notify.
const serverRecords: readonly Buffer[] = [
  s3.bytes('{server}  send handshake record', 'complete record (95 octets)', 0),
  s3.bytes('{server}  send handshake record', 'complete record (679 octets)', 1),
  s3.bytes('{server}  send handshake record', 'complete record (227 octets)', 2),
  s3.bytes('{server}  send application_data record', 'complete record (72 octets)'),
  s3.bytes('{server}  send alert record', 'complete record (24 octets)'),
];
const stream = Buffer.concat(serverRecords);

function drain(deframer: Deframer): RawRecord[] {
  const out: RawRecord[] = [];
  for (let r = deframer.next(); r !== undefined; r = deframer.next()) out.push(r);
  return out;
}

function wire(r: RawRecord): Buffer {
  return Buffer.concat([r.header, r.body]);
}

function assertAlert(fn: () => unknown, alert: AlertName): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TlsAlertError, `expected TlsAlertError, got ${String(err)}`);
    assert.equal(err.alert, alert);
    return true;
  });
}

function header(type: number, length: number, version = 0x0303): Buffer {
  return Buffer.of(type, version >> 8, version & 0xff, length >> 8, length & 0xff);
}

describe('Deframer', () => {
  it('returns several records pushed in one chunk, in order (RFC 8448 §3 server records)', () => {
    const d = new Deframer();
    d.push(stream);
    const records = drain(d);
    assert.deepEqual(records.map(wire), serverRecords);
    assert.deepEqual(
      records.map((r) => r.type),
      [22, 23, 23, 23, 23],
    );
    assert.equal(d.bufferedBytes, 0);
  });

  it('gives the 5-byte header (the AEAD additional data) and the body separately', () => {
    const d = new Deframer();
    d.push(stream);
    const first = d.next();
    assert.ok(first !== undefined);
    assert.equal(first.header.length, RECORD_HEADER_LENGTH);
    assert.equal(first.body.length, first.header.readUInt16BE(3));
  });

  it('reassembles the records when the stream is split at every byte boundary', () => {
    for (let at = 0; at <= stream.length; at++) {
      const d = new Deframer();
      d.push(stream.subarray(0, at));
      const before = drain(d);
      d.push(stream.subarray(at));
      const records = [...before, ...drain(d)];
      assert.deepEqual(records.map(wire), serverRecords, `split at ${at}`);
      assert.equal(d.bufferedBytes, 0, `split at ${at}`);
    }
  });

  it('reassembles the records when fed one byte at a time', () => {
    const d = new Deframer();
    const records: RawRecord[] = [];
    for (const byte of stream) {
      d.push(Buffer.of(byte));
      records.push(...drain(d));
    }
    assert.deepEqual(records.map(wire), serverRecords);
  });

  it('reassembles the records from random chunkings', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 20 }), (cuts) => {
        const points = [0, ...[...cuts].sort((a, b) => a - b), stream.length];
        const d = new Deframer();
        const records: RawRecord[] = [];
        for (let i = 1; i < points.length; i++) {
          d.push(stream.subarray(points[i - 1], points[i]));
          records.push(...drain(d));
        }
        assert.deepEqual(records.map(wire), serverRecords);
      }),
      { numRuns: 100 },
    );
  });

  it('waits, without error, while a header or body is incomplete', () => {
    const d = new Deframer();
    const [first] = serverRecords;
    assert.ok(first !== undefined);
    d.push(first.subarray(0, 3));
    assert.equal(d.next(), undefined);
    d.push(first.subarray(3, first.length - 1));
    assert.equal(d.next(), undefined);
    assert.equal(d.bufferedBytes, first.length - 1);
    d.push(first.subarray(first.length - 1));
    const r = d.next();
    assert.ok(r !== undefined);
    assert.deepEqual(wire(r), first);
  });

  it('ignores empty chunks', () => {
    const d = new Deframer();
    d.push(Buffer.alloc(0));
    assert.equal(d.bufferedBytes, 0);
    assert.equal(d.next(), undefined);
  });

  it('accepts the 0x0301 legacy_record_version of an initial ClientHello (RFC 8446 §5.1)', () => {
    const clientHelloRecord = s3.bytes('{client}  send handshake record', 'complete record (201 octets)', 0);
    assert.equal(clientHelloRecord.readUInt16BE(1), 0x0301);
    const d = new Deframer();
    d.push(clientHelloRecord);
    const r = d.next();
    assert.ok(r !== undefined);
    assert.deepEqual(wire(r), clientHelloRecord);
  });

  it('sends unexpected_message for a record type outside 20..23 (RFC 8446 §5)', () => {
    for (const type of [0, 19, 24, 0x80, 0xff]) {
      const d = new Deframer();
      d.push(Buffer.concat([header(type, 1), Buffer.of(0)]));
      assertAlert(() => d.next(), 'unexpected_message');
    }
  });

  it('sends unexpected_message from the header alone, before the body arrives', () => {
    const d = new Deframer();
    d.push(header(0x18, 300));
    assertAlert(() => d.next(), 'unexpected_message');
  });

  it('sends record_overflow for a length over 2^14 + 256 (RFC 8446 §5.2)', () => {
    for (const length of [MAX_CIPHERTEXT + 1, 0xffff]) {
      const d = new Deframer();
      d.push(header(23, length));
      // Rejected on the header: a peer cannot make us wait for (and buffer) an oversized body.
      assertAlert(() => d.next(), 'record_overflow');
    }
  });

  it('accepts a length of exactly 2^14 + 256 (RFC 8446 §5.2)', () => {
    const body = Buffer.alloc(MAX_CIPHERTEXT, 0x5a);
    const d = new Deframer();
    d.push(header(23, MAX_CIPHERTEXT));
    assert.equal(d.next(), undefined);
    d.push(body);
    const r = d.next();
    assert.ok(r !== undefined);
    assert.deepEqual(r.body, body);
  });

  it('buffers at most one partial maximum-size record when drained after every push', () => {
    const big = Buffer.concat([header(23, MAX_CIPHERTEXT), Buffer.alloc(MAX_CIPHERTEXT, 1)]);
    const input = Buffer.concat([big, big, ...serverRecords]);
    const d = new Deframer();
    let most = 0;
    let count = 0;
    for (let at = 0; at < input.length; at += 97) {
      d.push(input.subarray(at, Math.min(at + 97, input.length)));
      count += drain(d).length;
      most = Math.max(most, d.bufferedBytes);
    }
    assert.equal(count, 2 + serverRecords.length);
    assert.ok(most < RECORD_HEADER_LENGTH + MAX_CIPHERTEXT, `buffered ${most} bytes`);
    assert.equal(d.bufferedBytes, 0);
  });

  it('only ever throws TlsAlertError on random input', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const d = new Deframer();
        try {
          for (const chunk of chunks) {
            d.push(Buffer.from(chunk));
            for (let r = d.next(); r !== undefined; r = d.next()) {
              assert.equal(r.header.length, RECORD_HEADER_LENGTH);
              assert.equal(r.body.length, r.header.readUInt16BE(3));
            }
          }
        } catch (err) {
          assert.ok(err instanceof TlsAlertError, `unexpected ${String(err)}`);
        }
        assert.ok(d.bufferedBytes <= chunks.reduce((n, c) => n + c.length, 0));
      }),
      { numRuns: 300 },
    );
  });
});
