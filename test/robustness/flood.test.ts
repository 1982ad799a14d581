import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { TlsAlertError } from '../../src/tls/alert.js';
import { ContentType, ExtensionType, HandshakeType } from '../../src/tls/codec/enums.js';
import { decodeClientHello, encodeClientHello, type ClientHello } from '../../src/tls/codec/messages/client-hello.js';
import { createServer, type TlsServer, type TlsSocket } from '../../src/tls/index.js';
import { serverOptions } from '../fakes/tls-fixtures.js';
import { frame, handshakeMessages, makeRecord, splitRecords, TlsPair } from '../fakes/tls-pair.js';
import { exposeGc, mtlsEcho, portOf, probe, Prng, runBounded, seedFromEnv, type ProbeResult } from './flood-tools.js';

/**
 * A hostile-input flood over real sockets against one server with
 * clientAuth 'request': mutated ClientHellos and random records, 20 at a
 * time, with a well-formed mTLS handshake between batches. Nothing may
 * escape as an uncaught exception, the server must keep answering, answer
 * with at most one alert per connection, and its heap must come back down.
 * The seed is fixed unless KEYSMITH_SEED is set; replay a failing run with
 * KEYSMITH_SEED=<seed printed in the message>.
 */

const MUTATED_HELLOS = 2_000;
const RANDOM_RECORDS = 1_000;
const CONCURRENCY = 20;
const BATCH = 250;
const HEAP_GROWTH_LIMIT = 50 * 1024 * 1024;

const seed = seedFromEnv('robustness flood');
const prng = new Prng(seed);
const tag = `(KEYSMITH_SEED=${seed})`;

// ---- inputs ----

/** A real ClientHello record from our client (FakeRandom seeds vary the randoms and shares). */
function realClientHello(variant: number): Buffer {
  const pair = new TlsPair({ seed: `flood-${variant}`, ...(variant % 2 === 1 ? { client: { ALPNProtocols: ['h2', 'http/1.1'] } } : {}) });
  const flight = pair.client.takeOutgoing();
  assert.ok(flight !== undefined);
  return flight;
}

const helloRecords = [realClientHello(0), realClientHello(1), realClientHello(2)];

/** Offsets and widths of every length field of a ClientHello record, found by walking it. */
function lengthFields(record: Buffer): { at: number; width: 1 | 2 | 3 }[] {
  const fields: { at: number; width: 1 | 2 | 3 }[] = [
    { at: 3, width: 2 },
    { at: 6, width: 3 },
  ];
  let at = 9 + 2 + 32;
  fields.push({ at, width: 1 });
  at += 1 + record[at]!;
  fields.push({ at, width: 2 });
  at += 2 + record.readUInt16BE(at);
  fields.push({ at, width: 1 });
  at += 1 + record[at]!;
  fields.push({ at, width: 2 });
  at += 2;
  while (at + 4 <= record.length) {
    const length = record.readUInt16BE(at + 2);
    fields.push({ at: at + 2, width: 2 });
    // Most extension bodies open with their own length: mutate that too.
    if (length >= 2) fields.push({ at: at + 4, width: 2 }, { at: at + 4, width: 1 });
    at += 4 + length;
  }
  return fields;
}

function writeLength(out: Buffer, field: { at: number; width: 1 | 2 | 3 }, value: number): void {
  if (field.width === 1) out[field.at] = value & 0xff;
  else if (field.width === 2) out.writeUInt16BE(value & 0xffff, field.at);
  else out.writeUIntBE(value & 0xffffff, field.at, 3);
}

function readLength(bytes: Buffer, field: { at: number; width: 1 | 2 | 3 }): number {
  return bytes.readUIntBE(field.at, field.width);
}

/** Re-encodes a ClientHello record after an edit of the decoded message (all outer lengths stay right). */
function editHello(record: Buffer, edit: (h: ClientHello) => ClientHello): Buffer {
  const [message] = handshakeMessages(record.subarray(5));
  const hello = decodeClientHello(message!.body);
  return makeRecord(ContentType.handshake, frame(HandshakeType.client_hello, encodeClientHello(edit(hello))), 0x0301);
}

