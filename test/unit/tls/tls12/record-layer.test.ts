import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import { TLS12_SUITES, type Tls12SuiteInfo } from '../../../../src/tls/crypto/suites.js';
import { ContentType, HandshakeType, Tls12CipherSuite } from '../../../../src/tls/codec/enums.js';
import { Inbox } from '../../../../src/tls/inbox.js';
import { Outbox } from '../../../../src/tls/outbox.js';
import { Connection } from '../../../../src/tls/connection.js';
import { StateBase, type HandshakeContext, type HandshakeState } from '../../../../src/tls/handshake/state.js';
import type { HandshakeMessage } from '../../../../src/tls/codec/handshake-frame.js';
import { frameHandshake } from '../../../../src/tls/codec/handshake-frame.js';
import { Protector12 } from '../../../../src/tls/record/protector12.js';
import { TlsAlertError } from '../../../../src/tls/alert.js';
import { assertAlert } from '../messages/codec-properties.js';

const crypto = nodeCryptoProvider;
const SUITE = TLS12_SUITES.get(Tls12CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) as Tls12SuiteInfo;
const KEYS = { key: Buffer.alloc(16, 5), iv: Buffer.alloc(4, 6) };

function record(type: number, body: Buffer): { type: number; header: Buffer; body: Buffer } {
  const header = Buffer.of(type, 3, 3, 0, 0);
  header.writeUInt16BE(body.length, 3);
  return { type, header, body };
}

const CCS = record(ContentType.change_cipher_spec, Buffer.of(1));

function sealed(type: ContentType, content: Buffer): { type: number; header: Buffer; body: Buffer } {
  const bytes = new Protector12(crypto, SUITE, KEYS).seal(type, content);
  return { type, header: bytes.subarray(0, 5), body: bytes.subarray(5) };
}

describe('TLS 1.2 inbox: ChangeCipherSpec switches the read state (RFC 5246 §7.1)', () => {
  it('answers a ChangeCipherSpec nobody expects with unexpected_message', () => {
    const inbox = new Inbox(crypto, 'server');
    inbox.useTls12();
    assertAlert(() => inbox.open(CCS, true), 'unexpected_message');
  });

  it('answers a malformed ChangeCipherSpec (not the single byte 1) with unexpected_message', () => {
    for (const body of [Buffer.of(2), Buffer.of(1, 1), Buffer.alloc(0)]) {
      const inbox = new Inbox(crypto, 'server');
      inbox.useTls12();
      inbox.expectChangeCipherSpec(new Protector12(crypto, SUITE, KEYS));
      assertAlert(() => inbox.open(record(ContentType.change_cipher_spec, body), true), 'unexpected_message');
    }
  });

  it('answers a ChangeCipherSpec in the middle of a handshake message with unexpected_message', () => {
    const inbox = new Inbox(crypto, 'server', () => true);
    inbox.useTls12();
    inbox.expectChangeCipherSpec(new Protector12(crypto, SUITE, KEYS));
    assertAlert(() => inbox.open(CCS, true), 'unexpected_message');
  });

  it('reads plaintext before the CCS, then opens protected records of their real outer type after it', () => {
    const inbox = new Inbox(crypto, 'server');
    inbox.useTls12();
    const hello = record(ContentType.handshake, Buffer.from('0e000000', 'hex'));
    assert.deepEqual(inbox.open(hello, true), { type: ContentType.handshake, content: hello.body });
    inbox.expectChangeCipherSpec(new Protector12(crypto, SUITE, KEYS));
    assertAlert(() => inbox.checkNotAwaitingChangeCipherSpec(), 'unexpected_message');
    assert.equal(inbox.open(CCS, true), undefined);
    inbox.checkNotAwaitingChangeCipherSpec();
    const finished = inbox.open(sealed(ContentType.handshake, Buffer.from('1400000c' + '00'.repeat(12), 'hex')), true);
    assert.equal(finished?.type, ContentType.handshake);
    assert.equal(finished?.content.toString('hex'), '1400000c' + '00'.repeat(12));
    // A second CCS is not expected any more.
    assertAlert(() => inbox.open(CCS, false), 'unexpected_message');
  });

  it('refuses application data before keys and a plaintext record over 2^14 bytes', () => {
    const inbox = new Inbox(crypto, 'server');
    inbox.useTls12();
    assertAlert(() => inbox.open(record(ContentType.application_data, Buffer.of(1)), true), 'unexpected_message');
    assertAlert(() => inbox.open(record(ContentType.handshake, Buffer.alloc(2 ** 14 + 1)), true), 'record_overflow');
  });

  it('takes TLS 1.2 ciphertexts up to 2^14 + 2048 bytes off the wire and no more', () => {
    const inbox = new Inbox(crypto, 'server');
    inbox.useTls12();
    const header = Buffer.of(ContentType.application_data, 3, 3, 0, 0);
    header.writeUInt16BE(2 ** 14 + 2048, 3);
    inbox.push(header);
    assert.equal(inbox.nextRecord(), undefined);
    const over = new Inbox(crypto, 'server');
    over.useTls12();
    header.writeUInt16BE(2 ** 14 + 2049, 3);
    over.push(header);
    assertAlert(() => over.nextRecord(), 'record_overflow');
  });
});

