import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HandshakeType } from '../../../../src/tls/codec/enums.js';
import { decodeFinished } from '../../../../src/tls/codec/messages/finished.js';
import { assertAlert, buffer, RUNS, simple1rtt, traceMessage } from './codec-properties.js';

describe('Finished codec (RFC 8446 §4.4.4)', () => {
  it('reads the 32-byte verify_data of RFC 8448 §3 server and client Finished', () => {
    const server = traceMessage(simple1rtt, '{server}  construct a Finished handshake message', 'Finished');
    const client = traceMessage(simple1rtt, '{client}  construct a Finished handshake message', 'Finished');
    for (const m of [server, client]) {
      assert.equal(m.type, HandshakeType.finished);
      assert.ok(decodeFinished(m.body, 32).equals(m.body));
    }
    assert.equal(server.body.subarray(0, 4).toString('hex'), '9b9b141d');
    assert.equal(client.body.subarray(0, 4).toString('hex'), 'a8ec436d');
  });

  it('returns verify_data of exactly Hash.length bytes unchanged (SHA-256 and SHA-384)', () => {
    fc.assert(
      fc.property(fc.constantFrom(32, 48), buffer(48, 48), (hashLength, bytes) => {
        const body = bytes.subarray(0, hashLength);
        assert.ok(decodeFinished(body, hashLength).equals(body));
      }),
      { numRuns: RUNS },
    );
  });

  it('sends decode_error for every other length: prefixes, trailing bytes, random bodies', () => {
    fc.assert(
      fc.property(fc.constantFrom(32, 48), buffer(0, 100), (hashLength, body) => {
        if (body.length === hashLength) return;
        assertAlert(() => decodeFinished(body, hashLength), 'decode_error');
      }),
      { numRuns: RUNS * 2 },
    );
  });
});
