import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TlsAlertError } from '../../../../src/tls/alert.js';
import { resolveClientConfig, resolveServerConfig } from '../../../../src/tls/config.js';
import { Connection } from '../../../../src/tls/connection.js';
import { ContentType, ExtensionType, HandshakeType } from '../../../../src/tls/codec/enums.js';
import { decodeRecordSizeLimit, findExtension } from '../../../../src/tls/codec/extensions.js';
import { frameHandshake } from '../../../../src/tls/codec/handshake-frame.js';
import { decodeEncryptedExtensions } from '../../../../src/tls/codec/messages/encrypted-extensions.js';
import { decodeServerHello } from '../../../../src/tls/codec/messages/server-hello.js';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import { suiteInfo, type SuiteInfo } from '../../../../src/tls/crypto/suites.js';
import { startClientHandshake } from '../../../../src/tls/handshake/client/index.js';
import { ExpectClientHello } from '../../../../src/tls/handshake/server/index.js';
import { finishedVerifyData } from '../../../../src/tls/keyschedule/stages.js';
import { Protector } from '../../../../src/tls/record/protector.js';
import { clientOptions, serverOptions } from '../../../fakes/tls-fixtures.js';
import { handshakeMessages, rewriteClientHello, splitRecords } from '../../../fakes/tls-pair.js';

/**
 * record_size_limit (RFC 8449) on our server: a ClientHello from our own
 * client with the extension added, fed to a server Connection; the server's
 * protected records are opened with the secrets from its key log, and the
 * client's Finished is computed here (RFC 8446 §4.4.4), so the limit is
 * checked on the handshake flight, the NewSessionTicket and application data.
 */

function clientHelloWithLimit(limit: Buffer): Buffer {
  const config = resolveClientConfig(clientOptions());
  const hooks = { onHandshakeComplete: () => undefined, onData: () => undefined, onPeerClose: () => undefined };
  const client = new Connection('client', config.provider, hooks, config.maxHandshakeMessageSize, config.now);
  client.start((ctx) => startClientHandshake(ctx, config, undefined));
  const flight = client.takeOutgoing();
  assert.ok(flight !== undefined);
  return rewriteClientHello(flight, (hello) => ({
    ...hello,
    extensions: [...hello.extensions, { type: ExtensionType.record_size_limit, data: limit }],
  }));
}

interface ServerUnderTest {
  readonly server: Connection;
  readonly keyLog: Map<string, Buffer>;
  readonly received: Buffer[];
}

function startServer(): ServerUnderTest {
  const keyLog = new Map<string, Buffer>();
  const received: Buffer[] = [];
  const config = resolveServerConfig(serverOptions({ clientAuth: 'none' }));
  const server = new Connection(
    'server',
    config.provider,
    {
      onHandshakeComplete: () => undefined,
      onData: (data) => received.push(Buffer.from(data)),
      onPeerClose: () => undefined,
      onKeyLog: (line) => {
        const [label, , secret] = line.split(' ');
        if (label !== undefined && secret !== undefined) keyLog.set(label, Buffer.from(secret, 'hex'));
      },
    },
    config.maxHandshakeMessageSize,
    config.now,
  );
  server.start((ctx) => new ExpectClientHello(ctx, config));
  return { server, keyLog, received };
}

function secret(keyLog: Map<string, Buffer>, label: string): Buffer {
  const value = keyLog.get(label);
  assert.ok(value !== undefined, `no ${label} in the key log`);
  return value;
}

/** Opens every protected record in `bytes` in order; returns each record's TLSInnerPlaintext length and the joined content. */
function openAll(protector: Protector, bytes: Buffer): { innerLengths: number[]; content: Buffer } {
  const innerLengths: number[] = [];
  const contents: Buffer[] = [];
  for (const record of splitRecords(bytes)) {
    assert.equal(record[0], ContentType.application_data);
    const opened = protector.open(record.subarray(0, 5), record.subarray(5));
    // No padding is written, so the inner plaintext is the content and the type octet.
    innerLengths.push(record.readUInt16BE(3) - 16);
    assert.equal(opened.content.length + 1, record.readUInt16BE(3) - 16);
    contents.push(opened.content);
  }
  return { innerLengths, content: Buffer.concat(contents) };
}

