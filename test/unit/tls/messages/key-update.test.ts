import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KeyUpdateRequest } from '../../../../src/tls/codec/enums.js';
import { decodeKeyUpdate } from '../../../../src/tls/codec/messages/key-update.js';
import { assertAlert, buffer, RUNS } from './codec-properties.js';

describe('KeyUpdate codec (RFC 8446 §4.6.3)', () => {
  it('reads update_not_requested (0) and update_requested (1)', () => {
    assert.equal(decodeKeyUpdate(Buffer.of(KeyUpdateRequest.update_not_requested)), false);
    assert.equal(decodeKeyUpdate(Buffer.of(KeyUpdateRequest.update_requested)), true);
  });

  it('sends illegal_parameter for any other request_update value (§4.6.3)', () => {
    for (let v = 2; v <= 255; v++) assertAlert(() => decodeKeyUpdate(Buffer.of(v)), 'illegal_parameter', `request_update ${v}`);
  });

  it('sends decode_error for the empty body (the only strict prefix) and for trailing bytes', () => {
    assertAlert(() => decodeKeyUpdate(Buffer.alloc(0)), 'decode_error');
    fc.assert(
      fc.property(fc.constantFrom(0, 1), buffer(1, 8), (v, extra) => {
        assertAlert(() => decodeKeyUpdate(Buffer.concat([Buffer.of(v), extra])), 'decode_error');
      }),
      { numRuns: RUNS },
    );
  });
});
