import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeCertificate, encodeCertificate, type CertificateMessage } from '../../../../src/tls/codec/messages/certificate.js';
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
  simple1rtt,
  traceMessage,
  type CodecCase,
} from './codec-properties.js';

const certificate: fc.Arbitrary<CertificateMessage> = fc
  .record({
    requestContext: buffer(0, 8),
    entries: fc.array(
      fc.record({ certData: buffer(1, 120), extensions: extensionBlock({ maxLength: 3 }) }).map((e) => ({ ...e })),
      { maxLength: 4 },
    ),
  })
  .map((m) => ({ ...m }));

const codec: CodecCase<CertificateMessage> = { arbitrary: certificate, encode: encodeCertificate, decode: decodeCertificate };

describe('Certificate codec (RFC 8446 §4.4.2)', () => {
  it('decodes RFC 8448 §3 server Certificate (one RSA certificate, no extensions) and re-encodes it byte for byte', () => {
    const m = traceMessage(simple1rtt, '{server}  construct a Certificate handshake message', 'Certificate');
    const cert = decodeCertificate(m.body);
    assert.equal(cert.requestContext.length, 0);
    assert.equal(cert.entries.length, 1);
    assert.equal(cert.entries[0]!.certData.length, 0x1b0);
    assert.equal(cert.entries[0]!.certData[0], 0x30, 'a DER SEQUENCE');
    assert.deepEqual(cert.entries[0]!.extensions, []);
    assert.ok(encodeCertificate(cert).equals(m.body));
  });

  it('decodes an empty certificate_list (the client that has no certificate, §4.4.2.4)', () => {
    assert.deepEqual(decodeCertificate(Buffer.of(0, 0, 0, 0)), { requestContext: Buffer.alloc(0), entries: [] });
  });

  it('round-trips random Certificate messages', () => checkRoundTrip(codec));
  it('decodes no strict prefix (Go: TestMarshalUnmarshal)', () => checkNoStrictPrefix(codec));
  it('refuses trailing bytes with decode_error (§4)', () => checkTrailingRejected(codec));
  it('answers random bytes only with decode_error or illegal_parameter', () => checkRandomInput(codec));
  it('answers mutated Certificates only with TlsAlertErrors, and re-encodes whatever it accepts', () => checkMutatedInput(codec));

  it('sends decode_error for an empty cert_data (§4.4.2: <1..2^24-1>)', () => {
    // context<0>, list of 5 bytes: cert_data length 0, extensions length 0.
    assertAlert(() => decodeCertificate(Buffer.of(0, 0, 0, 5, 0, 0, 0, 0, 0)), 'decode_error');
  });

  it('sends illegal_parameter for a duplicated extension in a CertificateEntry (§4.2)', () => {
    fc.assert(
      fc.property(
        certificate.filter((m) => m.entries.some((e) => e.extensions.length > 0)),
        (m) => {
          const entries = m.entries.map((e) => (e.extensions.length > 0 ? { ...e, extensions: [...e.extensions, e.extensions[0]!] } : e));
          assertAlert(() => decodeCertificate(encodeCertificate({ ...m, entries })), 'illegal_parameter');
        },
      ),
      { numRuns: RUNS / 2 },
    );
  });
});
