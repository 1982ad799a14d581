import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveServerConfig } from '../../../../src/tls/config.js';
import { Connection } from '../../../../src/tls/connection.js';
import { NamedGroup } from '../../../../src/tls/codec/enums.js';
import { decodeOfferedPsks } from '../../../../src/tls/codec/pre-shared-key.js';
import type { AeadOpener } from '../../../../src/tls/crypto/provider.js';
import type { AeadName } from '../../../../src/tls/crypto/suites.js';
import { ExpectClientHello } from '../../../../src/tls/handshake/server/index.js';
import { encodeServerSessionState } from '../../../../src/tls/tickets.js';
import { fixture } from '../../../fakes/tls-fixtures.js';
import { FixedProvider, type ProviderScript } from '../../../helpers/fixed-provider.js';
import { Rfc8448Trace } from '../../../helpers/vectors.js';
import type { EarlyDataOutcome } from '../../../../src/tls/index.js';

/**
 * RFC 8448 §4 (Resumed 0-RTT Handshake) replayed through our server: NSS's
 * ClientHello offering the §3 ticket with early data, its 0-RTT record, its
 * EndOfEarlyData and Finished. Our server opens NSS's ticket (a ticket's
 * format is each server's own, RFC 8446 §4.6.1, so the provider scripts the
 * ticket's AEAD open to our sealed state with the RFC's resumption PSK),
 * accepts the early data and must then send the RFC server's bytes exactly:
 * the ServerHello record (pre_shared_key, key_share, supported_versions, in
 * NSS's order) and the protected flight (EncryptedExtensions with
 * early_data, and Finished), every secret the RFC prints, the early data
 * read under client_early_traffic_secret, and the client's EndOfEarlyData
 * and Finished accepted under the keys that follow.
 *
 * The §4 server-side octets below are not in test/vectors (see its README:
 * §4 stops after the client's 0-RTT record). They are quoted from a public
 * RFC 8448 test suite (princeb612/hotplace, test_rfc8448_4), which copies
 * the RFC's §4 records; every one is checked here against what our own
 * key schedule derives, so a wrong octet fails.
 *
 * Not replayed byte for byte: the server's application data and alert
 * records after the handshake. Our server sends a NewSessionTicket after the
 * client's Finished and NSS's §4 server sends none, so our records there
 * carry other sequence numbers.
 */

const s3 = Rfc8448Trace.load('rfc8448-simple-1rtt.txt');
const s4 = Rfc8448Trace.load('rfc8448-resumed-0rtt.txt');
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const NOW = Date.UTC(2019, 0, 15);

