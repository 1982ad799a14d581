import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { resolveServerConfig } from '../../../../src/tls/config.js';
import { Connection } from '../../../../src/tls/connection.js';
import { ContentType, NamedGroup, SignatureScheme } from '../../../../src/tls/codec/enums.js';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import { suiteInfo } from '../../../../src/tls/crypto/suites.js';
import { ExpectClientHello } from '../../../../src/tls/handshake/server/index.js';
import { Protector } from '../../../../src/tls/record/protector.js';
import { fixture } from '../../../fakes/tls-fixtures.js';
import { FixedProvider } from '../../../helpers/fixed-provider.js';
import { Rfc8448Trace } from '../../../helpers/vectors.js';

/**
 * RFC 8448 §3 replayed through our server state machine on a Connection:
 * the RFC ClientHello record in, the RFC server's random, ephemeral X25519
 * key and RSA-PSS signature from the provider script, the RFC certificate,
 * and NSS's group list as our `groups` option (ffdhe6144 and ffdhe8192
 * included: RFC 7919 groups we implement but do not enable by default).
 *
 * Byte for byte, as the RFC prints them: the ServerHello record (key_share
 * before supported_versions, as NSS writes them), the encrypted server
 * flight (EncryptedExtensions with supported_groups, record_size_limit
 * 0x4001 (RFC 8449) and the server_name ack; Certificate; CertificateVerify;
 * Finished), every traffic secret, the client's Finished record accepted,
 * the client's application data read, our application data and close_notify
 * records. So the transcript, key schedule and record protection are the
 * RFC's all the way.
 *
 * What is not the RFC's, and why: the NewSessionTicket. Its nonce (we draw
 * 8 random bytes, NSS counts from 0x0000), its ticket (our sealed state, not
 * NSS's) and NSS's early_data extension (0-RTT is off by default:
 * maxEarlyData is 0 here) are
 * each implementation's own choice (RFC 8446 §4.6.1). Its record is checked
 * for structure under the RFC's server application key, and it is one record
 * at sequence 0, so our application data after it is the RFC's byte for byte.
 */

const s3 = Rfc8448Trace.load('rfc8448-simple-1rtt.txt');
const NOW = Date.UTC(2019, 0, 15);

const clientHelloRecord = s3.bytes('{client}  send handshake record', 'complete record', 0);
const rfcServerHello = s3.bytes('{server}  construct a ServerHello handshake message', 'ServerHello (90 octets)');
const rfcCertificate = s3.bytes('{server}  construct a Certificate handshake message', 'Certificate');
const rfcCertificateVerify = s3.bytes('{server}  construct a CertificateVerify handshake message', 'CertificateVerify');
const rfcNewSessionTicket = s3.bytes('{server}  construct a NewSessionTicket handshake message', 'NewSessionTicket (205 octets)');
const sha256 = (...messages: Buffer[]): Buffer => messages.reduce((h, m) => h.update(m), createHash('sha256')).digest();
const derived = (label: string): Buffer => s3.bytes(`{server}  derive secret "tls13 ${label}"`, 'expanded');

/** The RFC server's certificate (the one Certificate entry) as PEM. */
function rfcCertificatePem(): string {
  // Certificate: type(1) length(3) context(1, empty) list length(3) entry length(3) DER ... extensions(2).
  const length = rfcCertificate.readUIntBE(8, 3);
  const der = rfcCertificate.subarray(11, 11 + length);
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
}

