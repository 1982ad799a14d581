import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { ContentType, ExtensionType, HandshakeType, NamedGroup, SignatureScheme } from '../../src/tls/codec/enums.js';
import { encodeClientKeyShares, encodeU16List } from '../../src/tls/codec/extensions.js';
import { CLIENT_HELLO_MAX_LENGTH, frameHandshake } from '../../src/tls/codec/handshake-frame.js';
import { encodeClientHello } from '../../src/tls/codec/messages/client-hello.js';
import { HostileService, LatencyReport } from './harness.js';

/**
 * Hostile TLS records against `keysmith serve` as a child process: tiny-record floods, an oversized ClientHello, an
 * empty alert record, a pre-SSL 3.0 legacy_version. Each attacker must get
 * its one fatal alert, /healthz must stay fast meanwhile, and the child must
 * stay up.
 *
 * The p99 bound: /healthz answered within 80 ms at the 99th percentile while
 * ten attackers, for 3 s, each open a connection every ~100 ms and send a
 * 64 KiB handshake message in 1-byte records (393 KB per connection). Each
 * attack costs the child ~2,562 records (well under a millisecond) before the
 * fragment budget refuses it; before the budget and linear reassembly, one
 * such message took ~212 ms of one turn and ten stalled the listener 2.8 s.
 * Measured on the shared, busy 2-core machine (load average ~8): p99 18-58 ms
 * in seven runs, while the same child with no attack showed p99 11-47 ms (max
 * up to 119 ms) over 3 s: most of what the bound allows is the machine's noise.
 */
const P99_BOUND_MS = 80;
const ATTACKERS = 10;
/** Each attacker reconnects and sends again until this much time has passed (a bounded loop)... */
const ATTACK_MS = 3_000;
/** ...waiting this long between its connections: ~10 floods a second each, ~100 a second in all. */
const ATTACKER_PAUSE_MS = 100;
const WARM_UP_MS = 150;

function afterWarmUp(report: LatencyReport): LatencyReport {
  return new LatencyReport(report.probes.filter((p) => p.at >= WARM_UP_MS));
}

const alertRecord = (description: number): number[] => [ContentType.alert, 3, 3, 0, 2, 2, description];
const UNEXPECTED_MESSAGE = 10;
const DECODE_ERROR = 50;
const PROTOCOL_VERSION = 70;

function record(type: number, content: Uint8Array, version = 0x0301): Buffer {
  const out = Buffer.alloc(5 + content.length);
  out[0] = type;
  out.writeUInt16BE(version, 1);
  out.writeUInt16BE(content.length, 3);
  out.set(content, 5);
  return out;
}

/** A handshake message cut into records of `size` bytes. */
function inRecords(message: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < message.length; at += size) parts.push(record(ContentType.handshake, message.subarray(at, at + size)));
  return Buffer.concat(parts);
}

/** Sends `bytes` on a raw connection and returns everything the server sent until it closed (bounded: 10 s). */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket: Socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 10 s; got ${Buffer.concat(chunks).toString('hex')}`));
    }, 10_000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    // The server closes with our unread records behind it: a reset after its alert is expected.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * Runs ATTACKERS loops on a worker thread for ATTACK_MS: each connects, writes
 * `flood`, collects what the server sends until it closes, pauses, and goes
 * again. Resolves with every reply.
 */
function runAttackers(port: number, flood: Buffer): Promise<Buffer[]> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { connect } = require('node:net');
    const { port, flood, attackers, attackMs, pauseMs } = workerData;
    const exchange = () => new Promise((resolve) => {
      const chunks = [];
      const socket = connect(port, '127.0.0.1', () => socket.write(flood));
      const guard = setTimeout(() => socket.destroy(), 10000);
      socket.on('data', (d) => chunks.push(d));
      socket.on('error', () => undefined);
      socket.on('close', () => { clearTimeout(guard); resolve(Buffer.concat(chunks)); });
    });
    const started = performance.now();
    Promise.all(Array.from({ length: attackers }, async () => {
      const mine = [];
      while (performance.now() - started < attackMs) {
        mine.push(await exchange());
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
      return mine;
    })).then((all) => parentPort.postMessage(all.flat().map((b) => b.toString('hex'))));
  `;
  const worker = new Worker(source, {
    eval: true,
    workerData: { port, flood, attackers: ATTACKERS, attackMs: ATTACK_MS, pauseMs: ATTACKER_PAUSE_MS },
  });
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      void worker.terminate();
      reject(new Error('attackers did not finish within 30 s'));
    }, 30_000);
    worker.once('message', (hex: string[]) => {
      clearTimeout(guard);
      void worker.terminate();
      resolve(hex.map((h) => Buffer.from(h, 'hex')));
    });
    worker.once('error', (err) => {
      clearTimeout(guard);
      reject(err);
    });
  });
}

/** An X25519 share from a key exported as DER (never JWK: the Node 20 hazard in PERF-NOTES). */
function x25519Share(): Buffer {
  const der = generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32);
}

