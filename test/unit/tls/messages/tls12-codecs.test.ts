import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeServerKeyExchange,
  encodeServerKeyExchange,
  serverKeyExchangeSignedContent,
  type ServerKeyExchange,
} from '../../../../src/tls/codec/messages/tls12/server-key-exchange.js';
import {
  decodeClientKeyExchange,
  encodeClientKeyExchange,
  type ClientKeyExchange,
} from '../../../../src/tls/codec/messages/tls12/client-key-exchange.js';
import {
  decodeCertificateRequest12,
  encodeCertificateRequest12,
  type CertificateRequest12,
} from '../../../../src/tls/codec/messages/tls12/certificate-request.js';
import { decodeCertificate12, encodeCertificate12, type Certificate12 } from '../../../../src/tls/codec/messages/tls12/certificate.js';
import {
  decodeCertificateStatus as decodeCertificateStatus12,
  encodeCertificateStatus as encodeCertificateStatus12,
  type CertificateStatus as CertificateStatus12,
} from '../../../../src/tls/codec/status-request.js';
import {
  decodeNewSessionTicket12,
  encodeNewSessionTicket12,
  type NewSessionTicket12,
} from '../../../../src/tls/codec/messages/tls12/new-session-ticket.js';
import {
  decodeFinished12,
  decodeServerHelloDone,
  encodeServerHelloDone,
} from '../../../../src/tls/codec/messages/tls12/empty-and-finished.js';
import {
  decodeEcPointFormats,
  decodeExtendedMasterSecret,
  decodeRenegotiationInfo,
  encodeEcPointFormats,
  encodeRenegotiationInfo,
} from '../../../../src/tls/codec/messages/tls12/extensions.js';
import {
  assertAlert,
  buffer,
  checkMutatedInput,
  checkNoStrictPrefix,
  checkRandomInput,
  checkRoundTrip,
  checkTrailingRejected,
  RUNS,
  u16,
  u32,
  u8,
  type CodecCase,
} from './codec-properties.js';

/** fast-check builds records without a prototype; the decoders return plain objects. */
function plain<T extends object>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return arbitrary.map((value) => ({ ...value }));
}

function allProperties<T>(name: string, codec: CodecCase<T>): void {
  it(`${name}: round-trips random values and re-encodes them byte for byte`, () => checkRoundTrip(codec));
  it(`${name}: decodes no strict prefix (decode_error)`, () => checkNoStrictPrefix(codec));
  it(`${name}: refuses trailing bytes with decode_error`, () => checkTrailingRejected(codec));
  it(`${name}: answers random bytes only with its alerts`, () => checkRandomInput(codec));
  it(`${name}: answers mutated encodings only with TlsAlertErrors and re-encodes what it accepts`, () => checkMutatedInput(codec));
}

const serverKeyExchange: CodecCase<ServerKeyExchange> = {
  arbitrary: fc
    .record({
      params: fc.record({ namedCurve: u16, publicKey: buffer(1, 97) }),
      algorithm: u16,
      signature: buffer(0, 300),
    })
    .map((m) => ({ ...m, params: { ...m.params } })),
  encode: encodeServerKeyExchange,
  decode: decodeServerKeyExchange,
};

const clientKeyExchange: CodecCase<ClientKeyExchange> = {
  arbitrary: plain(fc.record({ publicKey: buffer(1, 133) })),
  encode: encodeClientKeyExchange,
  decode: decodeClientKeyExchange,
};

const certificateRequest: CodecCase<CertificateRequest12> = {
  arbitrary: plain(
    fc.record({
      certificateTypes: fc.array(u8, { minLength: 1, maxLength: 4 }),
      signatureAlgorithms: fc.array(u16, { minLength: 1, maxLength: 8 }),
      certificateAuthorities: fc.array(buffer(1, 40), { maxLength: 3 }),
    }),
  ),
  encode: encodeCertificateRequest12,
  decode: decodeCertificateRequest12,
};

const certificate: CodecCase<Certificate12> = {
  arbitrary: plain(fc.record({ chain: fc.array(buffer(1, 64), { maxLength: 4 }) })),
  encode: encodeCertificate12,
  decode: decodeCertificate12,
};

const certificateStatus: CodecCase<CertificateStatus12> = {
  arbitrary: plain(fc.record({ ocspResponse: buffer(1, 200) })),
  encode: encodeCertificateStatus12,
  decode: decodeCertificateStatus12,
};

const newSessionTicket: CodecCase<NewSessionTicket12> = {
  arbitrary: plain(fc.record({ lifetimeHintSeconds: u32, ticket: buffer(0, 200) })),
  encode: encodeNewSessionTicket12,
  decode: decodeNewSessionTicket12,
};

describe('TLS 1.2 message codecs: properties (RFC 5246 §7.4, RFC 8422 §5, RFC 6066 §8, RFC 5077 §3.3)', () => {
  allProperties('ServerKeyExchange', serverKeyExchange);
  allProperties('ClientKeyExchange', clientKeyExchange);
  allProperties('CertificateRequest 1.2', certificateRequest);
  allProperties('Certificate 1.2', certificate);
  allProperties('CertificateStatus', certificateStatus);
  allProperties('NewSessionTicket (RFC 5077)', newSessionTicket);
});

