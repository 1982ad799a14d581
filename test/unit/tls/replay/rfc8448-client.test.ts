import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContentType } from '../../../../src/tls/codec/enums.js';
import { decodeClientHello } from '../../../../src/tls/codec/messages/client-hello.js';
import type { HandshakeMessage } from '../../../../src/tls/codec/handshake-frame.js';
import { resolveClientConfig } from '../../../../src/tls/config.js';
import { Connection } from '../../../../src/tls/connection.js';
import { NamedGroup } from '../../../../src/tls/codec/enums.js';
import { sendFirstClientHello, sessionFromTicket } from '../../../../src/tls/handshake/client/index.js';
import type { HandshakeResult } from '../../../../src/tls/handshake/state.js';
import type { ClientSession } from '../../../../src/tls/tickets.js';
import { FixedProvider } from '../../../helpers/fixed-provider.js';
import { Rfc8448Trace } from '../../../helpers/vectors.js';

/**
 * RFC 8448 §3 (simple 1-RTT) and §4 (resumed, PSK binder) replayed through
 * our client state machine on a Connection: the RFC's ClientHello is what
 * the client sent (our client would build a different one: it sends no
 * renegotiation_info, session_ticket or record_size_limit), its key share
 * is the RFC's private key; the server's records are fed in as printed,
 * and every record our client writes is compared with the RFC's.
 */

const s3 = Rfc8448Trace.load('rfc8448-simple-1rtt.txt');
const s4 = Rfc8448Trace.load('rfc8448-resumed-0rtt.txt');

const SEND_CLIENT = '{client}  send handshake record';
const SEND_SERVER = '{server}  send handshake record';
/** Jan 2019, when the RFC was published: a clock for the ticket's age; the server certificate is not verified (see below). */
const NOW = Date.UTC(2019, 0, 15);
/** RFC 8446 §D.4: our client's compatibility change_cipher_spec, which the RFC's client (NSS) did not send. */
const CCS_RECORD = Buffer.of(ContentType.change_cipher_spec, 3, 3, 0, 1, 1);

interface ClientRun {
  readonly connection: Connection;
  readonly provider: FixedProvider;
  readonly keyLog: Map<string, Buffer>;
  readonly data: Buffer[];
  readonly tickets: HandshakeMessage[];
  result(): HandshakeResult;
  peerClosed(): boolean;
}

function startClient(hello: Buffer, clientPrivateKey: Buffer, session: ClientSession | undefined): ClientRun {
  const provider = new FixedProvider({
    random: [],
    keyShares: [{ group: NamedGroup.x25519, privateKey: clientPrivateKey.toString('hex') }],
    signatures: [],
  });
  // The RFC's server certificate is a 1024-bit RSA self-signed one we do not trust: the chain is described, not verified.
  const config = resolveClientConfig({ servername: 'server', rejectUnauthorized: false, now: () => NOW, cryptoProvider: provider });
  const keyLog = new Map<string, Buffer>();
  const data: Buffer[] = [];
  const tickets: HandshakeMessage[] = [];
  let result: HandshakeResult | undefined;
  let isPeerClosed = false;
  const connection = new Connection(
    'client',
    provider,
    {
      onHandshakeComplete: (r) => {
        result = r;
      },
      onData: (d) => data.push(Buffer.from(d)),
      onPeerClose: () => {
        isPeerClosed = true;
      },
      onPostHandshake: (m) => tickets.push(m),
      onKeyLog: (line) => {
        const [label, , secret] = line.split(' ');
        if (label !== undefined && secret !== undefined) keyLog.set(label, Buffer.from(secret, 'hex'));
      },
    },
    config.maxHandshakeMessageSize,
    () => NOW,
  );
  const decoded = decodeClientHello(hello.subarray(4));
  const keyShares = [provider.generateKeyExchange(NamedGroup.x25519)];
  connection.start((ctx) =>
    sendFirstClientHello(ctx, config, {
      random: decoded.random,
      sessionId: decoded.legacySessionId,
      keyShares,
      session,
      helloRaw: hello,
      offeredExtensions: new Set(decoded.extensions.map((e) => e.type)),
    }),
  );
  return {
    connection,
    provider,
    keyLog,
    data,
    tickets,
    result: () => {
      if (result === undefined) throw new Error('handshake not complete');
      return result;
    },
    peerClosed: () => isPeerClosed,
  };
}

function expandedOf(trace: Rfc8448Trace, heading: string): Buffer {
  return trace.bytes(heading, 'expanded');
}

/** §3 run once; the §4 test resumes with the session it produced. */
function runSection3(): { run: ClientRun; session: ClientSession; outputs: Buffer[] } {
  const clientPrivate = s3.bytes('{client}  create an ephemeral x25519 key pair', 'private key');
  const hello = s3.bytes('{client}  construct a ClientHello handshake message', 'ClientHello (196 octets)');
  const run = startClient(hello, clientPrivate, undefined);
  const outputs: Buffer[] = [];
  const take = (): Buffer => {
    const out = run.connection.takeOutgoing() ?? Buffer.alloc(0);
    outputs.push(out);
    return out;
  };
  take();
  run.connection.receive(s3.bytes(SEND_SERVER, 'complete record', 0));
  run.connection.receive(s3.bytes(SEND_SERVER, 'complete record', 1));
  take();
  run.connection.receive(s3.bytes(SEND_SERVER, 'complete record', 2));
  const [ticket] = run.tickets;
  if (ticket === undefined) throw new Error('no NewSessionTicket reached the client');
  const config = resolveClientConfig({ servername: 'server', rejectUnauthorized: false, now: () => NOW, cryptoProvider: run.provider });
  const session = sessionFromTicket(ticket, run.result(), config);
  if (session === undefined) throw new Error('the RFC ticket gave no session');
  return { run, session, outputs };
}