const mutators: readonly ((b: Buffer) => Buffer)[] = [
  // flip a few bits anywhere
  (b) => {
    const out = Buffer.from(b);
    for (let i = 1 + prng.int(4); i > 0; i--) {
      const at = prng.int(out.length);
      out[at] = out[at]! ^ (1 + prng.int(255));
    }
    return out;
  },
  // set one length field to an edge or random value
  (b) => {
    const out = Buffer.from(b);
    const fields = lengthFields(b);
    const field = prng.pick(fields);
    const current = readLength(b, field);
    const max = field.width === 1 ? 0xff : field.width === 2 ? 0xffff : 0xffffff;
    writeLength(out, field, prng.pick([0, 1, current - 1, current + 1, current + 2, max, prng.int(max + 1)]));
    return out;
  },
  // truncate
  (b) => b.subarray(0, 1 + prng.int(b.length - 1)),
  // append garbage
  (b) => Buffer.concat([b, prng.bytes(1 + prng.int(60))]),
  // insert or delete one byte
  (b) => {
    const at = prng.int(b.length);
    return prng.int(2) === 0
      ? Buffer.concat([b.subarray(0, at), prng.bytes(1), b.subarray(at)])
      : Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
  },
  // garbage inside one extension, every outer length kept consistent
  (b) =>
    editHello(b, (h) => {
      const i = prng.int(h.extensions.length);
      const extensions = h.extensions.map((e, j) =>
        j === i ? { type: e.type, data: prng.int(2) === 0 ? prng.bytes(e.data.length) : prng.bytes(prng.int(80)) } : e,
      );
      return { ...h, extensions };
    }),
  // duplicate, drop or reorder extensions; an unknown or a misplaced pre_shared_key
  (b) =>
    editHello(b, (h) => {
      const exts = [...h.extensions];
      switch (prng.int(5)) {
        case 0:
          exts.push(prng.pick(exts));
          break;
        case 1:
          exts.splice(prng.int(exts.length), 1);
          break;
        case 2:
          exts.reverse();
          break;
        case 3:
          exts.unshift({ type: prng.int(0x10000), data: prng.bytes(prng.int(20)) });
          break;
        default:
          exts.unshift({ type: ExtensionType.pre_shared_key, data: prng.bytes(40) });
      }
      return { ...h, extensions: exts };
    }),
  // hostile key shares: all-zero x25519, wrong sizes, other groups (forcing HelloRetryRequest)
  (b) =>
    editHello(b, (h) => {
      const share = prng.pick([
        Buffer.from('0024001d0020' + '00'.repeat(32), 'hex'),
        Buffer.from('0024001d0020' + prng.bytes(32).toString('hex'), 'hex'),
        Buffer.from('0005001d000100', 'hex'),
        Buffer.from('0045001700410400' + '00'.repeat(64), 'hex').subarray(0, 71),
        Buffer.from('0000', 'hex'),
      ]);
      return { ...h, extensions: h.extensions.map((e) => (e.type === ExtensionType.key_share ? { type: e.type, data: share } : e)) };
    }),
  // fixed fields: version, compression, session id, suites
  (b) =>
    editHello(b, (h) => {
      switch (prng.int(4)) {
        case 0:
          return { ...h, legacyVersion: prng.int(0x10000) };
        case 1:
          return { ...h, legacyCompressionMethods: prng.bytes(1 + prng.int(3)) };
        case 2:
          return { ...h, legacySessionId: prng.bytes(prng.int(33)) };
        default:
          return { ...h, cipherSuites: Array.from({ length: 1 + prng.int(5) }, () => prng.int(0x10000)) };
      }
    }),
  // the hello fragmented over several records, sometimes with a stray record in between
  (b) => {
    const content = b.subarray(5);
    const parts: Buffer[] = [];
    for (let at = 0; at < content.length;) {
      const size = 1 + prng.int(80);
      parts.push(makeRecord(ContentType.handshake, content.subarray(at, at + size)));
      at += size;
      if (prng.int(8) === 0) parts.push(makeRecord(prng.pick([20, 21, 23]), prng.bytes(prng.int(4))));
    }
    return Buffer.concat(parts);
  },
  // a sound hello followed by random records: reaches the states after ServerHello (handshake keys set)
  (b) => Buffer.concat([b, randomRecords()]),
];

function mutatedHello(): Buffer {
  let out = prng.pick(helloRecords);
  for (let n = 1 + prng.int(3); n > 0; n--) {
    try {
      out = prng.pick(mutators)(out);
    } catch {
      // A structured edit on bytes an earlier edit broke: fall back to a bit flip next round.
      out = mutators[0]!(out);
    }
  }
  return out;
}

function randomRecords(): Buffer {
  if (prng.int(5) === 0) return prng.bytes(1 + prng.int(500));
  const parts: Buffer[] = [];
  for (let n = 1 + prng.int(3); n > 0; n--) {
    const type = prng.pick([20, 21, 22, 23, 23, prng.int(256)]);
    const version = prng.pick([0x0303, 0x0301, 0x0304, prng.int(0x10000)]);
    const length = prng.pick([0, 1, 2, prng.int(300), prng.int(3000), 2 ** 14, 2 ** 14 + 256, 2 ** 14 + 257, 0xffff]);
    const header = Buffer.of(type, version >> 8, version & 0xff, length >> 8, length & 0xff);
    const bodyLength = prng.int(4) === 0 ? prng.int(length + 1) : Math.min(length, 2 ** 14 + 300);
    parts.push(header, prng.bytes(bodyLength));
  }
  return Buffer.concat(parts);
}

// ---- checks ----