const RFC = {
  serverPrivateKey: 'de5b4476e7b490b2652d338acbf2948066f255f9440e23b98fc69835298dc107',
  serverHelloRecord: hex(`16 03 03 00 60 02 00 00 5c 03 03 3c cf d2 de c8 90 22 27 63 47 2a e8 13 67 77 c9 d7 35 87 77 bb 66
    e9 1e a5 12 24 95 f5 59 ea 2d 00 13 01 00 00 34 00 29 00 02 00 00 00 33 00 24 00 1d 00 20 12 17 61 ee 42 c3 33 e1 b9 e7 7b 60
    dd 57 c2 05 3c d9 45 12 ab 47 f1 15 e8 6e ff 50 94 2c ea 31 00 2b 00 02 03 04`),
  serverFlightRecord: hex(`17 03 03 00 61 dc 48 23 7b 4b 87 9f 50 d0 d4 d2 62 ea 8b 47 16 eb 40 dd c1 eb 95 7e 11 12 6e 8a 71
    49 c2 d0 12 d3 7a 71 15 95 7e 64 ce 30 00 8b 9e 03 23 f2 c0 5a 9c 1c 77 b4 f3 78 49 a6 95 ab 25 50 60 a3 3f ee 77 0c a9 5c b8
    48 6b fd 08 43 b8 70 24 86 5c a3 5c c4 1c 4e 51 5c 64 dc b1 36 9f 98 63 5b c7 a5`),
  endOfEarlyDataRecord: hex('17 03 03 00 15 ac a6 fc 94 48 41 29 8d f9 95 93 72 5f 9b f9 75 44 29 b1 2f 09'),
  clientFinishedRecord: hex(`17 03 03 00 35 00 f8 b4 67 d1 4c f2 2a 4b 3f 0b 6a e0 d8 e6 cc 8d 08 e0 db 35 15 ef 5c 2b df 19 22
    ea fb b7 00 09 96 47 16 d8 34 fb 70 c3 d2 a5 6c 5b 1f 5f 6b db a6 c3 33 cf`),
  clientApplicationRecord: hex(`17 03 03 00 43 b1 ce bc e2 42 aa 20 1b e9 ae 5e 1c b2 a9 aa 4b 33 d4 e8 66 af 1e db 06 89 19 23 77
    41 aa 03 1d 7a 74 d4 91 c9 9b 9d 4e 23 2b 74 20 6b c6 fb aa 04 fe 78 be 44 a9 b4 f5 43 20 a1 7e b7 69 92 af ac 31 03`),
  secrets: {
    CLIENT_EARLY_TRAFFIC_SECRET: '3fbbe6a60deb66c30a32795aba0eff7eaa10105586e7be5c09678d63b6caab62',
    CLIENT_HANDSHAKE_TRAFFIC_SECRET: '2faac08f851d35fea3604fcb4de82dc62c9b164a70974d0462e27f1ab278700f',
    SERVER_HANDSHAKE_TRAFFIC_SECRET: 'fe927ae271312e8bf0275b581c54eef020450dc4ecffaa05a1a35d27518e7803',
    CLIENT_TRAFFIC_SECRET_0: '2abbf2b8e381d23dbebe1dd2a7d16a8bf484cb4950d23fb7fb7fa8547062d9a1',
    SERVER_TRAFFIC_SECRET_0: 'cc21f1bf8feb7dd5fa505bd9c4b468a9984d554a993dc49e6d285598fb672691',
    EXPORTER_SECRET: '3fd93d4ffddc98e64b14dd107aedf8ee4add23f4510f58a4592d0b201bee56b4',
  },
  /** The §3 connection's resumption PSK for the ticket (nonce 0x0000), which §4 resumes. */
  resumptionPsk: '4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3',
};

/** The FixedProvider, and NSS's ticket "opens" to the state we script: the ticket is not ours to decrypt. */
class TicketScriptProvider extends FixedProvider {
  constructor(
    script: ProviderScript,
    private readonly ticketPlaintext: () => Buffer,
  ) {
    super(script);
  }

  override aeadOpener(aead: AeadName, key: Buffer, nonce: Buffer): AeadOpener {
    if (aead !== 'aes-256-gcm') return super.aeadOpener(aead, key, nonce);
    const plaintext = this.ticketPlaintext;
    return { setAAD: () => undefined, setAuthTag: () => undefined, update: () => plaintext(), final: () => Buffer.alloc(0) };
  }
}