describe('RFC 8448 §3 replayed through our server (simple 1-RTT)', () => {
  const transcriptThroughCertificate = Buffer.concat([
    s3.bytes('{client}  construct a ClientHello handshake message', 'ClientHello (196 octets)'),
    rfcServerHello,
    s3.bytes('{server}  construct an EncryptedExtensions handshake message', 'EncryptedExtensions (40 octets)'),
    rfcCertificate,
  ]);
  const contentSigned = Buffer.concat([
    Buffer.alloc(64, 0x20),
    Buffer.from('TLS 1.3, server CertificateVerify\0', 'latin1'),
    sha256(transcriptThroughCertificate),
  ]);
  const ageAdd = rfcNewSessionTicket.subarray(8, 12).toString('hex');
  const provider = new FixedProvider({
    // The HelloRetryRequest cookie key (never used here), ServerHello.random; for the ticket: its nonce, age_add,
    // the ticket key's id and key and the sealing nonce.
    random: [
      '00'.repeat(32),
      rfcServerHello.subarray(6, 38).toString('hex'),
      '03'.repeat(8),
      ageAdd,
      '01'.repeat(8),
      '02'.repeat(32),
      '04'.repeat(12),
    ],
    keyShares: [
      { group: NamedGroup.x25519, privateKey: s3.bytes('{server}  create an ephemeral x25519 key pair', 'private key').toString('hex') },
    ],
    signatures: [
      {
        scheme: SignatureScheme.rsa_pss_rsae_sha256,
        content: contentSigned.toString('hex'),
        signature: rfcCertificateVerify.subarray(8).toString('hex'),
      },
    ],
  });
  // The RFC's RSA key is not among our vectors: the key only names the scheme family (RSA-PSS); the signature comes from the script.
  const config = resolveServerConfig({
    key: fixture('server-rsa.key'),
    cert: rfcCertificatePem(),
    // NSS's groups in its order, as its supported_groups in EncryptedExtensions lists them.
    groups: ['x25519', 'secp256r1', 'secp384r1', 'secp521r1', 'ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192'],
    ticketLifetimeSeconds: rfcNewSessionTicket.readUInt32BE(4),
    now: () => NOW,
    cryptoProvider: provider,
  });
  const keyLog = new Map<string, Buffer>();
  const received: Buffer[] = [];
  let completed = false;
  let peerClosed = false;
  const server = new Connection(
    'server',
    provider,
    {
      onHandshakeComplete: () => {
        completed = true;
      },
      onData: (data) => received.push(data),
      onPeerClose: () => {
        peerClosed = true;
      },
      onKeyLog: (line) => {
        const [label, , secret] = line.split(' ');
        if (label !== undefined && secret !== undefined) keyLog.set(label, Buffer.from(secret, 'hex'));
      },
    },
    config.maxHandshakeMessageSize,
    () => NOW,
  );
  server.start((ctx) => new ExpectClientHello(ctx, config));
  server.receive(clientHelloRecord);
  const flight = server.takeOutgoing() ?? Buffer.alloc(0);
  const rfcServerHelloRecord = s3.bytes('{server}  send handshake record', 'complete record', 0);
  const rfcFlightRecord = s3.bytes('{server}  send handshake record', 'complete record', 1);

  it('answers with the RFC ServerHello record byte for byte (key_share, then supported_versions)', () => {
    assert.deepEqual(flight.subarray(0, rfcServerHelloRecord.length), rfcServerHelloRecord);
  });

  it('derives the RFC handshake traffic secrets', () => {
    assert.deepEqual(keyLog.get('CLIENT_HANDSHAKE_TRAFFIC_SECRET'), derived('c hs traffic'));
    assert.deepEqual(keyLog.get('SERVER_HANDSHAKE_TRAFFIC_SECRET'), derived('s hs traffic'));
  });

  it("sends the RFC's encrypted flight byte for byte: EncryptedExtensions, Certificate, CertificateVerify, Finished", () => {
    assert.equal(flight.length, rfcServerHelloRecord.length + rfcFlightRecord.length, 'ServerHello and one protected record');
    assert.deepEqual(flight.subarray(rfcServerHelloRecord.length), rfcFlightRecord);
    assert.deepEqual(provider.unused, { random: 5, keyShares: 0, signatures: 0 });
  });

  it("accepts the RFC client's Finished record and derives the RFC application and exporter secrets", () => {
    server.receive(s3.bytes('{client}  send handshake record', 'complete record', 1));
    assert.equal(completed, true);
    assert.deepEqual(keyLog.get('CLIENT_TRAFFIC_SECRET_0'), derived('c ap traffic'));
    assert.deepEqual(keyLog.get('SERVER_TRAFFIC_SECRET_0'), derived('s ap traffic'));
    assert.deepEqual(keyLog.get('EXPORTER_SECRET'), derived('exp master'));
  });

  it("sends one NewSessionTicket record (ours, not NSS's: nonce, ticket and extensions are each side's choice)", () => {
    const record = server.takeOutgoing() ?? Buffer.alloc(0);
    const suite = suiteInfo(0x1301);
    assert.ok(suite !== undefined);
    assert.equal(record.length, 5 + record.readUInt16BE(3), 'one record');
    const opened = new Protector(nodeCryptoProvider, suite, derived('s ap traffic')).open(record.subarray(0, 5), record.subarray(5));
    assert.equal(opened.type, ContentType.handshake);
    const ticket = opened.content;
    assert.equal(ticket.readUInt8(0), 4, 'new_session_ticket');
    assert.equal(ticket.readUIntBE(1, 3), ticket.length - 4);
    // lifetime and age_add as the RFC's (our configuration and script), then our 8-byte nonce.
    assert.deepEqual(ticket.subarray(4, 12), rfcNewSessionTicket.subarray(4, 12));
    assert.deepEqual(ticket.subarray(12, 21), Buffer.from('08' + '03'.repeat(8), 'hex'));
    const ticketLength = ticket.readUInt16BE(21);
    // Our ticket: key id (8), sealing nonce (12), the sealed session state, tag (16); then no extensions.
    assert.deepEqual(ticket.subarray(23, 43), Buffer.from('01'.repeat(8) + '04'.repeat(12), 'hex'));
    assert.deepEqual(ticket.subarray(23 + ticketLength), Buffer.from('0000', 'hex'));
    assert.deepEqual(provider.unused, { random: 0, keyShares: 0, signatures: 0 });
  });

  const data = s3.bytes('{client}  send application_data record', 'payload (50 octets)');

  it("reads the RFC client's application data record", () => {
    server.receive(s3.bytes('{client}  send application_data record', 'complete record'));
    assert.deepEqual(Buffer.concat(received), data);
  });

  it("sends the RFC server's application data record byte for byte", () => {
    server.write(s3.bytes('{server}  send application_data record', 'payload (50 octets)'));
    assert.deepEqual(server.takeOutgoing(), s3.bytes('{server}  send application_data record', 'complete record'));
  });

  it("reads the RFC client's close_notify and answers with the RFC server's record byte for byte", () => {
    server.receive(s3.bytes('{client}  send alert record', 'complete record'));
    assert.equal(peerClosed, true);
    server.close();
    assert.deepEqual(server.takeOutgoing(), s3.bytes('{server}  send alert record', 'complete record'));
    assert.equal(server.isClosed, true);
  });
});

