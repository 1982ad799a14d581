import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { frameHandshake, HandshakeReassembler, type HandshakeMessage } from '../../../../src/tls/codec/handshake-frame.js';
import { assertAlert, buffer, RUNS, simple1rtt, traceMessage } from './codec-properties.js';

function drain(r: HandshakeReassembler): HandshakeMessage[] {
  const out: HandshakeMessage[] = [];
  for (let m = r.next(); m !== undefined; m = r.next()) out.push(m);
  return out;
}

describe('Handshake framing and reassembly (RFC 8446 §4, §5.1)', () => {
  it('frames RFC 8448 §3 ServerHello body into the exact message bytes', () => {
    const m = traceMessage(simple1rtt, '{server}  construct a ServerHello handshake message', 'ServerHello');
    assert.ok(frameHandshake(m.type, m.body).equals(m.raw));
  });

  it('gives back the same messages however the stream is cut into fragments (§5.1)', () => {
    const message = fc.record({ type: fc.integer({ min: 0, max: 255 }), body: buffer(0, 300) });
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }), (messages, cuts) => {
        const stream = Buffer.concat(messages.map((m) => frameHandshake(m.type, m.body)));
        const r = new HandshakeReassembler(1024);
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
          out.map((m) => [m.type, m.body.toString('hex')]),
          messages.map((m) => [m.type, m.body.toString('hex')]),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('reports a partial message until its last byte arrives (keys may not change then, §5.1)', () => {
    const r = new HandshakeReassembler(1024);
    const raw = frameHandshake(20, Buffer.alloc(32, 7));
    r.push(raw.subarray(0, 10));
    assert.equal(r.next(), undefined);
    assert.equal(r.hasPartial(), true);
    r.push(raw.subarray(10));
    assert.equal(r.next()?.body.length, 32);
    assert.equal(r.hasPartial(), false);
  });

  it('refuses a message over the size limit from its 4-byte header alone, before buffering the body', () => {
    const r = new HandshakeReassembler(1000);
    r.push(Buffer.of(11, 0, 0x03, 0xe9)); // Certificate of 1001 bytes: nothing of the body has arrived
    assertAlert(() => r.next(), 'unexpected_message');
    const ok = new HandshakeReassembler(1000);
    ok.push(frameHandshake(11, Buffer.alloc(1000)));
    assert.equal(ok.next()?.body.length, 1000);
  });
});
