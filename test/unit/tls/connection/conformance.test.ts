import { describe, it } from 'node:test';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import assert from 'node:assert/strict';
import type { AlertName } from '../../../../src/tls/alert.js';
import { ContentType, ExtensionType, HandshakeType, NamedGroup, SignatureScheme } from '../../../../src/tls/codec/enums.js';
import {
  decodeClientKeyShares,
  decodeOfferedPsks,
  decodeServerKeyShare,
  encodeClientKeyShares,
  encodeOfferedPsks,
  encodeServerKeyShare,
  encodeU16List,
  findExtension,
} from '../../../../src/tls/codec/extensions.js';
import { decodeEncryptedExtensions } from '../../../../src/tls/codec/messages/encrypted-extensions.js';
import { decodeClientHello, encodeClientHello } from '../../../../src/tls/codec/messages/client-hello.js';
import { decodeServerHello, encodeServerHello, isHelloRetryRequest } from '../../../../src/tls/codec/messages/server-hello.js';
import { suiteInfo } from '../../../../src/tls/crypto/suites.js';
import type { GroupName } from '../../../../src/tls/options.js';
import { Protector } from '../../../../src/tls/record/protector.js';
import {
  frame,
  handshakeMessages,
  makeRecord,
  onFlight,
  other,
  rewriteClientHello,
  splitRecords,
  TlsPair,
  type Side,
  type WireRecord,
} from '../../../fakes/tls-pair.js';

/**
 * TLS 1.3 conformance points (legacy_version, empty records, large
 * ClientHellos, every group) and the fragment budget, through two engine Connections joined in memory
 * (test/fakes/tls-pair.ts). Each negative test is named after its alert and
 * checks the one-alert rule: the failing side sends exactly one fatal alert,
 * the peer sends none back.
 */

function assertAlertSent(pair: TlsPair, sender: Side, alert: AlertName): void {
  const error = pair.errors[sender];
  assert.ok(
    error !== undefined,
    `${sender} raised no error; client: ${pair.errors.client?.message}, server: ${pair.errors.server?.message}`,
  );
  assert.equal(error.alert, alert, `${sender}: ${error.message}`);
  assert.equal(error.isRemote, false);
  assert.deepEqual(pair.alertsSent(sender), [alert], `${sender} sends exactly one alert`);
  assert.deepEqual(pair.alertsSent(other(sender)), [], `${other(sender)} sends no alert in reply`);
  assert.equal(pair.connection(sender).isClosed, true);
}

/** The first message of the server's first flight. */
function firstServerHello(pair: TlsPair): ReturnType<typeof decodeServerHello> {
  const [hello] = handshakeMessages(pair.sent.server[0]!.content!);
  assert.equal(hello?.type, HandshakeType.server_hello);
  return decodeServerHello(hello.body);
}

/** A ClientHello too big for one record, cut into records of at most 2^14 bytes (RFC 8446 §5.1). */
function asRecords(message: Buffer, size = 2 ** 14): Buffer {
  const records: Buffer[] = [];
  for (let at = 0; at < message.length; at += size)
    records.push(makeRecord(ContentType.handshake, message.subarray(at, at + size), 0x0301));
  return Buffer.concat(records);
}

describe('ClientHello.legacy_version (RFC 8446 §4.1.2, Appendix D.5)', () => {
  for (const version of [0x0000, 0x0102, 0x0200, 0x0300]) {
    const name = `0x${version.toString(16).padStart(4, '0')}`;
    it(`sends protocol_version for legacy_version ${name} even though supported_versions offers TLS 1.3 (RFC 8446 §4.1.2, D.5)`, () => {
      const pair = new TlsPair({
        tamper: onFlight('client-to-server', 0, (bytes) => rewriteClientHello(bytes, (h) => ({ ...h, legacyVersion: version }))),
      });
      pair.pump();
      assertAlertSent(pair, 'server', 'protocol_version');
      assert.equal(pair.errors.client?.alert, 'protocol_version');
      assert.equal(pair.errors.client?.isRemote, true);
    });
  }

  it('answers legacy_version 0x0301 (TLS 1.0, tolerated as OpenSSL does) with a ServerHello: supported_versions decides (§4.2.1)', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 0, (bytes) => rewriteClientHello(bytes, (h) => ({ ...h, legacyVersion: 0x0301 }))),
    });
    pair.pump();
    assert.equal(isHelloRetryRequest(firstServerHello(pair)), false);
    // The server hashed the edited ClientHello, the client its own: only the client fails, later, on the keys.
    assert.notEqual(pair.errors.server?.isRemote, false);
  });
});