function clientHello(options: { legacyVersion?: number; signatureSchemes?: readonly number[] } = {}): Buffer {
  const body = encodeClientHello({
    legacyVersion: options.legacyVersion ?? 0x0303,
    random: Buffer.alloc(32, 7),
    legacySessionId: Buffer.alloc(32, 1),
    cipherSuites: [0x1301],
    legacyCompressionMethods: Buffer.of(0),
    extensions: [
      { type: ExtensionType.supported_versions, data: Buffer.of(2, 3, 4) },
      { type: ExtensionType.supported_groups, data: encodeU16List([NamedGroup.x25519]) },
      { type: ExtensionType.key_share, data: encodeClientKeyShares([{ group: NamedGroup.x25519, keyExchange: x25519Share() }]) },
      {
        type: ExtensionType.signature_algorithms,
        data: encodeU16List(options.signatureSchemes ?? [SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.rsa_pss_rsae_sha256]),
      },
    ],
  });
  return frameHandshake(HandshakeType.client_hello, body);
}

describe('hostile TLS records against keysmith serve', () => {
  let service: HostileService;
  before(async () => {
    service = await HostileService.start();
  });
  after(async () => {
    await service.stop();
  });

  it(`keeps /healthz p99 under ${P99_BOUND_MS} ms while ${ATTACKERS} connections at a time send 64 KiB handshake messages in 1-byte records, each refused with unexpected_message`, async () => {
    await service.assertHealthy('before the flood');
    // A ClientHello header announcing 64 KiB, its body one byte per record: 65,540 records, 393 KB per connection.
    const flood = inRecords(frameHandshake(HandshakeType.client_hello, Buffer.alloc(65_536, 0x41)), 1);
    // The probe's keep-alive connection (and its handshake) is made before the attack starts.
    const baseline = await service.startLatencyProbe(20);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const quiet = afterWarmUp(await baseline.stop());
    const probe = await service.startLatencyProbe(20);
    // The first probe opens the keep-alive connection (a full handshake): it is left out of the figures.
    await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
    const started = performance.now();
    // The attackers run on a worker thread, so their own work does not delay the probe's event loop here.
    const replies = await runAttackers(service.port, flood);
    const attackMs = performance.now() - started;
    const report = afterWarmUp(await probe.stop());
    const all = replies;
    assert.ok(all.length >= ATTACKERS);
    for (const reply of all)
      assert.deepEqual([...reply], alertRecord(UNEXPECTED_MESSAGE), 'each attacker gets exactly one unexpected_message alert');
    assert.deepEqual(report.failures, [], report.describe());
    assert.ok(report.probes.length >= 5, `${report.describe()} over ${attackMs.toFixed(0)} ms of attack`);
    assert.ok(report.p99 < P99_BOUND_MS, `${report.describe()} over ${attackMs.toFixed(0)} ms of attack`);
    console.log(
      `# tls-records flood: ${all.length} attack connections in ${attackMs.toFixed(0)} ms; /healthz ${report.describe()}; quiet: ${quiet.describe()}`,
    );
    await service.assertHealthy('after the flood');
  });

  it(`answers a ClientHello header announcing ${CLIENT_HELLO_MAX_LENGTH + 1} bytes with decode_error (RFC 8446 §4.1.2) and stays up`, async () => {
    const header = Buffer.of(HandshakeType.client_hello, 0, 0, 0);
    header.writeUIntBE(CLIENT_HELLO_MAX_LENGTH + 1, 1, 3);
    const reply = await exchange(service.port, record(ContentType.handshake, Buffer.concat([header, Buffer.alloc(100)])));
    assert.deepEqual([...reply], alertRecord(DECODE_ERROR));
    await service.assertHealthy('after the oversized ClientHello');
  });

  it('answers a 65.5 KB ClientHello with 32,715 signature schemes (in 2^14-byte records) with its ServerHello', async () => {
    const schemes = [
      ...Array.from({ length: 32_713 }, (_, i) => 0xfe00 - i),
      SignatureScheme.rsa_pss_rsae_sha256,
      SignatureScheme.ecdsa_secp256r1_sha256,
    ];
    const hello = clientHello({ signatureSchemes: schemes });
    assert.ok(hello.length > 65_500);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect(service.port, '127.0.0.1', () => socket.write(inRecords(hello, 2 ** 14)));
      const guard = setTimeout(() => {
        socket.destroy();
        reject(new Error('no ServerHello within 10 s'));
      }, 10_000);
      socket.on('error', () => undefined);
      socket.once('data', (d: Buffer) => {
        clearTimeout(guard);
        socket.destroy();
        resolve(d);
      });
    });
    assert.equal(reply[0], ContentType.handshake, `reply ${reply.subarray(0, 16).toString('hex')}`);
    assert.equal(reply[5], HandshakeType.server_hello);
    await service.assertHealthy('after the large ClientHello');
  });

  it('answers a zero-length alert record with unexpected_message (RFC 8446 §5.4) and stays up', async () => {
    const reply = await exchange(service.port, record(ContentType.alert, Buffer.alloc(0), 0x0303));
    assert.deepEqual([...reply], alertRecord(UNEXPECTED_MESSAGE));
    await service.assertHealthy('after the empty alert');
  });

  it('answers ClientHello.legacy_version 0x0200 with protocol_version though supported_versions offers TLS 1.3 (RFC 8446 §4.1.2, D.5)', async () => {
    const reply = await exchange(service.port, record(ContentType.handshake, clientHello({ legacyVersion: 0x0200 })));
    assert.deepEqual([...reply], alertRecord(PROTOCOL_VERSION));
    await service.assertHealthy('after the SSL 2.0 legacy_version');
  });
});