describe('RFC 8448 §4 replayed through our server (resumed, 0-RTT accepted)', () => {
  const helloRecord = s4.bytes('{client}  send handshake record', 'complete record');
  const hello = s4.bytes('{client}  send handshake record', 'payload (512 octets)');
  const earlyRecord = s4.bytes('{client}  send application_data record', 'complete record');
  const earlyPayload = s4.bytes('{client}  send application_data record', 'payload (6 octets)');
  const nst = s3.bytes('{server}  construct a NewSessionTicket handshake message', 'NewSessionTicket (205 octets)');
  const ageAdd = nst.readUInt32BE(8);
  // pre_shared_key is the ClientHello's last extension: its identity, and the age NSS claims for it.
  const pskExtension = hello.subarray(hello.length - 0xdd);
  const offered = decodeOfferedPsks(pskExtension);
  const identity = offered.identities[0];
  assert.ok(identity !== undefined);
  const clientAgeMs = (identity.obfuscatedTicketAge - ageAdd) >>> 0;
  const instanceId = '05'.repeat(16);

  const provider: TicketScriptProvider = new TicketScriptProvider(
    {
      // The cookie key, this instance's id; the ticket key id (NSS's ticket's first 8 bytes) and key; ServerHello.random;
      // after the Finished our ticket's nonce, age_add and sealing nonce.
      random: [
        '00'.repeat(32),
        instanceId,
        identity.identity.subarray(0, 8).toString('hex'),
        '02'.repeat(32),
        RFC.serverHelloRecord.subarray(11, 43).toString('hex'),
        '03'.repeat(8),
        '04'.repeat(4),
        '06'.repeat(12),
      ],
      keyShares: [{ group: NamedGroup.x25519, privateKey: RFC.serverPrivateKey }],
      signatures: [],
    },
    () =>
      encodeServerSessionState({
        suite: 0x1301,
        psk: Buffer.from(RFC.resumptionPsk, 'hex'),
        // Issued as long ago as NSS says (RFC 8446 §8.3: the age check passes exactly).
        createdAt: NOW - clientAgeMs,
        ageAdd,
        lifetimeSeconds: nst.readUInt32BE(4),
        alpn: '',
        servername: 'server',
        peerChain: [],
        maxEarlyData: 1024,
        instanceId: Buffer.from(instanceId, 'hex'),
      }),
  );
  const config = resolveServerConfig({
    key: fixture('server-rsa.key'),
    cert: fixture('server-rsa-chain.pem'),
    groups: ['x25519', 'secp256r1', 'secp384r1', 'secp521r1', 'ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192'],
    maxEarlyData: 1024,
    now: () => NOW,
    cryptoProvider: provider,
  });
  const keyLog = new Map<string, string>();
  const received: Buffer[] = [];
  const outcomes: EarlyDataOutcome[] = [];
  let completed = false;
  const server = new Connection(
    'server',
    provider,
    {
      onHandshakeComplete: () => {
        completed = true;
      },
      onData: (data) => received.push(data),
      onPeerClose: () => undefined,
      onEarlyData: (outcome) => outcomes.push(outcome),
      onKeyLog: (line) => {
        const [label, , secret] = line.split(' ');
        if (label !== undefined && secret !== undefined) keyLog.set(label, secret);
      },
    },
    config.maxHandshakeMessageSize,
    () => NOW,
  );
  server.start((ctx) => new ExpectClientHello(ctx, config));
  server.receive(helloRecord);
  const flight = server.takeOutgoing() ?? Buffer.alloc(0);

  it('accepts the 0-RTT: first identity, binder verified, the ticket allows it, same suite and ALPN, age in the window', () => {
    assert.deepEqual(outcomes, [{ accepted: true }]);
  });

  it("answers with the RFC's ServerHello record byte for byte (pre_shared_key first, as NSS writes it)", () => {
    assert.deepEqual(flight.subarray(0, RFC.serverHelloRecord.length), RFC.serverHelloRecord);
  });

  it("sends the RFC's protected flight byte for byte: EncryptedExtensions with early_data, then Finished", () => {
    assert.deepEqual(flight.subarray(RFC.serverHelloRecord.length), RFC.serverFlightRecord);
  });

  it('derives the RFC early, handshake, application and exporter secrets', () => {
    for (const [label, secret] of Object.entries(RFC.secrets)) assert.equal(keyLog.get(label), secret, label);
  });

  it("reads the RFC client's 0-RTT record under client_early_traffic_secret, before the handshake completes", () => {
    server.receive(earlyRecord);
    assert.deepEqual(Buffer.concat(received), earlyPayload);
    assert.equal(completed, false);
  });

  it("takes the RFC client's EndOfEarlyData and Finished, and then its application data", () => {
    server.receive(RFC.endOfEarlyDataRecord);
    assert.equal(completed, false);
    server.receive(RFC.clientFinishedRecord);
    assert.equal(completed, true);
    received.length = 0;
    server.receive(RFC.clientApplicationRecord);
    assert.equal(Buffer.concat(received).length, 50);
    assert.deepEqual(provider.unused, { random: 0, keyShares: 0, signatures: 0 });
  });
});