describe('ServerHello.legacy_version on our client (RFC 8446 §4.1.3, Appendix D.5)', () => {
  for (const version of [0x0300, 0x0301, 0x0304]) {
    it(`sends protocol_version for a ServerHello with legacy_version 0x${version.toString(16).padStart(4, '0')} (§4.1.3: it MUST be 0x0303)`, () => {
      const pair = new TlsPair({
        tamper: onFlight('server-to-client', 0, (_bytes, records) => {
          const [first, ...rest] = records;
          const content = Buffer.from(first!.content!);
          content.writeUInt16BE(version, 4);
          return Buffer.concat([makeRecord(ContentType.handshake, content), ...rest.map((r) => r.raw)]);
        }),
      });
      pair.pump();
      assertAlertSent(pair, 'client', 'protocol_version');
    });
  }
});

describe('Empty Handshake and Alert records (RFC 8446 §5.1, §5.4)', () => {
  const replaceFirstProtected =
    (content: (r: WireRecord) => Buffer) =>
    (_bytes: Buffer, records: readonly WireRecord[]): Buffer => {
      const at = records.findIndex((r) => r.isProtected);
      return Buffer.concat(records.map((r, i) => (i === at ? content(r) : r.raw)));
    };

  it('sends unexpected_message for a zero-length plaintext alert record (§5.4)', () => {
    const pair = new TlsPair();
    pair.deliver('client-to-server', makeRecord(ContentType.alert, Buffer.alloc(0)));
    pair.pump();
    assertAlertSent(pair, 'server', 'unexpected_message');
  });

  for (const padding of [0, 1, 100]) {
    it(`sends unexpected_message for an empty alert under the handshake keys, padding ${padding} (§5.4)`, () => {
      const pair = new TlsPair({
        tamper: onFlight(
          'client-to-server',
          1,
          replaceFirstProtected((r) => r.reseal(ContentType.alert, Buffer.alloc(0), padding)),
        ),
      });
      pair.pump();
      assertAlertSent(pair, 'server', 'unexpected_message');
    });

    it(`sends unexpected_message for an empty alert under the application keys, padding ${padding}, to the server and to the client (§5.4)`, () => {
      for (const direction of ['client-to-server', 'server-to-client'] as const) {
        const pair = new TlsPair().handshake();
        pair.deliver(direction, pair.forge(direction, ContentType.alert, Buffer.alloc(0), padding));
        pair.pump();
        assertAlertSent(pair, direction === 'client-to-server' ? 'server' : 'client', 'unexpected_message');
      }
    });

    it(`sends unexpected_message for an empty handshake record under the application keys, padding ${padding} (§5.1, §5.4)`, () => {
      const pair = new TlsPair().handshake();
      pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.handshake, Buffer.alloc(0), padding));
      pair.pump();
      assertAlertSent(pair, 'server', 'unexpected_message');
    });
  }

  it('sends unexpected_message for an empty handshake record under the handshake keys with padding (§5.4)', () => {
    const pair = new TlsPair({
      tamper: onFlight(
        'client-to-server',
        1,
        replaceFirstProtected((r) => r.reseal(ContentType.handshake, Buffer.alloc(0), 32)),
      ),
    });
    pair.pump();
    assertAlertSent(pair, 'server', 'unexpected_message');
  });

  it('still takes zero-length application data, padded or not (§5.1: it MAY be sent)', () => {
    const pair = new TlsPair().handshake();
    pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.application_data, Buffer.alloc(0)));
    pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.application_data, Buffer.alloc(0), 50));
    pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.application_data, Buffer.from('after')));
    assert.equal(pair.received('server').toString(), 'after');
    assert.deepEqual(pair.failures, []);
  });

  it('keeps decode_error for an alert record of one or three bytes (§6: an alert is two bytes)', () => {
    for (const content of [Buffer.of(2), Buffer.of(2, 40, 0)]) {
      const pair = new TlsPair().handshake();
      pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.alert, content));
      pair.pump();
      assertAlertSent(pair, 'server', 'decode_error');
    }
  });
});

