import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExtensionType } from '../../../../src/tls/codec/enums.js';
import { encodeU16List } from '../../../../src/tls/codec/extensions.js';
import {
  decodeCertificateRequest,
  encodeCertificateRequest,
  type CertificateRequest,
} from '../../../../src/tls/codec/messages/certificate-request.js';
import {
  assertAlert,
  buffer,
  checkMutatedInput,
  checkNoStrictPrefix,
  checkRandomInput,
  checkRoundTrip,
  checkTrailingRejected,
  extensionBlock,
  RUNS,
  type CodecCase,
} from './codec-properties.js';

const request: fc.Arbitrary<CertificateRequest> = fc
  .record({ requestContext: buffer(0, 8), extensions: extensionBlock({ minLength: 1, maxLength: 5 }) })
  .map((m) => ({ ...m }));

const codec: CodecCase<CertificateRequest> = { arbitrary: request, encode: encodeCertificateRequest, decode: decodeCertificateRequest };

describe('CertificateRequest codec (RFC 8446 §4.3.2)', () => {
  it('encodes an empty context and signature_algorithms as the RFC lays them out', () => {
    const bytes = encodeCertificateRequest({
      requestContext: Buffer.alloc(0),
      extensions: [{ type: ExtensionType.signature_algorithms, data: encodeU16List([0x0403, 0x0804]) }],
    });
    assert.equal(bytes.toString('hex'), '00' + '000a' + '000d' + '0006' + '0004' + '0403' + '0804');
    assert.equal(decodeCertificateRequest(bytes).extensions[0]!.type, ExtensionType.signature_algorithms);
  });

  it('round-trips random CertificateRequests', () => checkRoundTrip(codec));
  it('decodes no strict prefix (Go: TestMarshalUnmarshal)', () => checkNoStrictPrefix(codec));
  it('refuses trailing bytes with decode_error (§4)', () => checkTrailingRejected(codec));
  it('answers random bytes only with decode_error or illegal_parameter', () => checkRandomInput(codec));
  it('answers mutated CertificateRequests only with TlsAlertErrors, and re-encodes whatever it accepts', () => checkMutatedInput(codec));

  it('sends decode_error for an empty extensions block (§4.3.2: <2..2^16-1>)', () => {
    assertAlert(() => decodeCertificateRequest(Buffer.of(0, 0, 0)), 'decode_error');
  });

  it('sends illegal_parameter for a duplicated extension (§4.2)', () => {
    fc.assert(
      fc.property(request, (m) => {
        assertAlert(
          () => decodeCertificateRequest(encodeCertificateRequest({ ...m, extensions: [m.extensions[0]!, ...m.extensions] })),
          'illegal_parameter',
        );
      }),
      { numRuns: RUNS / 2 },
    );
  });
});