/** STYLE §4: at most one alert, fatal, and nothing after it. */
function checkResponse(response: Buffer, input: Buffer): string | undefined {
  const records = splitRecords(response);
  const alertIndexes = records.flatMap((r, i) => (r[0] === ContentType.alert ? [i] : []));
  if (alertIndexes.length > 1) return `two plaintext alerts in answer to ${input.toString('hex')}: ${response.toString('hex')}`;
  const [index] = alertIndexes;
  if (index === undefined) return undefined;
  const alert = records[index]!;
  if (alert.length !== 7 || alert[5] !== 2) return `malformed or non-fatal alert ${alert.toString('hex')} for ${input.toString('hex')}`;
  if (index !== records.length - 1) return `records after the alert for ${input.toString('hex')}`;
  return undefined;
}

describe('Flood of hostile input against one TLS server (real sockets, clientAuth request)', () => {
  let server: TlsServer;
  let port: number;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    uncaught.push(err);
  };
  const serverErrors = new Map<string, number>();
  const internalErrors: TlsAlertError[] = [];
  const peers: string[] = [];

  before(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    server = createServer(serverOptions({ handshakeTimeoutMs: 3_000 }), (socket: TlsSocket) => {
      peers.push(socket.peer?.leaf.subject ?? '(none)');
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
      socket.on('end', () => socket.end());
    });
    server.on('tlsClientError', (err: unknown) => {
      const name =
        err instanceof TlsAlertError ? `${err.isRemote ? 'received ' : ''}${err.alert}` : err instanceof Error ? err.name : 'unknown';
      serverErrors.set(name, (serverErrors.get(name) ?? 0) + 1);
      if (err instanceof TlsAlertError && err.alert === 'internal_error' && !err.isRemote) internalErrors.push(err);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = portOf(server);
  });

  after(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    if (server.listening) {
      server.close();
      await once(server, 'close');
    }
  });

  it('survives 2000 mutated ClientHellos and 1000 random records: one alert at most per connection, no stall, no crash, mTLS still works, heap bounded', async (t) => {
    const gc = exposeGc();
    const inputs: { kind: 'hello' | 'records'; bytes: Buffer }[] = [
      ...Array.from({ length: MUTATED_HELLOS }, () => ({ kind: 'hello' as const, bytes: mutatedHello() })),
      ...Array.from({ length: RANDOM_RECORDS }, () => ({ kind: 'records' as const, bytes: randomRecords() })),
    ];
    // Interleave the two kinds.
    for (let i = inputs.length - 1; i > 0; i--) {
      const j = prng.int(i + 1);
      [inputs[i], inputs[j]] = [inputs[j]!, inputs[i]!];
    }

    const problems: string[] = [];
    let stalls = 0;
    let silent = 0;
    let answeredWithServerHello = 0;
    let baseline: number | undefined;
    const started = performance.now();

    for (let start = 0; start < inputs.length; start += BATCH) {
      const batch = inputs.slice(start, start + BATCH);
      const results: ProbeResult[] = await runBounded(
        batch.map((input) => () => probe(port, input.bytes)),
        CONCURRENCY,
      );
      results.forEach((result, i) => {
        const input = batch[i]!.bytes;
        if (!result.isClosed) stalls++;
        if (result.isSilent) silent++;
        if (result.response[0] === ContentType.handshake && result.response[5] === HandshakeType.server_hello) answeredWithServerHello++;
        const problem = checkResponse(result.response, input);
        if (problem !== undefined) problems.push(problem);
      });
      // A well-formed mTLS handshake between batches: the server still serves real clients.
      await mtlsEcho(port, 5_000, `batch ${start}`);
      if (baseline === undefined) {
        gc();
        baseline = process.memoryUsage().heapUsed;
      }
    }

    assert.ok(server.listening, 'the server is still listening');
    await mtlsEcho(port, 5_000, 'final');
    gc();
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - baseline!;
    const elapsed = performance.now() - started;

    t.diagnostic(
      `seed ${seed}; ${inputs.length} probes in ${Math.round(elapsed)} ms; ServerHello answers ${answeredWithServerHello}; silent ${silent}; heap growth ${(heapGrowth / 1048576).toFixed(1)} MB`,
    );
    t.diagnostic(`server-side failures: ${JSON.stringify(Object.fromEntries([...serverErrors].sort((a, b) => b[1] - a[1])))}`);

    assert.deepEqual(uncaught.map(String), [], `no uncaught exception or rejection ${tag}`);
    assert.deepEqual(
      internalErrors.map((e) => `${e.message} <- ${String(e.cause)}`),
      [],
      `hostile input never reaches internal_error (our bug) ${tag}`,
    );
    assert.deepEqual(problems.slice(0, 5), [], `alert discipline ${tag}`);
    assert.equal(stalls, 0, `the server closed every connection within 2 s of our FIN ${tag}`);
    assert.ok(peers.length >= Math.ceil(inputs.length / BATCH) + 1, 'every mTLS check reached the server');
    assert.ok(
      peers.every((p) => p === 'CN=keysmith test client'),
      `the server saw the client certificate each time: ${peers.join(', ')}`,
    );
    assert.ok(heapGrowth < HEAP_GROWTH_LIMIT, `heap grew by ${heapGrowth} bytes ${tag}`);
  });
});