describe('Large ClientHello (RFC 8446 §4.1.2; OpenSSL accepts up to 131,396 bytes)', () => {
  it('answers a 65.5 KB ClientHello with 32,715 signature schemes, in 2^14-byte records, with a ServerHello', () => {
    let size = 0;
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 0, (bytes) => {
        const [record] = splitRecords(bytes);
        const [original] = handshakeMessages(record!.subarray(5));
        const h = decodeClientHello(original!.body);
        // 32,713 unassigned code points, then two the server can sign with, last: the server must read to the end.
        const schemes = [
          ...Array.from({ length: 32_713 }, (_, i) => 0xfe00 - i),
          SignatureScheme.rsa_pss_rsae_sha256,
          SignatureScheme.ecdsa_secp256r1_sha256,
        ];
        // Room for the list: signature_algorithms_cert and server_name go (the extensions block holds 2^16-1 bytes).
        const extensions = h.extensions
          .filter((e) => e.type !== ExtensionType.signature_algorithms_cert && e.type !== ExtensionType.server_name)
          .map((e) => (e.type === ExtensionType.signature_algorithms ? { type: e.type, data: encodeU16List(schemes) } : e));
        const message = frame(HandshakeType.client_hello, encodeClientHello({ ...h, extensions }));
        size = message.length;
        return asRecords(message);
      }),
    });
    pair.pump();
    assert.ok(size > 65_500, `ClientHello of ${size} bytes`);
    assert.equal(pair.errors.server?.isRemote ?? true, true, pair.errors.server?.message);
    assert.equal(isHelloRetryRequest(firstServerHello(pair)), false);
    assert.ok(
      pair.sent.server.some((r) => r.isProtected && r.type === ContentType.handshake),
      'the server sent its encrypted flight',
    );
  });

  it('answers a ClientHello filled to the brim (32,767 cipher suites, a 2^16-1-byte extensions block: 131,142 bytes) with a ServerHello', () => {
    let size = 0;
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 0, (bytes) => {
        const [record] = splitRecords(bytes);
        const [original] = handshakeMessages(record!.subarray(5));
        const h = decodeClientHello(original!.body);
        // 32,762 code points from 0x2000 up (no TLS 1.3 suite among them), then the five TLS 1.3 suites last: 32,767 suites, 0xfffe bytes.
        const cipherSuites = [...Array.from({ length: 32_762 }, (_, i) => 0x2000 + i), 0x1301, 0x1302, 0x1303, 0x1304, 0x1305];
        const used = h.extensions.reduce((n, e) => n + 4 + e.data.length, 0);
        // padding (RFC 7685) fills the extensions block to 2^16-1 bytes; it goes before pre_shared_key, which we do not send.
        const extensions = [...h.extensions, { type: ExtensionType.padding, data: Buffer.alloc(0xffff - used - 4) }];
        const message = frame(
          HandshakeType.client_hello,
          encodeClientHello({ ...h, legacySessionId: Buffer.alloc(32, 9), cipherSuites, extensions }),
        );
        size = message.length - 4;
        return asRecords(message);
      }),
    });
    pair.pump();
    assert.equal(size, 131_142);
    assert.equal(pair.errors.server?.isRemote ?? true, true, pair.errors.server?.message);
    assert.equal(isHelloRetryRequest(firstServerHello(pair)), false);
  });
});

