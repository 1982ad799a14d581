import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContentType, ExtensionType, HandshakeType, NamedGroup, Tls12ExtensionType } from '../../src/tls/codec/enums.js';
import { encodeU16List } from '../../src/tls/codec/extensions.js';
import { HostileService } from './harness.js';
import {
  ALERT,
  CCS,
  clientFlight,
  clientHello12,
  flightBytes,
  handshake12,
  loadCredentials,
  mtlsHealthz,
  readServerFlight,
  record,
  TLS12_HELLO_EXTENSIONS,
  Wire,
  type ClientCredentials,
  type ClientFlight,
  type FlightChoices,
} from './tls12-wire.js';

/**
 * The TLS 1.2 client's first flight is plaintext: hostile ClientKeyExchange
 * points, CertificateVerify schemes, Finished values, CCS placement and
 * record sizes reach `keysmith serve` (a child process) straight from the
 * network. Each case gets the exact alert RFC 5246 (and RFC 8422, RFC 7748,
 * RFC 7627) name; after each, /healthz still answers; at the end /healthz
 * answers over mutual TLS in TLS 1.3 and in TLS 1.2.
 */

const FATAL = 2;
/** RFC 5246 §7.4.1.4.1 (sha1, rsa): a scheme TLS 1.2 knows and we never list. */
const RSA_PKCS1_SHA1 = 0x0201;
const WARNING = 1;

function groupsOnly(...groups: number[]): Buffer {
  return clientHello12((h) => ({
    ...h,
    extensions: h.extensions.map((e) => (e.type === ExtensionType.supported_groups ? { type: e.type, data: encodeU16List(groups) } : e)),
  }));
}