/**
 * RFC 8448 §4's ClientHello offers NSS's ticket from §3 with early data. Our
 * server can only resume tickets it sealed itself (RFC 8446 §4.6.1 leaves
 * the format to the server), so it passes the identity over and runs a full
 * handshake, refusing the 0-RTT, so the client's early record is skipped
 * undecrypted (§4.2.10). rfc8448-0rtt-server.test.ts replays the §4 server
 * that accepts it.
 */
describe('RFC 8448 §4 ClientHello through our server (ticket not ours, 0-RTT refused)', () => {
  const s4 = Rfc8448Trace.load('rfc8448-resumed-0rtt.txt');
  const helloRecord = s4.bytes('{client}  send handshake record', 'complete record');
  const hello = s4.bytes('{client}  send handshake record', 'payload (512 octets)');
  const serverRandom = Buffer.alloc(32, 0x42);
  const serverPublic = s3.bytes('{server}  create an ephemeral x25519 key pair', 'public key');
  // Our ServerHello for a full handshake: key_share, supported_versions; no pre_shared_key (RFC 8446 §4.2.11).
  const ourServerHello = Buffer.concat([
    Buffer.from('02000056' + '0303', 'hex'),
    serverRandom,
    Buffer.from('00' + '1301' + '00' + '002e' + '00330024001d0020', 'hex'),
    serverPublic,
    Buffer.from('002b00020304', 'hex'),
  ]);
  // Our default groups (RFC 8446 §4.2.7), our record_size_limit (RFC 8449 §4), the server_name ack (RFC 6066 §3).
  const ourEncryptedExtensions = Buffer.from(
    '08000022' + '0020' + '000a00120010' + '001d0017001e00180019010001010102' + '001c00024001' + '00000000',
    'hex',
  );
  const contentSigned = Buffer.concat([
    Buffer.alloc(64, 0x20),
    Buffer.from('TLS 1.3, server CertificateVerify\0', 'latin1'),
    sha256(hello, ourServerHello, ourEncryptedExtensions, rfcCertificate),
  ]);
  const provider = new FixedProvider({
    // The cookie key; this server's first ticket key id and key (made when it tries to open NSS's ticket); ServerHello.random.
    random: ['00'.repeat(32), '01'.repeat(8), '02'.repeat(32), serverRandom.toString('hex')],
    keyShares: [
      { group: NamedGroup.x25519, privateKey: s3.bytes('{server}  create an ephemeral x25519 key pair', 'private key').toString('hex') },
    ],
    signatures: [{ scheme: SignatureScheme.rsa_pss_rsae_sha256, content: contentSigned.toString('hex'), signature: 'ab'.repeat(128) }],
  });
  const config = resolveServerConfig({
    key: fixture('server-rsa.key'),
    cert: rfcCertificatePem(),
    now: () => NOW,
    cryptoProvider: provider,
  });
  let completed = false;
  const server = new Connection(
    'server',
    provider,
    {
      onHandshakeComplete: () => {
        completed = true;
      },
      onData: () => undefined,
      onPeerClose: () => undefined,
    },
    config.maxHandshakeMessageSize,
    () => NOW,
  );
  server.start((ctx) => new ExpectClientHello(ctx, config));

  it('answers the ticket it cannot open with a full handshake: ServerHello without pre_shared_key, then Certificate and CertificateVerify', () => {
    server.receive(helloRecord);
    const flight = server.takeOutgoing() ?? Buffer.alloc(0);
    assert.deepEqual(flight.subarray(0, 5 + ourServerHello.length), Buffer.concat([Buffer.from('160303005a', 'hex'), ourServerHello]));
    // The script only signs the §4.4.3 content of this transcript: a signature was taken, so the Certificate path ran.
    assert.deepEqual(provider.unused, { random: 0, keyShares: 0, signatures: 0 });
  });

  it("skips the client's 0-RTT record without a word (RFC 8446 §4.2.10) and waits for its Finished", () => {
    server.receive(s4.bytes('{client}  send application_data record', 'complete record'));
    assert.equal(server.takeOutgoing(), undefined);
    assert.equal(server.isClosed, false);
    assert.equal(completed, false);
  });
});