describe('PSK identities tried per ClientHello (RFC 8446 §4.2.11; Go: maxClientPSKIdentities = 5)', () => {
  /** Puts the real ticket at `index` among junk identities; binders stay as the client made them, so a tried ticket fails its binder. */
  function withTicketAt(index: number) {
    return onFlight('client-to-server', 0, (bytes) =>
      rewriteClientHello(bytes, (h) => ({
        ...h,
        extensions: h.extensions.map((e) => {
          if (e.type !== ExtensionType.pre_shared_key) return e;
          const offered = decodeOfferedPsks(e.data);
          const real = offered.identities[0]!;
          const junk = { identity: Buffer.alloc(real.identity.length, 0x6a), obfuscatedTicketAge: 0 };
          const identities = Array.from({ length: index + 1 }, (_, i) => (i === index ? real : junk));
          return {
            type: e.type,
            data: encodeOfferedPsks(
              identities,
              identities.map(() => offered.binders[0]!),
            ),
          };
        }),
      })),
    );
  }

  it('tries a ticket at index 4 (its binder, computed for another ClientHello, fails: decrypt_error, §4.2.11.2)', () => {
    const first = new TlsPair().handshake();
    const pair = new TlsPair({ serverConfig: first.serverConfig, session: first.session(), tamper: withTicketAt(4) });
    pair.pump();
    assertAlertSent(pair, 'server', 'decrypt_error');
  });

  it('does not try a ticket at index 5: a full handshake, no pre_shared_key in ServerHello', () => {
    const first = new TlsPair().handshake();
    const pair = new TlsPair({ serverConfig: first.serverConfig, session: first.session(), tamper: withTicketAt(5) });
    pair.pump();
    const hello = firstServerHello(pair);
    assert.equal(
      hello.extensions.some((e) => e.type === ExtensionType.pre_shared_key),
      false,
    );
    assert.notEqual(pair.errors.server?.isRemote, false, pair.errors.server?.message);
  });
});

describe('Key-exchange groups (RFC 8446 §4.2.7, §4.2.8; RFC 7919)', () => {
  const all: readonly GroupName[] = ['x25519', 'secp256r1', 'x448', 'secp384r1', 'secp521r1', 'ffdhe2048', 'ffdhe3072', 'ffdhe4096'];
  for (const group of all) {
    it(`completes over ${group} when the client offers only it`, () => {
      const pair = new TlsPair({ client: { groups: [group] } }).handshake();
      assert.equal(pair.results.server?.group, NamedGroup[group]);
      assert.equal(pair.results.client?.group, NamedGroup[group]);
      assert.equal(isHelloRetryRequest(firstServerHello(pair)), false);
      pair.write('client', `over ${group}`);
      pair.pump();
      assert.equal(pair.received('server').toString(), `over ${group}`);
    });
  }

  for (const group of ['ffdhe6144', 'ffdhe8192'] as const) {
    it(`completes over ${group} (RFC 7919 Appendix A) when the server enables it; it is not in the default list`, () => {
      const refused = new TlsPair({ client: { groups: [group] } });
      refused.pump();
      assertAlertSent(refused, 'server', 'handshake_failure');
      const pair = new TlsPair({ client: { groups: [group] }, server: { groups: ['x25519', group] } }).handshake();
      assert.equal(pair.results.server?.group, NamedGroup[group]);
      assert.equal(pair.results.client?.group, NamedGroup[group]);
      pair.write('client', `over ${group}`);
      pair.pump();
      assert.equal(pair.received('server').toString(), `over ${group}`);
    });
  }

  it("lists the server's groups, in its order, in EncryptedExtensions (§4.2.7); no record_size_limit when the client sent none", () => {
    const pair = new TlsPair({ server: { groups: ['secp256r1', 'x25519', 'ffdhe8192'] } }).handshake();
    const ee = pair.sent.server
      .flatMap((r) => (r.type === ContentType.handshake && r.content !== undefined ? handshakeMessages(r.content) : []))
      .find((m) => m.type === HandshakeType.encrypted_extensions);
    assert.ok(ee !== undefined);
    const extensions = decodeEncryptedExtensions(ee.body);
    assert.deepEqual(
      findExtension(extensions, ExtensionType.supported_groups),
      encodeU16List([NamedGroup.secp256r1, NamedGroup.x25519, NamedGroup.ffdhe8192]),
    );
    assert.equal(findExtension(extensions, ExtensionType.record_size_limit), undefined);
    // Our client takes it without acting on it (§4.2.7): the handshake is done over the share it sent.
    assert.equal(pair.results.client?.group, NamedGroup.x25519);
  });

  for (const [client, expected] of [
    [['x448', 'x25519'], 'x25519'],
    [['secp521r1', 'secp256r1'], 'secp256r1'],
    [['ffdhe2048', 'x25519'], 'x25519'],
  ] as const) {
    it(`sends a HelloRetryRequest for ${expected} when the client's share is ${client[0]} but it lists ${expected} (the server prefers fast groups, §4.1.4)`, () => {
      const pair = new TlsPair({ client: { groups: [...client] } }).handshake();
      const hrr = firstServerHello(pair);
      assert.equal(isHelloRetryRequest(hrr), true);
      assert.equal(pair.results.server?.group, NamedGroup[expected]);
    });
  }

  it('takes the client’s ffdhe2048 share without a retry when the client lists no fast group (FFDHE only when nothing else is shared)', () => {
    const pair = new TlsPair({ client: { groups: ['ffdhe2048', 'secp521r1'] } }).handshake();
    assert.equal(isHelloRetryRequest(firstServerHello(pair)), false);
    assert.equal(pair.results.server?.group, NamedGroup.ffdhe2048);
  });

  it('sends a HelloRetryRequest for ffdhe3072 when the server allows only it, and our client follows (§4.1.4)', () => {
    const pair = new TlsPair({ client: { groups: ['x25519', 'ffdhe3072'] }, server: { groups: ['ffdhe3072'] } }).handshake();
    assert.equal(isHelloRetryRequest(firstServerHello(pair)), true);
    assert.equal(pair.results.client?.group, NamedGroup.ffdhe3072);
  });

  it('makes our client follow a HelloRetryRequest to x448 and to secp521r1 with its default groups (§4.1.4)', () => {
    for (const group of ['x448', 'secp521r1'] as const) {
      const pair = new TlsPair({ server: { groups: [group] } }).handshake();
      assert.equal(isHelloRetryRequest(firstServerHello(pair)), true);
      assert.equal(pair.results.client?.group, NamedGroup[group]);
    }
  });

  it('sends handshake_failure when the client lists only FFDHE and the server allows none (§4.2.7)', () => {
    const pair = new TlsPair({ client: { groups: ['ffdhe2048'] }, server: { groups: ['x25519', 'secp256r1'] } });
    pair.pump();
    assertAlertSent(pair, 'server', 'handshake_failure');
  });
});

