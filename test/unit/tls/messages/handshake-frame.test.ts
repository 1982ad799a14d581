import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TlsAlertError } from '../../../../src/tls/alert.js';
import { HandshakeType } from '../../../../src/tls/codec/enums.js';
import {
  CLIENT_HELLO_MAX_LENGTH,
  frameHandshake,
  HandshakeReassembler,
  MAX_FLIGHT_RECORDS,
  recordBudget,
  type HandshakeMessage,
} from '../../../../src/tls/codec/handshake-frame.js';
import { assertAlert, buffer, RUNS, simple1rtt, traceMessage } from './codec-properties.js';

function drain(r: HandshakeReassembler): HandshakeMessage[] {
  const out: HandshakeMessage[] = [];
  for (let m = r.next(); m !== undefined; m = r.next()) out.push(m);
  return out;
}

function reassembler(maxMessageSize = 1024): HandshakeReassembler {
  return new HandshakeReassembler({ maxMessageSize });
}

/** Feeds `stream` in records of `size` bytes; returns the messages, or throws what the reassembler threw. */
function feed(r: HandshakeReassembler, stream: Buffer, size: number): HandshakeMessage[] {
  const out: HandshakeMessage[] = [];
  for (let at = 0; at < stream.length; at += size) {
    r.push(stream.subarray(at, at + size));
    out.push(...drain(r));
  }
  return out;
}

/** How many records of `size` bytes the reassembler took before refusing, or undefined if it took them all. */
function recordsUntilRefused(r: HandshakeReassembler, stream: Buffer, size: number): number | undefined {
  let records = 0;
  try {
    for (let at = 0; at < stream.length; at += size) {
      records++;
      r.push(stream.subarray(at, at + size));
      drain(r);
    }
  } catch (err) {
    assertAlert(() => {
      throw err;
    }, 'unexpected_message');
    return records;
  }
  return undefined;
}

