import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExtensionType } from '../../../../src/tls/codec/enums.js';
import {
  checkExtensionsAllowed,
  decodeAlpn,
  decodeCertificateAuthorities,
  decodeClientKeyShares,
  decodeExtensions,
  decodeOfferedPsks,
  decodeOpaque16,
  decodePskModes,
  decodeServerKeyShare,
  decodeServerName,
  decodeSupportedVersions,
  decodeU16,
  decodeU16List,
  encodeAlpn,
  encodeCertificateAuthorities,
  encodeClientKeyShares,
  encodeExtensions,
  encodeOfferedPsks,
  encodeOpaque16,
  encodeServerKeyShare,
  encodeServerName,
  encodeU16,
  encodeU16List,
  expectEmptyExtension,
  findExtension,
  type ExtensionContext,
  type KeyShareEntry,
  type OfferedPsks,
  type RawExtension,
} from '../../../../src/tls/codec/extensions.js';
import { Reader } from '../../../../src/tls/codec/reader.js';
import { Writer } from '../../../../src/tls/codec/writer.js';
import {
  assertAlert,
  buffer,
  checkMutatedInput,
  checkNoStrictPrefix,
  checkRandomInput,
  checkRoundTrip,
  checkTrailingRejected,
  extensionBlock,
  resumed0rtt,
  RUNS,
  simple1rtt,
  traceMessage,
  u16,
  u32,
  u8,
  type CodecCase,
} from './codec-properties.js';
import { decodeClientHello } from '../../../../src/tls/codec/messages/client-hello.js';

/** The four generic properties for one extension codec. */
function codecProperties<T>(name: string, c: CodecCase<T>): void {
  it(`round-trips random ${name} values`, () => checkRoundTrip(c));
  it(`decodes no strict prefix of ${name}`, () => checkNoStrictPrefix(c));
  it(`refuses trailing bytes after ${name} with decode_error`, () => checkTrailingRejected(c));
  it(`answers random bytes as ${name} only with decode_error or illegal_parameter`, () => checkRandomInput(c));
  it(`answers mutated ${name} only with TlsAlertErrors, and re-encodes whatever it accepts`, () => checkMutatedInput(c));
}

const hostChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_*'.split(''));
const hostName = fc.array(hostChar, { minLength: 1, maxLength: 64 }).map((cs) => cs.join(''));
const latin1Name = fc.uint8Array({ minLength: 1, maxLength: 24 }).map((a) => Buffer.from(a).toString('latin1'));

/** The ClientHello of RFC 8448 §3, for its extension bodies. */
const rfcHello = decodeClientHello(traceMessage(simple1rtt, '{client}  construct a ClientHello handshake message', 'ClientHello').body);
function rfcExtension(type: number): Buffer {
  const data = findExtension(rfcHello.extensions, type);
  assert.ok(data !== undefined, `RFC 8448 ClientHello carries extension ${type}`);
  return data;
}

function decodeBlock(bytes: Buffer, min = 0): RawExtension[] {
  const r = Reader.of(bytes);
  const out = decodeExtensions(r, min, 'test');
  r.expectEmpty('test');
  return out;
}

function encodeBlock(extensions: readonly RawExtension[]): Buffer {
  const w = new Writer();
  encodeExtensions(w, extensions);
  return w.finish();
}