/** Replaces the key_exchange of the client's only share. */
function withClientShare(bad: (good: Buffer) => Buffer) {
  return onFlight('client-to-server', 0, (bytes) =>
    rewriteClientHello(bytes, (h) => ({
      ...h,
      extensions: h.extensions.map((e) => {
        if (e.type !== ExtensionType.key_share) return e;
        const [share] = decodeClientKeyShares(e.data);
        return { type: e.type, data: encodeClientKeyShares([{ group: share!.group, keyExchange: bad(share!.keyExchange) }]) };
      }),
    })),
  );
}

const malformedShares: readonly { group: GroupName; what: string; bad: (good: Buffer) => Buffer }[] = [
  { group: 'secp256r1', what: 'the point at infinity', bad: () => Buffer.of(0) },
  { group: 'secp384r1', what: 'an off-curve point', bad: (g) => Buffer.concat([g.subarray(0, -1), Buffer.of(g.at(-1)! ^ 1)]) },
  { group: 'secp521r1', what: 'the point at infinity', bad: () => Buffer.of(0) },
  { group: 'secp521r1', what: 'an off-curve point', bad: (g) => Buffer.concat([g.subarray(0, -1), Buffer.of(g.at(-1)! ^ 1)]) },
  { group: 'secp521r1', what: 'a point one byte short', bad: (g) => g.subarray(0, -1) },
  { group: 'secp521r1', what: 'a compressed point', bad: (g) => Buffer.concat([Buffer.of(2 + (g.at(-1)! & 1)), g.subarray(1, 67)]) },
  { group: 'x448', what: 'u = 0 (all-zero shared secret)', bad: () => Buffer.alloc(56) },
  { group: 'x448', what: 'a 55-byte share', bad: (g) => g.subarray(1) },
  { group: 'ffdhe2048', what: 'Y = 1', bad: (g) => Buffer.concat([Buffer.alloc(g.length - 1), Buffer.of(1)]) },
  { group: 'ffdhe2048', what: 'Y = p - 1', bad: () => Buffer.from(Buffer.alloc(256, 0xff).fill(0xfe, 255)) },
  { group: 'ffdhe2048', what: 'a share without its zero padding', bad: () => Buffer.of(2) },
  { group: 'ffdhe4096', what: 'Y = 0', bad: (g) => Buffer.alloc(g.length) },
];

