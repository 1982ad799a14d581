import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeCertificateVerify,
  encodeCertificateVerify,
  type CertificateVerify,
} from '../../../../src/tls/codec/messages/certificate-verify.js';
import {
  assertAlert,
  buffer,
  checkMutatedInput,
  checkNoStrictPrefix,
  checkRandomInput,
  checkRoundTrip,
  checkTrailingRejected,
  simple1rtt,
  traceMessage,
  u16,
  type CodecCase,
} from './codec-properties.js';

const verify: fc.Arbitrary<CertificateVerify> = fc.record({ algorithm: u16, signature: buffer(1, 300) }).map((m) => ({ ...m }));

const codec: CodecCase<CertificateVerify> = { arbitrary: verify, encode: encodeCertificateVerify, decode: decodeCertificateVerify };

describe('CertificateVerify codec (RFC 8446 §4.4.3)', () => {
  it('decodes RFC 8448 §3 CertificateVerify (rsa_pss_rsae_sha256, 128-byte signature) and re-encodes it byte for byte', () => {
    const m = traceMessage(simple1rtt, '{server}  construct a CertificateVerify handshake message', 'CertificateVerify');
    const cv = decodeCertificateVerify(m.body);
    assert.equal(cv.algorithm, 0x0804);
    assert.equal(cv.signature.length, 128);
    assert.ok(encodeCertificateVerify(cv).equals(m.body));
  });

  it('round-trips random CertificateVerify messages', () => checkRoundTrip(codec));
  it('decodes no strict prefix (Go: TestMarshalUnmarshal)', () => checkNoStrictPrefix(codec));
  it('refuses trailing bytes with decode_error (§4)', () => checkTrailingRejected(codec));
  it('answers random bytes only with decode_error or illegal_parameter', () => checkRandomInput(codec));
  it('answers mutated CertificateVerify messages only with TlsAlertErrors, and re-encodes whatever it accepts', () =>
    checkMutatedInput(codec));

  it('sends decode_error for an empty signature (§4.4.3: <0..2^16-1> in the RFC, but no scheme signs with 0 bytes)', () => {
    assertAlert(() => decodeCertificateVerify(Buffer.of(0x04, 0x03, 0, 0)), 'decode_error');
  });
});