describe('hostile TLS 1.2 client flights against keysmith serve', () => {
  let service: HostileService;
  let credentials: ClientCredentials;

  before(async () => {
    service = await HostileService.start({ env: { KEYSMITH_LOG_LEVEL: 'error' } });
    credentials = await loadCredentials(service.paths.adminCert, service.paths.adminKey);
  });
  after(() => service.stop());

  /** A server flight on a fresh connection (groups narrowed when asked), or a failed assertion. */
  async function flightOn(
    hello = clientHello12(),
  ): Promise<{ wire: Wire; flight: NonNullable<Awaited<ReturnType<typeof readServerFlight>>> }> {
    const wire = await Wire.open(service.port);
    const flight = await readServerFlight(wire, hello);
    assert.ok(flight !== undefined, 'the server answered the TLS 1.2 ClientHello with its flight');
    return { wire, flight };
  }

  async function expectAlert(wire: Wire, description: number, level = FATAL): Promise<void> {
    try {
      assert.deepEqual(await wire.alert(), [level, description]);
      assert.equal(await wire.closed(), true, 'the server closed the connection after its alert');
    } finally {
      wire.destroy();
    }
    await service.assertHealthy('after the hostile flight');
  }

  async function sendFlight(choices: FlightChoices, hello?: Buffer): Promise<{ wire: Wire; mine: ClientFlight }> {
    const { wire, flight } = await flightOn(hello);
    const mine = clientFlight(flight, credentials, choices);
    wire.write(flightBytes(mine));
    return { wire, mine };
  }

  const points: readonly { name: string; groups: number[]; group: number; point: Buffer; alert: number }[] = [
    {
      name: 'an all-zero X25519 point (shared secret all zeros, RFC 7748 §6.1: check and abort) gets illegal_parameter',
      groups: [NamedGroup.x25519, NamedGroup.secp256r1],
      group: NamedGroup.x25519,
      point: Buffer.alloc(32),
      alert: ALERT.illegal_parameter,
    },
    {
      name: 'a 31-byte X25519 point gets illegal_parameter (RFC 8422 §5.11)',
      groups: [NamedGroup.x25519, NamedGroup.secp256r1],
      group: NamedGroup.x25519,
      point: Buffer.alloc(31, 9),
      alert: ALERT.illegal_parameter,
    },
    {
      name: 'an off-curve P-256 point gets illegal_parameter (RFC 8422 §5.10)',
      groups: [NamedGroup.secp256r1],
      group: NamedGroup.secp256r1,
      point: Buffer.concat([Buffer.of(4), Buffer.alloc(63, 0x11), Buffer.of(0x12)]),
      alert: ALERT.illegal_parameter,
    },
    {
      name: 'a compressed P-256 point (only uncompressed was agreed, RFC 8422 §5.1.2) gets illegal_parameter',
      groups: [NamedGroup.secp256r1],
      group: NamedGroup.secp256r1,
      point: Buffer.concat([Buffer.of(2), Buffer.from('6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296', 'hex')]),
      alert: ALERT.illegal_parameter,
    },
  ];
  for (const p of points) {
    it(p.name, async () => {
      const { wire, flight } = await flightOn(groupsOnly(...p.groups));
      assert.equal(flight.group, p.group);
      wire.write(flightBytes(clientFlight(flight, credentials, { point: p.point })));
      await expectAlert(wire, p.alert);
    });
  }

  it('an empty ClientKeyExchange point (ecdh_Yc<1..2^8-1>) gets decode_error', async () => {
    const { wire, flight } = await flightOn();
    const mine = clientFlight(flight, credentials);
    const pieces = [mine.certificate, Buffer.of(HandshakeType.client_key_exchange, 0, 0, 1, 0)];
    wire.write(Buffer.concat(pieces.flatMap((m) => (m === undefined ? [] : [record(ContentType.handshake, m)]))));
    await expectAlert(wire, ALERT.decode_error);
  });

  for (const size of [0, 1, 65_000]) {
    it(`a session_ticket of ${size} bytes that is no ticket of ours gets a full handshake (RFC 5077 §3.4)`, async () => {
      // 65,000: the largest round figure that fits beside the other extensions in extensions<8..2^16-1>.
      const hello = clientHello12((h) => ({
        ...h,
        extensions: [...TLS12_HELLO_EXTENSIONS, { type: Tls12ExtensionType.session_ticket, data: Buffer.alloc(size, 0xa5) }],
      }));
      const wire = await Wire.open(service.port);
      try {
        const mine = await handshake12(wire, credentials, hello);
        assert.ok(mine !== undefined, 'the full handshake completed');
      } finally {
        wire.destroy();
      }
      await service.assertHealthy('after the garbage ticket');
    });
  }

  it('a CertificateVerify with a scheme we did not list (rsa_pkcs1_sha1, 0x0201) gets illegal_parameter (RFC 5246 §7.4.8)', async () => {
    const { wire } = await sendFlight({ verifyScheme: RSA_PKCS1_SHA1 });
    await expectAlert(wire, ALERT.illegal_parameter);
  });

  it('a Finished with wrong verify_data gets decrypt_error (RFC 5246 §7.4.9)', async () => {
    const { wire } = await sendFlight({ finishedFlip: 0x01 });
    await expectAlert(wire, ALERT.decrypt_error);
  });

  it('a ClientKeyExchange split across a ChangeCipherSpec gets unexpected_message (RFC 5246 §7.1)', async () => {
    const { wire, flight } = await flightOn();
    const mine = clientFlight(flight, credentials);
    const cke = mine.clientKeyExchange;
    const head = mine.certificate === undefined ? [] : [record(ContentType.handshake, mine.certificate)];
    wire.write(
      Buffer.concat([...head, record(ContentType.handshake, cke.subarray(0, 10)), CCS, record(ContentType.handshake, cke.subarray(10))]),
    );
    await expectAlert(wire, ALERT.unexpected_message);
  });

  it('application data in place of the Finished (after our CCS) gets unexpected_message (RFC 5246 §7.4.9)', async () => {
    const { wire, flight } = await flightOn();
    const mine = clientFlight(flight, credentials);
    const early = [mine.certificate, mine.clientKeyExchange, mine.certificateVerify].flatMap((m) =>
      m === undefined ? [] : [record(ContentType.handshake, m)],
    );
    wire.write(Buffer.concat([...early, CCS, mine.seal.seal(ContentType.application_data, Buffer.from('GET /healthz HTTP/1.1\r\n\r\n'))]));
    await expectAlert(wire, ALERT.unexpected_message);
  });

  it('plaintext application data before the ChangeCipherSpec gets unexpected_message', async () => {
    const { wire } = await flightOn();
    wire.write(record(ContentType.application_data, Buffer.from('GET /healthz HTTP/1.1\r\n\r\n')));
    await expectAlert(wire, ALERT.unexpected_message);
  });

  it('a protected record of 2^14 + 2048 + 1 bytes after the handshake gets record_overflow (RFC 5246 §6.2.3)', async () => {
    const wire = await Wire.open(service.port);
    const mine = await handshake12(wire, credentials);
    assert.ok(mine !== undefined);
    wire.write(record(ContentType.application_data, Buffer.alloc(16_384 + 2_048 + 1, 7)));
    await expectAlert(wire, ALERT.record_overflow);
  });

  it('a plaintext handshake record of 2^14 + 1 bytes gets record_overflow (RFC 5246 §6.2.1)', async () => {
    const wire = await Wire.open(service.port);
    wire.write(record(ContentType.handshake, Buffer.concat([clientHello12(), Buffer.alloc(16_385)]).subarray(0, 16_385)));
    await expectAlert(wire, ALERT.record_overflow);
  });

  it('32 user_canceled warnings in a row are tolerated: a request after them is answered (the bound is 32, shared with empty records)', async () => {
    const wire = await Wire.open(service.port);
    const mine = await handshake12(wire, credentials);
    assert.ok(mine !== undefined);
    const warnings = Array.from({ length: 32 }, () => mine.seal.seal(ContentType.alert, Buffer.of(WARNING, ALERT.user_canceled)));
    const request = mine.seal.seal(
      ContentType.application_data,
      Buffer.from('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
    );
    wire.write(Buffer.concat([...warnings, request]));
    let answer = '';
    try {
      for (let r = await wire.next(); r !== undefined; r = await wire.next())
        if (r.type === ContentType.application_data) answer += r.content.toString('latin1');
    } finally {
      wire.destroy();
    }
    assert.match(answer, /^HTTP\/1\.1 200 /);
  });

  it('a flood of warning alerts is bounded: user_canceled 33 times in a row gets unexpected_message (as OpenSSL caps them)', async () => {
    const wire = await Wire.open(service.port);
    const mine = await handshake12(wire, credentials);
    assert.ok(mine !== undefined);
    const warnings = Array.from({ length: 33 }, () => mine.seal.seal(ContentType.alert, Buffer.of(WARNING, ALERT.user_canceled)));
    wire.write(Buffer.concat(warnings));
    await expectAlert(wire, ALERT.unexpected_message);
  });

  it('any other warning alert ends the connection at once, with no alert in reply', async () => {
    const wire = await Wire.open(service.port);
    const mine = await handshake12(wire, credentials);
    assert.ok(mine !== undefined);
    wire.write(
      Buffer.concat(Array.from({ length: 50 }, () => mine.seal.seal(ContentType.alert, Buffer.of(WARNING, ALERT.no_renegotiation)))),
    );
    try {
      assert.equal(await wire.alert(), undefined);
      assert.equal(wire.isClosed, true);
    } finally {
      wire.destroy();
    }
    await service.assertHealthy('after the warning flood');
  });

  it('a renegotiation ClientHello gets a warning no_renegotiation and the connection ends (RFC 5746 §4.4, RFC 5246 §7.2.2)', async () => {
    const wire = await Wire.open(service.port);
    const mine = await handshake12(wire, credentials);
    assert.ok(mine !== undefined);
    wire.write(mine.seal.seal(ContentType.handshake, clientHello12()));
    await expectAlert(wire, ALERT.no_renegotiation, WARNING);
  });

  it('a partial handshake message left after the Finished, then a renegotiation ClientHello, gets unexpected_message at once', async () => {
    // Found by the tls12 fuzz target: the ClientHello used to vanish into the body of the partial message and the
    // connection sat idle until the HTTP idle timeout, the renegotiation never refused.
    const { wire, flight } = await flightOn();
    const mine = clientFlight(flight, credentials);
    const head = [mine.certificate, mine.clientKeyExchange, mine.certificateVerify].flatMap((m) =>
      m === undefined ? [] : [record(ContentType.handshake, m)],
    );
    wire.write(
      Buffer.concat([
        ...head,
        CCS,
        mine.seal.seal(ContentType.handshake, Buffer.concat([mine.finished, Buffer.of(HandshakeType.client_hello, 0, 0x40)])),
      ]),
    );
    for (
      let r = await wire.next();
      r !== undefined && !(r.type === ContentType.handshake && r.content[0] === HandshakeType.finished);
      r = await wire.next()
    )
      if (r.type === ContentType.change_cipher_spec) wire.readProtector = mine.open;
    wire.write(mine.seal.seal(ContentType.handshake, clientHello12()));
    await expectAlert(wire, ALERT.unexpected_message);
  });

  it('a flood of renegotiation ClientHellos on 20 connections (100 each) gets one no_renegotiation per connection', async () => {
    const wires = await Promise.all(Array.from({ length: 20 }, () => Wire.open(service.port)));
    try {
      const flights = await Promise.all(wires.map((w) => handshake12(w, credentials)));
      flights.forEach((mine, i) => {
        assert.ok(mine !== undefined);
        const hellos = Array.from({ length: 100 }, () => mine.seal.seal(ContentType.handshake, clientHello12()));
        wires[i]?.write(Buffer.concat(hellos));
      });
      const alerts = await Promise.all(wires.map((w) => w.alert()));
      assert.deepEqual(
        alerts,
        Array.from({ length: 20 }, () => [WARNING, ALERT.no_renegotiation]),
      );
      assert.deepEqual(
        await Promise.all(wires.map((w) => w.closed())),
        Array.from({ length: 20 }, () => true),
      );
    } finally {
      for (const w of wires) w.destroy();
    }
    await service.assertHealthy('after the renegotiation flood');
  });

  it('still serves /healthz over mutual TLS in TLS 1.3 and in TLS 1.2 afterwards', async () => {
    assert.deepEqual(await mtlsHealthz(service, 'TLSv1.3'), { status: 200, protocol: 'TLSv1.3' });
    assert.deepEqual(await mtlsHealthz(service, 'TLSv1.2'), { status: 200, protocol: 'TLSv1.2' });
    assert.equal(service.isAlive, true);
  });
});