describe('Extension block codec (RFC 8446 §4.2)', () => {
  codecProperties('extension blocks', { arbitrary: extensionBlock({ maxLength: 8 }), encode: encodeBlock, decode: (b) => decodeBlock(b) });

  it('sends illegal_parameter for two extensions of one type wherever they sit (§4.2)', () => {
    fc.assert(
      fc.property(extensionBlock({ minLength: 1, maxLength: 6 }), fc.nat(), fc.nat(), buffer(0, 8), (block, pick, at, data) => {
        const type = block[pick % block.length]!.type;
        const extensions = [...block];
        extensions.splice(at % (extensions.length + 1), 0, { type, data });
        assertAlert(() => decodeBlock(encodeBlock(extensions)), 'illegal_parameter');
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps unknown extension types as plain numbers (GREASE 0x0a0a, 0xfafa)', () => {
    const block = decodeBlock(
      encodeBlock([
        { type: 0x0a0a, data: Buffer.alloc(0) },
        { type: 0xfafa, data: Buffer.of(0) },
      ]),
    );
    assert.deepEqual(
      block.map((e) => e.type),
      [0x0a0a, 0xfafa],
    );
  });

  it('honours a minimum block length (CertificateRequest: <2..2^16-1>)', () => {
    assertAlert(() => decodeBlock(Buffer.of(0, 0), 2), 'decode_error');
  });
});

describe('Which extensions a message may carry (RFC 8446 §4.2 table)', () => {
  const cases: readonly [ExtensionContext, number, boolean][] = [
    ['server_hello', ExtensionType.key_share, true],
    ['server_hello', ExtensionType.supported_versions, true],
    ['server_hello', ExtensionType.pre_shared_key, true],
    ['server_hello', ExtensionType.application_layer_protocol_negotiation, false],
    ['server_hello', ExtensionType.server_name, false],
    ['hello_retry_request', ExtensionType.cookie, true],
    ['hello_retry_request', ExtensionType.pre_shared_key, false],
    ['encrypted_extensions', ExtensionType.application_layer_protocol_negotiation, true],
    ['encrypted_extensions', ExtensionType.key_share, false],
    ['encrypted_extensions', ExtensionType.supported_versions, false],
    ['encrypted_extensions', ExtensionType.signature_algorithms, false],
    ['certificate_request', ExtensionType.signature_algorithms, true],
    ['certificate_request', ExtensionType.certificate_authorities, true],
    ['certificate_request', ExtensionType.key_share, false],
    ['certificate', ExtensionType.status_request, true],
    ['certificate', ExtensionType.server_name, false],
    ['new_session_ticket', ExtensionType.early_data, true],
    ['new_session_ticket', ExtensionType.key_share, false],
  ];
  for (const [context, type, isAllowed] of cases) {
    it(`${isAllowed ? 'allows' : 'sends illegal_parameter for'} extension ${type} in ${context}`, () => {
      const check = (): void => checkExtensionsAllowed([{ type, data: Buffer.alloc(0) }], context);
      if (isAllowed) check();
      else assertAlert(check, 'illegal_parameter');
    });
  }

  it('ignores unknown extension types when nothing was offered (§4.2: unknown extensions are ignored)', () => {
    checkExtensionsAllowed([{ type: 0xfafa, data: Buffer.alloc(0) }], 'encrypted_extensions');
  });

  it('sends unsupported_extension for a response extension the client did not offer, known or not (§4.2)', () => {
    const offered = new Set<number>([ExtensionType.key_share, ExtensionType.supported_versions]);
    assertAlert(
      () => checkExtensionsAllowed([{ type: ExtensionType.pre_shared_key, data: Buffer.alloc(2) }], 'server_hello', offered),
      'unsupported_extension',
    );
    assertAlert(
      () => checkExtensionsAllowed([{ type: 0xfafa, data: Buffer.alloc(0) }], 'encrypted_extensions', offered),
      'unsupported_extension',
    );
  });

  it('lets a HelloRetryRequest carry a cookie nobody offered (§4.2.2)', () => {
    checkExtensionsAllowed(
      [{ type: ExtensionType.cookie, data: Buffer.of(0, 1, 9) }],
      'hello_retry_request',
      new Set([ExtensionType.key_share]),
    );
  });
});

describe('supported_groups / signature_algorithms lists (RFC 8446 §4.2.3, §4.2.7)', () => {
  codecProperties('u16 lists', {
    arbitrary: fc.array(u16, { minLength: 1, maxLength: 40 }),
    encode: encodeU16List,
    decode: (b) => decodeU16List(b, 'list', 2),
  });

  it('reads RFC 8448 §3 supported_groups and signature_algorithms', () => {
    assert.deepEqual(
      decodeU16List(rfcExtension(ExtensionType.supported_groups), 'supported_groups', 2),
      [0x1d, 0x17, 0x18, 0x19, 0x100, 0x101, 0x102, 0x103, 0x104],
    );
    assert.equal(decodeU16List(rfcExtension(ExtensionType.signature_algorithms), 'signature_algorithms', 2).length, 15);
  });

  it('sends decode_error for an odd byte count or an empty list', () => {
    assertAlert(() => decodeU16List(Buffer.of(0, 3, 0, 1, 2), 'list', 2), 'decode_error');
    assertAlert(() => decodeU16List(Buffer.of(0, 0), 'list', 2), 'decode_error');
  });
});

describe('server_name (RFC 6066 §3)', () => {
  codecProperties('server_name', {
    arbitrary: hostName,
    encode: encodeServerName,
    decode: (b) => decodeServerName(b) ?? '',
    // Entries of other name types are skipped, so such input does not re-encode the same.
    isNonCanonical: (bytes, host) => host === '' || encodeServerName(host).length !== bytes.length,
  });

  it('reads "server" from RFC 8448 §3 ClientHello', () => {
    assert.equal(decodeServerName(rfcExtension(ExtensionType.server_name)), 'server');
  });

  it('sends illegal_parameter for two host_name entries', () => {
    const one = encodeServerName('a.example').subarray(2);
    const list = Buffer.concat([Buffer.of(0, one.length * 2), one, one]);
    assertAlert(() => decodeServerName(list), 'illegal_parameter');
  });

  it('sends illegal_parameter for a host name with control or non-ASCII bytes', () => {
    for (const bad of ['a\x00b', 'host\n', 'caf\xe9', 'a b'])
      assertAlert(() => decodeServerName(encodeServerName(bad)), 'illegal_parameter', JSON.stringify(bad));
  });

  it('skips entries of an unknown name_type', () => {
    const other = Buffer.of(7, 0, 1, 0x61);
    assert.equal(decodeServerName(Buffer.concat([Buffer.of(0, other.length), other])), undefined);
  });

  it('sends decode_error for an empty list or an empty HostName', () => {
    assertAlert(() => decodeServerName(Buffer.of(0, 0)), 'decode_error');
    assertAlert(() => decodeServerName(Buffer.of(0, 3, 0, 0, 0)), 'decode_error');
  });
});

describe('application_layer_protocol_negotiation (RFC 7301 §3.1)', () => {
  codecProperties('ALPN lists', {
    arbitrary: fc.array(latin1Name, { minLength: 1, maxLength: 6 }),
    encode: encodeAlpn,
    decode: decodeAlpn,
  });

  it('encodes ["h2", "http/1.1"] as RFC 7301 shows it', () => {
    assert.equal(encodeAlpn(['h2', 'http/1.1']).toString('hex'), '000c' + '026832' + '08' + Buffer.from('http/1.1').toString('hex'));
  });

  it('sends decode_error for an empty list or an empty protocol name', () => {
    assertAlert(() => decodeAlpn(Buffer.of(0, 0)), 'decode_error');
    assertAlert(() => decodeAlpn(Buffer.of(0, 2, 0, 0)), 'decode_error');
  });
});

const keyShares: fc.Arbitrary<KeyShareEntry[]> = fc
  .uniqueArray(fc.record({ group: u16, keyExchange: buffer(1, 70) }), { selector: (e) => e.group, maxLength: 4 })
  .map((list) => list.map((e) => ({ group: e.group, keyExchange: e.keyExchange })));

describe('key_share (RFC 8446 §4.2.8)', () => {
  codecProperties('ClientHello key shares', { arbitrary: keyShares, encode: encodeClientKeyShares, decode: decodeClientKeyShares });
  codecProperties('the ServerHello key share', {
    arbitrary: fc.record({ group: u16, keyExchange: buffer(1, 100) }).map((e) => ({ group: e.group, keyExchange: e.keyExchange })),
    encode: encodeServerKeyShare,
    decode: decodeServerKeyShare,
  });

  it('reads the x25519 share of RFC 8448 §3 ClientHello', () => {
    const [share, ...rest] = decodeClientKeyShares(rfcExtension(ExtensionType.key_share));
    assert.equal(rest.length, 0);
    assert.equal(share!.group, 0x001d);
    assert.equal(share!.keyExchange.toString('hex'), '99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c');
  });

  it('accepts an empty client_shares list (a client may wait for HelloRetryRequest)', () => {
    assert.deepEqual(decodeClientKeyShares(Buffer.of(0, 0)), []);
  });

  it('sends illegal_parameter for two shares of one group (§4.2.8)', () => {
    fc.assert(
      fc.property(
        keyShares.filter((l) => l.length > 0),
        buffer(1, 40),
        (list, key) => {
          const dup = [...list, { group: list[0]!.group, keyExchange: key }];
          assertAlert(() => decodeClientKeyShares(encodeClientKeyShares(dup)), 'illegal_parameter');
        },
      ),
      { numRuns: RUNS / 2 },
    );
  });

  it('sends decode_error for an empty key_exchange (§4.2.8: <1..2^16-1>)', () => {
    assertAlert(() => decodeServerKeyShare(Buffer.of(0, 0x1d, 0, 0)), 'decode_error');
  });
});

describe('single u16 bodies: selected_version, selected_identity, HRR selected_group', () => {
  codecProperties('u16 bodies', { arbitrary: u16, encode: encodeU16, decode: (b) => decodeU16(b, 'u16') });
});

function encodeSupportedVersions(versions: readonly number[]): Buffer {
  return Buffer.concat([Buffer.of(versions.length * 2), encodeU16List(versions).subarray(2)]);
}

describe('supported_versions in ClientHello (RFC 8446 §4.2.1)', () => {
  codecProperties('supported_versions', {
    arbitrary: fc.array(u16, { minLength: 1, maxLength: 127 }),
    encode: encodeSupportedVersions,
    decode: decodeSupportedVersions,
  });

  it('reads [TLS 1.3] from RFC 8448 §3 ClientHello', () => {
    assert.deepEqual(decodeSupportedVersions(rfcExtension(ExtensionType.supported_versions)), [0x0304]);
  });

  it('sends decode_error for an odd or empty list (§4.2.1: <2..254>)', () => {
    assertAlert(() => decodeSupportedVersions(Buffer.of(3, 3, 4, 3)), 'decode_error');
    assertAlert(() => decodeSupportedVersions(Buffer.of(0)), 'decode_error');
  });
});

describe('opaque<1..2^16-1> bodies: cookie (RFC 8446 §4.2.2)', () => {
  codecProperties('cookies', { arbitrary: buffer(1, 200), encode: encodeOpaque16, decode: (b) => decodeOpaque16(b, 'cookie') });

  it('sends decode_error for an empty cookie', () => {
    assertAlert(() => decodeOpaque16(Buffer.of(0, 0), 'cookie'), 'decode_error');
  });
});

describe('psk_key_exchange_modes (RFC 8446 §4.2.9)', () => {
  codecProperties('psk_key_exchange_modes', {
    arbitrary: fc.array(u8, { minLength: 1, maxLength: 20 }),
    encode: (modes) => Buffer.from([modes.length, ...modes]),
    decode: decodePskModes,
  });

  it('reads [psk_dhe_ke] from RFC 8448 §3 ClientHello', () => {
    assert.deepEqual(decodePskModes(rfcExtension(ExtensionType.psk_key_exchange_modes)), [1]);
  });
});

const offeredPsks: fc.Arbitrary<OfferedPsks> = fc
  .array(fc.record({ identity: buffer(1, 40), obfuscatedTicketAge: u32, binder: buffer(32, 48) }), { minLength: 1, maxLength: 3 })
  .map((list) => ({
    identities: list.map((p) => ({ identity: p.identity, obfuscatedTicketAge: p.obfuscatedTicketAge })),
    binders: list.map((p) => p.binder),
    bindersLength: 2 + list.reduce((n, p) => n + 1 + p.binder.length, 0),
  }));

describe('pre_shared_key in ClientHello (RFC 8446 §4.2.11)', () => {
  codecProperties('offered PSKs', {
    arbitrary: offeredPsks,
    encode: (p) => encodeOfferedPsks(p.identities, p.binders),
    decode: decodeOfferedPsks,
  });

  it('reads RFC 8448 §4 offer: one ticket identity and one 32-byte binder, binders list 35 bytes', () => {
    const hello = decodeClientHello(traceMessage(resumed0rtt, '{client}  send handshake record', 'payload').body);
    const psks = decodeOfferedPsks(findExtension(hello.extensions, ExtensionType.pre_shared_key)!);
    assert.equal(psks.identities.length, 1);
    assert.equal(psks.identities[0]!.identity.length, 0xb2);
    assert.equal(psks.identities[0]!.obfuscatedTicketAge, 0xfad6aacb);
    assert.equal(psks.binders[0]!.length, 32);
    assert.equal(psks.bindersLength, 35);
  });

  it('sends illegal_parameter when binders and identities differ in number (§4.2.11)', () => {
    fc.assert(
      fc.property(offeredPsks, buffer(32, 32), (p, extra) => {
        assertAlert(() => decodeOfferedPsks(encodeOfferedPsks(p.identities, [...p.binders, extra])), 'illegal_parameter');
      }),
      { numRuns: RUNS / 2 },
    );
  });

  it('sends decode_error for a binder under 32 bytes (§4.2.11: PskBinderEntry<32..255>)', () => {
    const identity = { identity: Buffer.of(1), obfuscatedTicketAge: 0 };
    assertAlert(() => decodeOfferedPsks(encodeOfferedPsks([identity], [Buffer.alloc(31)])), 'decode_error');
  });
});

describe('certificate_authorities (RFC 8446 §4.2.4)', () => {
  codecProperties('certificate_authorities', {
    arbitrary: fc.array(buffer(1, 60), { minLength: 1, maxLength: 4 }),
    encode: encodeCertificateAuthorities,
    decode: decodeCertificateAuthorities,
  });
});

describe('empty extension bodies (early_data in ClientHello, server_name acknowledgement)', () => {
  it('accepts an empty body and sends decode_error for any byte in it', () => {
    expectEmptyExtension(Buffer.alloc(0), 'early_data');
    fc.assert(
      fc.property(buffer(1, 10), (b) => assertAlert(() => expectEmptyExtension(b, 'early_data'), 'decode_error')),
      { numRuns: RUNS / 4 },
    );
  });
});