describe('Handshake framing and reassembly (RFC 8446 §4, §5.1)', () => {
  it('frames RFC 8448 §3 ServerHello body into the exact message bytes', () => {
    const m = traceMessage(simple1rtt, '{server}  construct a ServerHello handshake message', 'ServerHello');
    assert.ok(frameHandshake(m.type, m.body).equals(m.raw));
  });

  it('gives back the same messages however the stream is cut into fragments (§5.1)', () => {
    const message = fc.record({
      type: fc
        .integer({ min: 0, max: 255 })
        .filter((t) => t !== HandshakeType.finished && t !== HandshakeType.key_update && t !== HandshakeType.end_of_early_data),
      body: buffer(0, 300),
    });
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (messages, cuts) => {
          const stream = Buffer.concat(messages.map((m) => frameHandshake(m.type, m.body)));
          const r = reassembler();
          const out: HandshakeMessage[] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const size = cuts[i % cuts.length]!;
            r.push(stream.subarray(at, at + size));
            at += size;
            out.push(...drain(r));
          }
          assert.equal(r.hasPartial(), false);
          assert.deepEqual(
            out.map((m) => [m.type, m.body.toString('hex'), m.raw.toString('hex')]),
            messages.map((m) => [m.type, m.body.toString('hex'), frameHandshake(m.type, m.body).toString('hex')]),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('hands out a message that fits in its record as a view of that record, without copying', () => {
    const r = reassembler();
    const record = Buffer.concat([frameHandshake(8, Buffer.of(0, 0)), frameHandshake(11, Buffer.alloc(20, 3))]);
    r.push(record);
    const [ee, certificate] = drain(r);
    assert.equal(ee?.raw.buffer, record.buffer);
    assert.equal(certificate?.raw.buffer, record.buffer);
    assert.equal(certificate?.raw.byteOffset, record.byteOffset + 6);
  });

  it('reports a partial message until its last byte arrives (keys may not change then, §5.1)', () => {
    const r = reassembler();
    const raw = frameHandshake(20, Buffer.alloc(32, 7));
    r.push(raw.subarray(0, 10));
    assert.equal(r.next(), undefined);
    assert.equal(r.hasPartial(), true);
    r.push(raw.subarray(10));
    assert.equal(r.next()?.body.length, 32);
    assert.equal(r.hasPartial(), false);
  });

  it('reports the rest of a record as partial while the message before it is being handled (§5.1)', () => {
    const r = reassembler();
    r.push(Buffer.concat([frameHandshake(1, Buffer.alloc(10)), frameHandshake(20, Buffer.alloc(32))]));
    assert.equal(r.next()?.type, 1);
    assert.equal(r.hasPartial(), true, 'the Finished behind the ClientHello is still unread');
    assert.equal(r.next()?.type, 20);
    assert.equal(r.hasPartial(), false);
  });

  it('only ever throws a TlsAlertError on random fragments, whatever their cut (STYLE §5: hostile input)', () => {
    fc.assert(
      fc.property(fc.array(buffer(1, 64), { minLength: 1, maxLength: 40 }), (fragments) => {
        const r = reassembler(512);
        try {
          for (const f of fragments) {
            r.push(f);
            drain(r);
          }
        } catch (err) {
          assert.ok(err instanceof TlsAlertError, String(err));
          assert.ok(['decode_error', 'illegal_parameter', 'unexpected_message'].includes(err.alert), err.message);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('Handshake message size limits, from the 4-byte header alone', () => {
  it('sends illegal_parameter for a Certificate over maxHandshakeMessageSize, before buffering the body (OpenSSL: SSL_R_EXCESSIVE_MESSAGE_SIZE)', () => {
    const r = reassembler(1000);
    r.push(Buffer.of(HandshakeType.certificate, 0, 0x03, 0xe9)); // 1001 bytes announced, none of the body sent
    assertAlert(() => r.next(), 'illegal_parameter');
    const ok = reassembler(1000);
    ok.push(frameHandshake(HandshakeType.certificate, Buffer.alloc(1000)));
    assert.equal(ok.next()?.body.length, 1000);
  });

  it(`accepts a ClientHello of ${CLIENT_HELLO_MAX_LENGTH} bytes (OpenSSL's CLIENT_HELLO_MAX_LENGTH) whatever maxHandshakeMessageSize says`, () => {
    const r = reassembler(1024);
    const messages = feed(r, frameHandshake(HandshakeType.client_hello, Buffer.alloc(CLIENT_HELLO_MAX_LENGTH, 1)), 2 ** 14);
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.body.length, CLIENT_HELLO_MAX_LENGTH);
  });

  it(`sends decode_error for a ClientHello announcing ${CLIENT_HELLO_MAX_LENGTH + 1} bytes: no well-formed ClientHello is that long (RFC 8446 §4.1.2)`, () => {
    const r = reassembler(1 << 20);
    const header = frameHandshake(HandshakeType.client_hello, Buffer.alloc(0));
    header.writeUIntBE(CLIENT_HELLO_MAX_LENGTH + 1, 1, 3);
    r.push(header);
    assertAlert(() => r.next(), 'decode_error');
  });

  it('sends decode_error for a Finished over 48 bytes, a KeyUpdate over 1 and an EndOfEarlyData over 0 (RFC 8446 §4.4.4, §4.6.3, §4.5)', () => {
    for (const [type, length] of [
      [HandshakeType.finished, 49],
      [HandshakeType.key_update, 2],
      [HandshakeType.end_of_early_data, 1],
    ] as const) {
      const r = reassembler(1 << 16);
      r.push(Buffer.of(type, 0, 0, length));
      assertAlert(() => r.next(), 'decode_error', `type ${type}`);
    }
  });

  it('checks the length when the header itself arrives one byte per record', () => {
    const r = reassembler(1000);
    for (const byte of [HandshakeType.certificate, 0, 0x03]) {
      r.push(Buffer.of(byte));
      assert.equal(r.next(), undefined);
    }
    r.push(Buffer.of(0xe9));
    assertAlert(() => r.next(), 'illegal_parameter');
  });
});

describe('Fragment budget: records per handshake message and per flight', () => {
  it('accepts a 2 KiB message in 1-byte records (any message up to the allowance, as tlsfuzzer fragments a ClientHello)', () => {
    const stream = frameHandshake(HandshakeType.client_hello, Buffer.alloc(2044, 5));
    assert.equal(feed(reassembler(), stream, 1).length, 1);
  });

  it('accepts a 64 KiB message in 256-byte records and in 2^14-byte records', () => {
    const stream = frameHandshake(HandshakeType.certificate, Buffer.alloc(65_536, 6));
    assert.equal(feed(reassembler(1 << 17), stream, 256).length, 1);
    assert.equal(feed(reassembler(1 << 17), stream, 2 ** 14).length, 1);
  });

  it('sends unexpected_message for a 64 KiB message in 1-byte records once it passes its budget (2,561 records), not at its end', () => {
    const stream = frameHandshake(HandshakeType.certificate, Buffer.alloc(65_536, 7));
    assert.equal(recordBudget(stream.length), 2561);
    assert.equal(recordsUntilRefused(reassembler(1 << 17), stream, 1), 2562);
  });

  it(`sends unexpected_message for the ${MAX_FLIGHT_RECORDS + 1}th handshake record of one flight, and counts afresh after startFlight()`, () => {
    const tiny = frameHandshake(HandshakeType.encrypted_extensions, Buffer.of(0, 0));
    const r = reassembler();
    for (let i = 0; i < MAX_FLIGHT_RECORDS; i++) {
      r.push(tiny);
      drain(r);
    }
    assertAlert(() => r.push(tiny), 'unexpected_message');
    const again = reassembler();
    for (let i = 0; i < MAX_FLIGHT_RECORDS; i++) {
      again.push(tiny);
      drain(again);
    }
    again.startFlight();
    again.push(tiny);
    assert.equal(drain(again).length, 1);
  });

  it('budgets each message of a record on its own: a record that ends one message and starts the next counts for both', () => {
    const first = frameHandshake(HandshakeType.certificate, Buffer.alloc(2000, 1));
    const second = frameHandshake(HandshakeType.certificate_verify, Buffer.alloc(100, 2));
    const messages = feed(reassembler(1 << 16), Buffer.concat([first, second]), 1);
    assert.deepEqual(
      messages.map((m) => m.body.length),
      [2000, 100],
    );
  });
});