describe('TLS 1.2 message codecs: exact bytes and alerts', () => {
  it('lays ServerKeyExchange out as curve_type 3, named_curve, point<1..255>, scheme, signature<0..2^16-1>', () => {
    const bytes = encodeServerKeyExchange({
      params: { namedCurve: 0x001d, publicKey: Buffer.from('aabb', 'hex') },
      algorithm: 0x0403,
      signature: Buffer.from('cc', 'hex'),
    });
    assert.equal(bytes.toString('hex'), '03' + '001d' + '02aabb' + '0403' + '0001cc');
    const content = serverKeyExchangeSignedContent(Buffer.alloc(32, 1), Buffer.alloc(32, 2), {
      namedCurve: 0x001d,
      publicKey: Buffer.from('aabb', 'hex'),
    });
    assert.equal(content.toString('hex'), '01'.repeat(32) + '02'.repeat(32) + '03001d02aabb');
  });

  it('refuses explicit curves (curve_type 1 or 2) in ServerKeyExchange with illegal_parameter (RFC 8422 §5.4)', () => {
    for (const curveType of [1, 2, 0, 255]) {
      assertAlert(
        () => decodeServerKeyExchange(Buffer.from(`${curveType.toString(16).padStart(2, '0')}001d01aa04030000`, 'hex')),
        'illegal_parameter',
      );
    }
  });

  it('refuses an empty point (ECPoint<1..2^8-1>) in either key exchange with decode_error', () => {
    assertAlert(() => decodeServerKeyExchange(Buffer.from('03001d0004030000', 'hex')), 'decode_error');
    assertAlert(() => decodeClientKeyExchange(Buffer.of(0)), 'decode_error');
    assertAlert(() => decodeClientKeyExchange(Buffer.alloc(0)), 'decode_error');
  });

  it('refuses a CertificateRequest with no certificate_types, an empty or odd signature list (decode_error)', () => {
    assertAlert(() => decodeCertificateRequest12(Buffer.from('00' + '00020403' + '0000', 'hex')), 'decode_error');
    assertAlert(() => decodeCertificateRequest12(Buffer.from('0140' + '0000' + '0000', 'hex')), 'decode_error');
    assertAlert(() => decodeCertificateRequest12(Buffer.from('0140' + '000304030804' + '0000', 'hex')), 'decode_error');
    assertAlert(() => decodeCertificateRequest12(Buffer.from('0140' + '00020403' + '00020000', 'hex')), 'decode_error');
    assert.deepEqual(decodeCertificateRequest12(Buffer.from('024001' + '00040403' + '0804' + '0000', 'hex')), {
      certificateTypes: [0x40, 0x01],
      signatureAlgorithms: [0x0403, 0x0804],
      certificateAuthorities: [],
    });
  });

  it('reads an empty client Certificate (certificate_list of length 0) and refuses an empty ASN.1Cert', () => {
    assert.deepEqual(decodeCertificate12(Buffer.from('000000', 'hex')), { chain: [] });
    assertAlert(() => decodeCertificate12(Buffer.from('000003000000', 'hex')), 'decode_error');
  });

  it('refuses a CertificateStatus of another status_type (illegal_parameter) or an empty response (decode_error)', () => {
    assertAlert(() => decodeCertificateStatus12(Buffer.from('0200000101', 'hex')), 'illegal_parameter');
    assertAlert(() => decodeCertificateStatus12(Buffer.from('01000000', 'hex')), 'decode_error');
  });

  it('ServerHelloDone is empty; a byte in it is decode_error', () => {
    assert.equal(encodeServerHelloDone().length, 0);
    decodeServerHelloDone(Buffer.alloc(0));
    assertAlert(() => decodeServerHelloDone(Buffer.of(0)), 'decode_error');
  });

  it('Finished carries exactly 12 bytes of verify_data (RFC 5246 §7.4.9); every other length is decode_error', () => {
    fc.assert(
      fc.property(buffer(0, 60), (body) => {
        if (body.length === 12) assert.ok(decodeFinished12(body).equals(body));
        else assertAlert(() => decodeFinished12(body), 'decode_error');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('TLS 1.2 hello extensions', () => {
  it('extended_master_secret must be empty (RFC 7627 §5.1): one byte is decode_error', () => {
    decodeExtendedMasterSecret(Buffer.alloc(0));
    assertAlert(() => decodeExtendedMasterSecret(Buffer.of(0)), 'decode_error');
  });

  it('renegotiation_info round-trips renegotiated_connection<0..255> and refuses bad lengths', () => {
    fc.assert(
      fc.property(buffer(0, 255), (value) => {
        const encoded = encodeRenegotiationInfo(value);
        assert.ok(decodeRenegotiationInfo(encoded).equals(value));
        assertAlert(() => decodeRenegotiationInfo(encoded.subarray(0, encoded.length - 1)), 'decode_error');
        assertAlert(() => decodeRenegotiationInfo(Buffer.concat([encoded, Buffer.of(0)])), 'decode_error');
      }),
      { numRuns: RUNS },
    );
    assert.equal(encodeRenegotiationInfo(Buffer.alloc(0)).toString('hex'), '00');
    assertAlert(() => decodeRenegotiationInfo(Buffer.alloc(0)), 'decode_error');
  });

  it('ec_point_formats must list uncompressed (illegal_parameter, RFC 8422 §5.1.2) and hold one format at least (decode_error)', () => {
    assert.deepEqual(decodeEcPointFormats(encodeEcPointFormats([0])), [0]);
    assert.deepEqual(decodeEcPointFormats(Buffer.from('03000102', 'hex')), [0, 1, 2]);
    assertAlert(() => decodeEcPointFormats(Buffer.from('0101', 'hex')), 'illegal_parameter');
    assertAlert(() => decodeEcPointFormats(Buffer.from('00', 'hex')), 'decode_error');
    assertAlert(() => decodeEcPointFormats(Buffer.from('020001ff', 'hex')), 'decode_error');
  });
});
