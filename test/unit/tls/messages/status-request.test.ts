import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CertificateStatusType } from '../../../../src/tls/codec/enums.js';
import {
  decodeCertificateStatus,
  decodeCertificateStatusRequest,
  encodeCertificateStatus,
  encodeCertificateStatusRequest,
  isOcspStatusRequest,
  MAX_STAPLED_OCSP_RESPONSE,
  type CertificateStatus,
  type CertificateStatusRequest,
  type OcspStatusRequest,
  type UnknownStatusRequest,
} from '../../../../src/tls/codec/extensions.js';
import {
  assertAlert,
  buffer,
  checkMutatedInput,
  checkNoStrictPrefix,
  checkRandomInput,
  checkRoundTrip,
  checkTrailingRejected,
  RUNS,
  u8,
  type CodecCase,
} from './codec-properties.js';

/**
 * status_request (RFC 6066 §8) both ways: the CertificateStatusRequest a
 * client sends in ClientHello, and the CertificateStatus a TLS 1.3 server
 * puts in its leaf's CertificateEntry (RFC 8446 §4.4.2.1).
 */

/** The smallest OCSPResponse: SEQUENCE { responseStatus ENUMERATED tryLater(3) } (RFC 6960 §4.2.1). */
const TRY_LATER = Buffer.from('30030a0103', 'hex');

const ocspRequest: fc.Arbitrary<OcspStatusRequest> = fc
  .record({ responderIds: fc.array(buffer(1, 24), { maxLength: 4 }), requestExtensions: buffer(0, 24) })
  .map((r) => ({ statusType: CertificateStatusType.ocsp, responderIds: r.responderIds, requestExtensions: r.requestExtensions }));

const unknownRequest: fc.Arbitrary<UnknownStatusRequest> = fc
  .record({ statusType: u8.filter((t) => t !== CertificateStatusType.ocsp), request: buffer(0, 24) })
  .map((r) => ({ statusType: r.statusType, request: r.request }));

const ocspRequestCodec: CodecCase<CertificateStatusRequest> = {
  arbitrary: ocspRequest,
  encode: encodeCertificateStatusRequest,
  decode: decodeCertificateStatusRequest,
};

/** Both kinds. An unknown type's request runs to the end, so every prefix past status_type decodes, and trailing bytes are part of it. */
const anyRequestCodec: CodecCase<CertificateStatusRequest> = {
  arbitrary: fc.oneof(ocspRequest, unknownRequest),
  encode: encodeCertificateStatusRequest,
  decode: decodeCertificateStatusRequest,
  decodablePrefixes: (value, encoded) => (isOcspStatusRequest(value) ? [] : Array.from({ length: encoded.length - 1 }, (_, i) => i + 1)),
};

const statusCodec: CodecCase<CertificateStatus> = {
  arbitrary: buffer(1, 300).map((ocspResponse) => ({ ocspResponse })),
  encode: encodeCertificateStatus,
  decode: decodeCertificateStatus,
};