describe('TLS 1.2 outbox: records say 0x0303, CCS then the new write state', () => {
  it('sends the flight in plaintext, then CCS, then protected records a Protector12 opens', () => {
    const outbox = new Outbox(crypto, 'client', { startFlight: () => undefined });
    outbox.useTls12();
    outbox.queueHandshake(HandshakeType.client_key_exchange, Buffer.from('0102', 'hex'));
    outbox.changeWriteCipher(new Protector12(crypto, SUITE, KEYS));
    outbox.queueHandshake(HandshakeType.finished, Buffer.alloc(12, 9));
    outbox.flushHandshake();
    const chunks = outbox.takeChunks();
    assert.equal(chunks.length, 3);
    assert.equal(chunks[0]?.toString('hex'), '1603030006' + '10000002' + '0102');
    assert.equal(chunks[1]?.toString('hex'), '140303000101');
    const protectedRecord = chunks[2] ?? Buffer.alloc(0);
    assert.equal(protectedRecord.subarray(0, 3).toString('hex'), '160303');
    const opened = new Protector12(crypto, SUITE, KEYS).open(protectedRecord.subarray(0, 5), protectedRecord.subarray(5));
    assert.ok(opened.content.equals(frameHandshake(HandshakeType.finished, Buffer.alloc(12, 9))));
  });
});

/** A stand-in handshake that switches to TLS 1.2 and expects the peer's CCS, to test the connection's rules alone. */
class ExpectsCcs extends StateBase {
  readonly name = 'ExpectsCcs';
  constructor(private readonly ctx: HandshakeContext) {
    super();
  }
  protected process(): HandshakeState {
    this.ctx.useTls12();
    this.ctx.expectChangeCipherSpec(new Protector12(crypto, SUITE, KEYS));
    return new Completes(this.ctx);
  }
}

class Completes extends StateBase {
  readonly name = 'Completes';
  constructor(private readonly ctx: HandshakeContext) {
    super();
  }
  protected process(message: HandshakeMessage): HandshakeState {
    this.ctx.complete({
      suite: SUITE,
      group: undefined,
      alpnProtocol: false,
      servername: undefined,
      peer: undefined,
      isResumed: false,
      ocspResponse: undefined,
      resumptionMasterSecret: message.body,
    });
    return this;
  }
}

function serverConnection(): { connection: Connection; outgoing: () => Buffer } {
  const hooks = { onHandshakeComplete: () => undefined, onData: () => undefined, onPeerClose: () => undefined };
  const connection = new Connection('server', crypto, hooks, 65536, () => 0);
  connection.start((ctx) => new ExpectsCcs(ctx));
  return { connection, outgoing: () => connection.takeOutgoing() ?? Buffer.alloc(0) };
}

function wire(type: number, body: Buffer): Buffer {
  const header = Buffer.of(type, 3, 3, 0, 0);
  header.writeUInt16BE(body.length, 3);
  return Buffer.concat([header, body]);
}

function receiveAlert(connection: Connection, bytes: Buffer): string {
  try {
    connection.receive(bytes);
  } catch (err) {
    assert.ok(err instanceof TlsAlertError);
    return err.alert;
  }
  return 'none';
}

describe('TLS 1.2 connection: the handshake waits for the peer CCS; renegotiation is refused', () => {
  const hello = wire(ContentType.handshake, frameHandshake(HandshakeType.client_hello, Buffer.alloc(4)));
  const finished = frameHandshake(HandshakeType.finished, Buffer.alloc(12));

  it('a handshake message before the expected CCS is unexpected_message, with the one fatal alert sent', () => {
    const { connection, outgoing } = serverConnection();
    assert.equal(receiveAlert(connection, Buffer.concat([hello, wire(ContentType.handshake, finished)])), 'unexpected_message');
    assert.equal(outgoing().toString('hex'), '15030300020' + '20a');
  });

  it('after the CCS the protected Finished completes it; a ClientHello after that gets a warning no_renegotiation and the connection ends', () => {
    const { connection, outgoing } = serverConnection();
    const protectedFinished = new Protector12(crypto, SUITE, KEYS).seal(ContentType.handshake, finished);
    connection.receive(Buffer.concat([hello, wire(ContentType.change_cipher_spec, Buffer.of(1)), protectedFinished]));
    assert.equal(connection.isConnected, true);
    // TLS 1.2 has no KeyUpdate: asking for one is the caller's error, and the connection stays up.
    assert.throws(() => connection.updateKeys(false), /TLS 1\.2 has no KeyUpdate/);
    assert.equal(connection.isConnected, true);
    const writer = new Protector12(crypto, SUITE, KEYS);
    writer.seal(ContentType.handshake, finished);
    const renegotiation = writer.seal(ContentType.handshake, frameHandshake(HandshakeType.client_hello, Buffer.alloc(4)));
    assert.equal(receiveAlert(connection, renegotiation), 'no_renegotiation');
    // RFC 5246 §7.2.2: no_renegotiation is always a warning (level 1); this test's server never changed its write cipher.
    assert.equal(outgoing().toString('hex'), '15030300020164');
    assert.equal(connection.isClosed, true);
  });
});