describe('record_size_limit (RFC 8449 §4) on our server', () => {
  it('keeps every protected record to a client limit of 64: the flight, the ticket and application data', () => {
    const hello = clientHelloWithLimit(Buffer.of(0, 64));
    const { server, keyLog, received } = startServer();
    server.receive(hello);
    const out = server.takeOutgoing();
    assert.ok(out !== undefined);
    const records = splitRecords(out);
    const serverHelloRecord = records[0];
    assert.ok(serverHelloRecord !== undefined && serverHelloRecord[0] === ContentType.handshake);
    // The ServerHello is not protected: not subject to the limit (RFC 8449 §4), one record of its own.
    const [serverHello] = handshakeMessages(serverHelloRecord.subarray(5));
    assert.ok(serverHello !== undefined && serverHello.type === HandshakeType.server_hello);
    const suite: SuiteInfo | undefined = suiteInfo(decodeServerHello(serverHello.body).cipherSuite);
    assert.ok(suite !== undefined);
    const protectedRecords = Buffer.concat(records.filter((r) => r[0] === ContentType.application_data));

    const flight = openAll(new Protector(nodeCryptoProvider, suite, secret(keyLog, 'SERVER_HANDSHAKE_TRAFFIC_SECRET')), protectedRecords);
    // Cut into records of 63 content octets: as many as that takes, where 2^14 would have taken one.
    assert.equal(flight.innerLengths.length, Math.ceil(flight.content.length / 63));
    assert.ok(flight.innerLengths.length > 10, `a certificate flight in ${flight.innerLengths.length} records`);
    assert.ok(
      flight.innerLengths.every((n) => n <= 64),
      `inner plaintexts ${flight.innerLengths.join(' ')}`,
    );
    assert.ok(
      flight.innerLengths.slice(0, -1).every((n) => n === 64),
      'every record but the last is full',
    );
    const messages = handshakeMessages(flight.content);
    assert.deepEqual(
      messages.map((m) => m.type),
      [HandshakeType.encrypted_extensions, HandshakeType.certificate, HandshakeType.certificate_verify, HandshakeType.finished],
    );
    // Our own limit in EncryptedExtensions: 2^14 + 1, TLS 1.3's maximum.
    const ee = decodeEncryptedExtensions(messages[0]?.body ?? Buffer.alloc(0));
    assert.deepEqual(findExtension(ee, ExtensionType.record_size_limit), Buffer.from('4001', 'hex'));

    // The client's Finished over ClientHello..server Finished (RFC 8446 §4.4.4).
    const transcript = Buffer.concat([hello.subarray(5), serverHello.raw, flight.content]);
    const verifyData = finishedVerifyData(
      nodeCryptoProvider,
      suite.hash,
      secret(keyLog, 'CLIENT_HANDSHAKE_TRAFFIC_SECRET'),
      createHash(suite.hash).update(transcript).digest(),
    );
    const clientFinished = new Protector(nodeCryptoProvider, suite, secret(keyLog, 'CLIENT_HANDSHAKE_TRAFFIC_SECRET')).seal(
      ContentType.handshake,
      frameHandshake(HandshakeType.finished, verifyData),
    );
    server.receive(clientFinished);
    assert.equal(server.isConnected, true);

    const data = Buffer.alloc(1000, 0x5a);
    server.write(data);
    const appProtector = new Protector(nodeCryptoProvider, suite, secret(keyLog, 'SERVER_TRAFFIC_SECRET_0'));
    const after = openAll(appProtector, server.takeOutgoing() ?? Buffer.alloc(0));
    assert.ok(
      after.innerLengths.every((n) => n <= 64),
      `inner plaintexts ${after.innerLengths.join(' ')}`,
    );
    const [ticket] = handshakeMessages(after.content);
    assert.equal(ticket?.type, HandshakeType.new_session_ticket, 'the ticket first, cut to the limit too');
    assert.deepEqual(after.content.subarray(ticket.raw.length), data);
    // 1000 bytes in records of at most 63 content octets: 16 records.
    assert.equal(after.innerLengths.length - Math.ceil(ticket.raw.length / 63), Math.ceil(1000 / 63));

    // The client's records are not bound by the client's own limit: ours is 2^14 + 1.
    const clientApp = new Protector(nodeCryptoProvider, suite, secret(keyLog, 'CLIENT_TRAFFIC_SECRET_0'));
    server.receive(clientApp.seal(ContentType.application_data, Buffer.alloc(4000, 1)));
    assert.deepEqual(Buffer.concat(received), Buffer.alloc(4000, 1));
    assert.equal(received.length, 1);
  });

  for (const limit of [0, 1, 63]) {
    it(`refuses a client limit of ${limit} with illegal_parameter: under 64 (RFC 8449 §4)`, () => {
      const { server } = startServer();
      assert.throws(
        () => server.receive(clientHelloWithLimit(Buffer.of(limit >> 8, limit & 0xff))),
        (err: unknown) => err instanceof TlsAlertError && err.alert === 'illegal_parameter' && !err.isRemote,
      );
      // One fatal alert, in plaintext: the handshake never reached a key.
      assert.deepEqual(server.takeOutgoing(), Buffer.from('150303000202' + '2f', 'hex'));
    });
  }

  it('refuses a malformed record_size_limit (three bytes) with decode_error', () => {
    const { server } = startServer();
    assert.throws(
      () => server.receive(clientHelloWithLimit(Buffer.of(0, 64, 0))),
      (err: unknown) => err instanceof TlsAlertError && err.alert === 'decode_error',
    );
  });

  it('takes a limit over 2^14 + 1 as 2^14 + 1 (RFC 8449 §4: a server MUST NOT enforce the protocol maximum on it)', () => {
    assert.equal(decodeRecordSizeLimit(Buffer.from('ffff', 'hex')), 2 ** 14 + 1);
    assert.equal(decodeRecordSizeLimit(Buffer.from('4000', 'hex')), 2 ** 14);
    assert.equal(decodeRecordSizeLimit(Buffer.from('0040', 'hex')), 64);
  });
});