describe('CertificateStatusRequest codec (RFC 6066 §8)', () => {
  it('decodes what OpenSSL and our client send: ocsp, no responder ids, no request extensions', () => {
    const request = decodeCertificateStatusRequest(Buffer.from('0100000000', 'hex'));
    assert.deepEqual(request, { statusType: CertificateStatusType.ocsp, responderIds: [], requestExtensions: Buffer.alloc(0) });
    assert.ok(isOcspStatusRequest(request));
  });

  it('reads responder ids and request extensions as opaque DER', () => {
    // responder_id_list: two ResponderIDs (3 and 1 bytes); request_extensions: 2 bytes.
    const bytes = Buffer.from('01' + '0008' + '0003aabbcc' + '0001dd' + '0002eeff', 'hex');
    const request = decodeCertificateStatusRequest(bytes);
    assert.ok(isOcspStatusRequest(request));
    assert.deepEqual(request.responderIds, [Buffer.from('aabbcc', 'hex'), Buffer.from('dd', 'hex')]);
    assert.deepEqual(request.requestExtensions, Buffer.from('eeff', 'hex'));
    assert.ok(encodeCertificateStatusRequest(request).equals(bytes));
  });

  it('keeps a status_type RFC 6066 does not define as a number, with its request unread', () => {
    const request = decodeCertificateStatusRequest(Buffer.from('02000000', 'hex'));
    assert.deepEqual(request, { statusType: 2, request: Buffer.from('000000', 'hex') });
    assert.equal(isOcspStatusRequest(request), false);
  });

  it('sends decode_error for an empty body, an empty ResponderID, lengths past the end, or trailing bytes', () => {
    for (const hex of ['', '01', '0100', '010000', '01000000', '0100020000' + '0000', '010001aa0000', '0100000001', '010000000000']) {
      assertAlert(() => decodeCertificateStatusRequest(Buffer.from(hex, 'hex')), 'decode_error', `input ${hex}`);
    }
  });

  it('round-trips random ocsp requests', () => checkRoundTrip(ocspRequestCodec));
  it('round-trips random requests of any status_type', () => checkRoundTrip(anyRequestCodec));
  it('decodes no strict prefix of an ocsp request (Go: TestMarshalUnmarshal)', () => checkNoStrictPrefix(ocspRequestCodec));
  it('decodes no prefix shorter than status_type, whatever the type', () => checkNoStrictPrefix(anyRequestCodec));
  it('refuses trailing bytes after an ocsp request with decode_error', () => checkTrailingRejected(ocspRequestCodec));
  it('answers random bytes only with decode_error, and re-encodes whatever it accepts', () =>
    checkRandomInput({ ...anyRequestCodec, hostileAlerts: ['decode_error'] }));
  it('answers mutated requests only with decode_error, and re-encodes whatever it accepts', () =>
    checkMutatedInput({ ...anyRequestCodec, hostileAlerts: ['decode_error'] }));
});

describe('CertificateStatus codec (RFC 6066 §8, RFC 8446 §4.4.2.1)', () => {
  it('encodes status_type ocsp, a 24-bit length and the OCSPResponse', () => {
    const encoded = encodeCertificateStatus({ ocspResponse: TRY_LATER });
    assert.equal(encoded.toString('hex'), '01' + '000005' + '30030a0103');
    assert.deepEqual(decodeCertificateStatus(encoded), { ocspResponse: TRY_LATER });
  });

  it('sends illegal_parameter for a status_type other than ocsp, whatever follows', () => {
    fc.assert(
      fc.property(
        u8.filter((t) => t !== CertificateStatusType.ocsp),
        buffer(0, 16),
        (statusType, rest) => {
          assertAlert(() => decodeCertificateStatus(Buffer.concat([Buffer.of(statusType), rest])), 'illegal_parameter');
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('sends decode_error for an empty OCSPResponse (<1..2^24-1>), a short length or a long one', () => {
    for (const hex of ['', '01', '010000', '01000000', '0100000530030a01', '01000004' + '30030a0103']) {
      assertAlert(() => decodeCertificateStatus(Buffer.from(hex, 'hex')), 'decode_error', `input ${hex}`);
    }
  });

  it('refuses to encode an empty response or one too large for the entry’s extensions<0..2^16-1>', () => {
    assert.throws(() => encodeCertificateStatus({ ocspResponse: Buffer.alloc(0) }), RangeError);
    assert.throws(() => encodeCertificateStatus({ ocspResponse: Buffer.alloc(MAX_STAPLED_OCSP_RESPONSE + 1) }), RangeError);
    const largest = encodeCertificateStatus({ ocspResponse: Buffer.alloc(MAX_STAPLED_OCSP_RESPONSE, 7) });
    assert.equal(largest.length + 4, 0xffff, 'with extension_type and its length, the whole block');
    assert.equal(decodeCertificateStatus(largest).ocspResponse.length, MAX_STAPLED_OCSP_RESPONSE);
  });

  it('round-trips random responses', () => checkRoundTrip(statusCodec));
  it('decodes no strict prefix (Go: TestMarshalUnmarshal)', () => checkNoStrictPrefix(statusCodec));
  it('refuses trailing bytes with decode_error (RFC 8446 §4)', () => checkTrailingRejected(statusCodec));
  it('answers random bytes only with decode_error or illegal_parameter', () => checkRandomInput(statusCodec));
  it('answers mutated statuses only with TlsAlertErrors, and re-encodes whatever it accepts', () => checkMutatedInput(statusCodec));
});
