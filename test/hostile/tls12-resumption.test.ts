import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContentType, HandshakeType, Tls12ExtensionType } from '../../src/tls/codec/enums.js';
import { HostileService } from './harness.js';
import {
  ALERT,
  CCS,
  clientHello12,
  handshake12,
  loadCredentials,
  record,
  resume12,
  TLS12_HELLO_EXTENSIONS,
  Wire,
  type ClientCredentials,
  type Resumed12,
} from './tls12-wire.js';

/**
 * The TLS 1.2 abbreviated handshake (RFC 5077 §3.1, RFC 5246 §7.3 Figure
 * 2) as an attacker drives it against `keysmith serve`: the client's whole
 * answer is CCS and Finished, so a wrong Finished, application data in its
 * place, a full-handshake message instead, or a renegotiation after it must
 * each get the exact alert, and a good one must serve a request with the
 * identity the ticket carries.
 */

const FATAL = 2;
const WARNING = 1;
const GET_HEALTHZ = Buffer.from('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');

describe('hostile TLS 1.2 resumption against keysmith serve', () => {
  let service: HostileService;
  let credentials: ClientCredentials;
  type Ticket = { ticket: Buffer; masterSecret: Buffer; suite: NonNullable<Awaited<ReturnType<typeof handshake12>>>['suite'] };
  let ticket: Ticket;
  let anonymousTicket: Ticket;

  async function fullHandshakeTicket(who: ClientCredentials | undefined): Promise<Ticket> {
    const wire = await Wire.open(service.port);
    const hello = clientHello12((h) => ({
      ...h,
      extensions: [...TLS12_HELLO_EXTENSIONS, { type: Tls12ExtensionType.session_ticket, data: Buffer.alloc(0) }],
    }));
    const full = await handshake12(wire, who, hello);
    wire.destroy();
    assert.ok(full?.ticket !== undefined && full.ticket.length > 0, 'the full handshake brought a ticket');
    return { ticket: full.ticket, masterSecret: full.masterSecret, suite: full.suite };
  }

  before(async () => {
    service = await HostileService.start({ env: { KEYSMITH_LOG_LEVEL: 'error' } });
    credentials = await loadCredentials(service.paths.adminCert, service.paths.adminKey);
    ticket = await fullHandshakeTicket(credentials);
    anonymousTicket = await fullHandshakeTicket(undefined);
  });
  after(() => service.stop());

  async function resumed(from: Ticket = ticket): Promise<{ wire: Wire; resumed: Resumed12 }> {
    const wire = await Wire.open(service.port);
    const r = await resume12(wire, from.ticket, from.masterSecret, from.suite);
    assert.ok(r !== undefined, 'the server resumed the session (no Certificate, no ServerKeyExchange)');
    return { wire, resumed: r };
  }

  async function expectAlert(wire: Wire, description: number, level = FATAL): Promise<void> {
    try {
      assert.deepEqual(await wire.alert(), [level, description]);
      assert.equal(await wire.closed(), true);
    } finally {
      wire.destroy();
    }
    await service.assertHealthy('after the hostile resumption');
  }

  /** GET /v1/certificates (an admin route) on a session resumed from `from`: the HTTP status. */
  async function listOnResumed(from: Ticket): Promise<string> {
    const { wire, resumed: r } = await resumed(from);
    const list = Buffer.from('GET /v1/certificates HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    wire.write(Buffer.concat([CCS, r.seal.seal(ContentType.handshake, r.finished), r.seal.seal(ContentType.application_data, list)]));
    let answer = '';
    try {
      for (let x = await wire.next(); x !== undefined; x = await wire.next())
        if (x.type === ContentType.application_data) answer += x.content.toString('latin1');
    } finally {
      wire.destroy();
    }
    return answer.slice(0, 12);
  }

  it('a good CCS and Finished resume the session with the identity the ticket carries (admin: 200, anonymous: 401)', async () => {
    assert.equal(await listOnResumed(ticket), 'HTTP/1.1 200');
    assert.equal(await listOnResumed(anonymousTicket), 'HTTP/1.1 401');
  });

  it('a wrong Finished gets decrypt_error (RFC 5246 §7.4.9)', async () => {
    const { wire, resumed: r } = await resumed();
    const wrong = Buffer.from(r.finished);
    wrong[4] = (wrong[4] ?? 0) ^ 0xff;
    wire.write(Buffer.concat([CCS, r.seal.seal(ContentType.handshake, wrong)]));
    await expectAlert(wire, ALERT.decrypt_error);
  });

  it('application data in place of the Finished gets unexpected_message', async () => {
    const { wire, resumed: r } = await resumed();
    wire.write(Buffer.concat([CCS, r.seal.seal(ContentType.application_data, GET_HEALTHZ)]));
    await expectAlert(wire, ALERT.unexpected_message);
  });

  it('a ClientKeyExchange (a full handshake’s message) instead of the CCS gets unexpected_message', async () => {
    const { wire } = await resumed();
    wire.write(record(ContentType.handshake, Buffer.of(HandshakeType.client_key_exchange, 0, 0, 33, 32, ...Buffer.alloc(32, 9))));
    await expectAlert(wire, ALERT.unexpected_message);
  });

  it('a renegotiation ClientHello after the resumed handshake gets a warning no_renegotiation and the end', async () => {
    const { wire, resumed: r } = await resumed();
    wire.write(Buffer.concat([CCS, r.seal.seal(ContentType.handshake, r.finished), r.seal.seal(ContentType.handshake, clientHello12())]));
    await expectAlert(wire, ALERT.no_renegotiation, WARNING);
  });
});