describe('Malformed key shares (RFC 8446 §4.2.8.1-§4.2.8.2, §7.4; RFC 7919 §5.1)', () => {
  for (const { group, what, bad } of malformedShares) {
    it(`sends illegal_parameter for a ${group} share that is ${what}`, () => {
      const pair = new TlsPair({ client: { groups: [group] }, tamper: withClientShare(bad) });
      pair.pump();
      assertAlertSent(pair, 'server', 'illegal_parameter');
    });
  }

  it('makes our client send illegal_parameter for an off-curve secp521r1 and a Y = p - 1 ffdhe2048 ServerHello share', () => {
    const cases: readonly [GroupName, (good: Buffer) => Buffer][] = [
      ['secp521r1', (g) => Buffer.concat([g.subarray(0, -1), Buffer.of(g.at(-1)! ^ 1)])],
      ['ffdhe2048', () => Buffer.alloc(256, 0xff).fill(0xfe, 255)],
    ];
    for (const [group, bad] of cases) {
      const pair = new TlsPair({
        client: { groups: [group] },
        tamper: onFlight('server-to-client', 0, (_bytes, records) => {
          const [first, ...rest] = records;
          const [message] = handshakeMessages(first!.content!);
          const hello = decodeServerHello(message!.body);
          const extensions = hello.extensions.map((e) => {
            if (e.type !== ExtensionType.key_share) return e;
            const share = decodeServerKeyShare(e.data);
            return { type: e.type, data: encodeServerKeyShare({ group: share.group, keyExchange: bad(share.keyExchange) }) };
          });
          return Buffer.concat([
            makeRecord(ContentType.handshake, frame(HandshakeType.server_hello, encodeServerHello({ ...hello, extensions }))),
            ...rest.map((r) => r.raw),
          ]);
        }),
      });
      pair.pump();
      assertAlertSent(pair, 'client', 'illegal_parameter');
    }
  });
});

describe('Fragment budget through the engine (linear reassembly, records per message and per flight)', () => {
  it('completes when the whole server flight comes one byte of handshake per protected record (both roles accept real fragmenters)', () => {
    const pair = new TlsPair({
      server: { cipherSuites: ['TLS_AES_128_GCM_SHA256'] },
      tamper: onFlight('server-to-client', 0, (_bytes, records) => {
        const secret = pair.keyLog.server.get('SERVER_HANDSHAKE_TRAFFIC_SECRET')!;
        const sealer = new Protector(nodeCryptoProvider, suiteInfo(0x1301)!, secret);
        const content = Buffer.concat(records.filter((r) => r.isProtected).map((r) => r.content!));
        const tiny: Buffer[] = [];
        for (const byte of content) tiny.push(sealer.seal(ContentType.handshake, Buffer.of(byte)));
        return Buffer.concat([...records.filter((r) => !r.isProtected).map((r) => r.raw), ...tiny]);
      }),
    });
    pair.handshake();
    assert.deepEqual(pair.failures, []);
  });

  it('sends unexpected_message for a 64 KiB post-handshake message in 1-byte records at its 2,562nd record, to our client', () => {
    const pair = new TlsPair({ client: { maxHandshakeMessageSize: 1 << 17 } }).handshake();
    const message = frame(HandshakeType.new_session_ticket, Buffer.alloc(65_536, 1));
    let delivered = 0;
    for (const byte of message) {
      pair.deliver('server-to-client', pair.forge('server-to-client', ContentType.handshake, Buffer.of(byte)));
      delivered++;
      if (pair.errors.client !== undefined) break;
    }
    assert.equal(delivered, 2562);
    assert.equal(pair.errors.client?.alert, 'unexpected_message');
    assert.match(pair.errors.client?.message ?? '', /spread over more than 2561 records/);
  });

  it('sends unexpected_message for a 64 KiB ClientHello in 1-byte records, to our server', () => {
    const pair = new TlsPair();
    pair.client.takeOutgoing();
    const message = frame(HandshakeType.client_hello, Buffer.alloc(65_536, 1));
    for (const byte of message) {
      pair.deliver('client-to-server', makeRecord(ContentType.handshake, Buffer.of(byte)));
      if (pair.errors.server !== undefined) break;
    }
    assert.equal(pair.errors.server?.alert, 'unexpected_message');
    assert.deepEqual(pair.server.takeOutgoing(), makeRecord(ContentType.alert, Buffer.of(2, 10)));
  });
});