describe('RFC 8448 §3 replayed through our client (simple 1-RTT)', () => {
  const { run, session, outputs } = runSection3();

  it('sends the RFC ClientHello record byte for byte (TLS 1.0 record version, RFC 8446 §5.1)', () => {
    assert.deepEqual(outputs[0], s3.bytes(SEND_CLIENT, 'complete record', 0));
  });

  it('derives the RFC handshake, application and exporter secrets from the RFC server flight', () => {
    assert.deepEqual(run.keyLog.get('CLIENT_HANDSHAKE_TRAFFIC_SECRET'), expandedOf(s3, '{server}  derive secret "tls13 c hs traffic"'));
    assert.deepEqual(run.keyLog.get('SERVER_HANDSHAKE_TRAFFIC_SECRET'), expandedOf(s3, '{server}  derive secret "tls13 s hs traffic"'));
    assert.deepEqual(run.keyLog.get('CLIENT_TRAFFIC_SECRET_0'), expandedOf(s3, '{server}  derive secret "tls13 c ap traffic"'));
    assert.deepEqual(run.keyLog.get('SERVER_TRAFFIC_SECRET_0'), expandedOf(s3, '{server}  derive secret "tls13 s ap traffic"'));
    assert.deepEqual(run.keyLog.get('EXPORTER_SECRET'), expandedOf(s3, '{server}  derive secret "tls13 exp master"'));
  });

  it('verifies the RFC server Finished and CertificateVerify (RSA-PSS, verified) and answers with the RFC client Finished record', () => {
    // Our client puts the §D.4 compatibility CCS before its second flight; the rest is the RFC's record to the byte.
    assert.deepEqual(outputs[1], Buffer.concat([CCS_RECORD, s3.bytes(SEND_CLIENT, 'complete record', 1)]));
    assert.equal(run.connection.isConnected, true);
    assert.equal(run.result().isResumed, false);
    assert.equal(run.result().suite.name, 'TLS_AES_128_GCM_SHA256');
  });

  it('reads the RFC NewSessionTicket into the RFC resumption PSK (res master, then "resumption" with the ticket nonce)', () => {
    assert.deepEqual(run.result().resumptionMasterSecret, expandedOf(s3, '{client}  derive secret "tls13 res master"'));
    assert.deepEqual(session.psk, expandedOf(s3, '{server}  generate resumption secret "tls13 resumption"'));
    assert.deepEqual(session.psk, s4.bytes('{client}  extract secret "early"', 'IKM'));
  });

  it('seals the RFC application data record and opens the server one', () => {
    run.connection.write(s3.bytes('{client}  send application_data record', 'payload'));
    assert.deepEqual(run.connection.takeOutgoing(), s3.bytes('{client}  send application_data record', 'complete record'));
    run.connection.receive(s3.bytes('{server}  send application_data record', 'complete record'));
    assert.deepEqual(Buffer.concat(run.data), s3.bytes('{server}  send application_data record', 'payload'));
  });

  it('closes with the RFC close_notify record and takes the server one', () => {
    run.connection.close();
    assert.deepEqual(run.connection.takeOutgoing(), s3.bytes('{client}  send alert record', 'complete record'));
    run.connection.receive(s3.bytes('{server}  send alert record', 'complete record'));
    assert.equal(run.peerClosed(), true);
    assert.deepEqual(run.provider.unused, { random: 0, keyShares: 0, signatures: 0 });
  });
});

describe('RFC 8448 §4 replayed through our client (resumption: the PSK binder)', () => {
  it('fills in the RFC binder for the §3 ticket and sends the RFC ClientHello record byte for byte', () => {
    const { session } = runSection3();
    const sent = s4.bytes(SEND_CLIENT, 'payload (512 octets)');
    const prefix = s4.bytes('{client}  construct a ClientHello handshake message', 'ClientHello (477 octets)');
    assert.deepEqual(sent.subarray(0, prefix.length), prefix);
    // The binder is the last 32 bytes; the engine must compute it (RFC 8446 §4.2.11.2), so it starts as zeros.
    const placeholder = Buffer.concat([sent.subarray(0, sent.length - 32), Buffer.alloc(32)]);
    const run = startClient(placeholder, s4.bytes('{client}  create an ephemeral x25519 key pair', 'private key'), session);
    assert.deepEqual(run.connection.takeOutgoing(), s4.bytes(SEND_CLIENT, 'complete record'));
    assert.deepEqual(placeholder.subarray(sent.length - 32), s4.bytes('{client}  calculate PSK binder', 'finished'));
    assert.equal(run.connection.stateName, 'ExpectServerHello');
  });
});
