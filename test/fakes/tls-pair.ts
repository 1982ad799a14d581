import { createCipheriv } from 'node:crypto';
import { nodeCryptoProvider } from '../../src/tls/crypto/node-provider.js';
import { alertName, TlsAlertError } from '../../src/tls/alert.js';
import { CipherSuite, ContentType, HandshakeType } from '../../src/tls/codec/enums.js';
import { frameHandshake, type HandshakeMessage } from '../../src/tls/codec/handshake-frame.js';
import { decodeClientHello, encodeClientHello, type ClientHello } from '../../src/tls/codec/messages/client-hello.js';
import { resolveClientConfig, resolveServerConfig, type ClientConfig, type ServerConfig } from '../../src/tls/config.js';
import { Connection } from '../../src/tls/connection.js';
import type { CryptoProvider } from '../../src/tls/crypto/provider.js';
import { suiteInfo, type SuiteInfo } from '../../src/tls/crypto/suites.js';
import { sessionFromTicket, startClientHandshake } from '../../src/tls/handshake/client/index.js';
import type { ClientSession } from '../../src/tls/tickets.js';
import { ExpectClientHello } from '../../src/tls/handshake/server/index.js';
import type { HandshakeResult } from '../../src/tls/handshake/state.js';
import { nextTrafficSecret, trafficKeys } from '../../src/tls/keyschedule/stages.js';
import type { TlsConnectOptions, TlsServerOptions } from '../../src/tls/options.js';
import { Protector } from '../../src/tls/record/protector.js';
import { FakeRandom } from './fake-random.js';
import { clientOptions, serverOptions } from './tls-fixtures.js';

/**
 * Two engine Connections joined by an in-memory pipe, after rustls'
 * `make_pair` / `transfer_altered` (rustls-test/src/lib.rs). `pump()` moves
 * each side's `takeOutgoing()` into the other's `receive()`; a tamper hook
 * sees every flight in flight and may flip, drop, reorder or duplicate.
 *
 * Both sides log their secrets to the pair (SSLKEYLOGFILE lines), so the pipe
 * can read what each side sent even when it is encrypted: every record is
 * decoded into `sent.client` / `sent.server`, which is how the tests count
 * alerts ("exactly one, never in reply to one"). The same keys let a tamper
 * hook change a protected message and seal it again (`WireRecord.reseal`),
 * which is how a wrong Finished reaches the peer intact.
 */

export type Side = 'client' | 'server';
export type Direction = 'client-to-server' | 'server-to-client';

export function senderOf(direction: Direction): Side {
  return direction === 'client-to-server' ? 'client' : 'server';
}

export function other(side: Side): Side {
  return side === 'client' ? 'server' : 'client';
}

/** A record as it left its sender, with the content the sender meant. */
export interface WireRecord {
  /** The whole record: header and body. */
  readonly raw: Buffer;
  readonly outerType: number;
  readonly isProtected: boolean;
  /** The real content type: the outer type, or the inner one of a protected record; undefined if it could not be opened. */
  readonly type: number | undefined;
  readonly content: Buffer | undefined;
  /** Which key protected it: 0 = handshake traffic secret, 1 = application_traffic_secret_0, 2 = after one KeyUpdate, … */
  readonly generation: number | undefined;
  readonly sequence: number | undefined;
  /** The record with new inner content, sealed under the same key and sequence number (protected records only). */
  reseal(type: ContentType, content: Uint8Array, padding?: number): Buffer;
}

/** Sees each flight before delivery and returns what is delivered instead (empty to drop it). */
export type Tamper = (direction: Direction, bytes: Buffer, records: readonly WireRecord[]) => Buffer;

export interface PairOptions {
  readonly server?: Partial<TlsServerOptions>;
  readonly client?: Partial<TlsConnectOptions>;
  readonly tamper?: Tamper;
  /** Seeds for the two FakeRandom providers; same seeds, same bytes on the wire. */
  readonly seed?: string;
  readonly serverProvider?: CryptoProvider;
  readonly clientProvider?: CryptoProvider;
  /** A server config to share with an earlier pair (same ticket keys, for resumption); `server` is then ignored. */
  readonly serverConfig?: ServerConfig;
  /** A ticket to offer (see `TlsPair.session()`). */
  readonly session?: ClientSession;
}

/** A receive() that threw: which side, and the error. */
export interface PairFailure {
  readonly side: Side;
  readonly error: TlsAlertError;
}

export class TlsPair {
  readonly client: Connection;
  readonly server: Connection;
  readonly clientConfig: ClientConfig;
  readonly serverConfig: ServerConfig;
  tamper: Tamper | undefined;

  /** Every record each side sent, decoded; records injected with deliver() are not here. */
  readonly sent: Record<Side, WireRecord[]> = { client: [], server: [] };
  /** The first error each side's engine threw. */
  readonly errors: Record<Side, TlsAlertError | undefined> = { client: undefined, server: undefined };
  readonly failures: PairFailure[] = [];
  readonly results: Record<Side, HandshakeResult | undefined> = { client: undefined, server: undefined };
  readonly data: Record<Side, Buffer[]> = { client: [], server: [] };
  readonly peerClosed: Record<Side, boolean> = { client: false, server: false };
  /** Post-handshake messages the client handed to its role (NewSessionTicket). */
  readonly tickets: HandshakeMessage[] = [];
  /** The sessions the client made of those tickets. */
  readonly sessions: ClientSession[] = [];
  readonly keyLog: Record<Side, Map<string, Buffer>> = { client: new Map(), server: new Map() };
  private readonly keys: Record<Direction, DirectionKeys>;

  constructor(options: PairOptions = {}) {
    const seed = options.seed ?? 'tls-pair';
    const serverProvider = options.serverProvider ?? new FakeRandom(`${seed}/server`);
    const clientProvider = options.clientProvider ?? new FakeRandom(`${seed}/client`);
    this.tamper = options.tamper;
    this.serverConfig = options.serverConfig ?? resolveServerConfig(serverOptions(options.server), serverProvider);
    this.clientConfig = resolveClientConfig(clientOptions(options.client), clientProvider);
    this.keys = {
      'client-to-server': new DirectionKeys(this.keyLog.client, 'CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0'),
      'server-to-client': new DirectionKeys(this.keyLog.server, 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_TRAFFIC_SECRET_0'),
    };
    // Wired as src/tls/net/server.ts and net/client.ts wire them, minus the sockets.
    this.server = new Connection(
      'server',
      this.serverConfig.provider,
      this.hooks('server'),
      this.serverConfig.maxHandshakeMessageSize,
      this.serverConfig.now,
    );
    this.client = new Connection(
      'client',
      this.clientConfig.provider,
      {
        ...this.hooks('client'),
        // As net/client.ts does: a ticket becomes a session, and a bad ticket fails the connection.
        onPostHandshake: (message) => {
          this.tickets.push(message);
          const session = sessionFromTicket(message, this.results.client!, this.clientConfig);
          if (session !== undefined) this.sessions.push(session);
        },
      },
      this.clientConfig.maxHandshakeMessageSize,
      this.clientConfig.now,
    );
    this.server.start((ctx) => new ExpectClientHello(ctx, this.serverConfig));
    this.client.start((ctx) => startClientHandshake(ctx, this.clientConfig, options.session));
  }

  /** The session the client kept from the n-th usable NewSessionTicket. */
  session(n = 0): ClientSession {
    const session = this.sessions[n];
    if (session === undefined) throw new Error('no usable ticket received yet');
    return session;
  }

  private hooks(side: Side): {
    onHandshakeComplete(result: HandshakeResult): void;
    onData(data: Buffer): void;
    onPeerClose(): void;
    onKeyLog(line: string): void;
  } {
    return {
      onHandshakeComplete: (result) => {
        this.results[side] = result;
      },
      onData: (data) => {
        this.data[side].push(Buffer.from(data));
      },
      onPeerClose: () => {
        this.peerClosed[side] = true;
      },
      onKeyLog: (line) => {
        const [label, , secret] = line.split(' ');
        if (label !== undefined && secret !== undefined) this.keyLog[side].set(label, Buffer.from(secret, 'hex'));
      },
    };
  }

  connection(side: Side): Connection {
    return side === 'client' ? this.client : this.server;
  }

  /**
   * Moves bytes both ways until neither side has anything to send (or
   * `maxRounds` passes). Returns how many flights moved.
   */
  pump(maxRounds = 64): number {
    let moved = 0;
    for (let round = 0; round < maxRounds; round++) {
      let isIdle = true;
      for (const side of ['client', 'server'] as const) {
        const out = this.connection(side).takeOutgoing();
        if (out === undefined) continue;
        isIdle = false;
        moved++;
        const direction: Direction = side === 'client' ? 'client-to-server' : 'server-to-client';
        const records = this.sniff(direction, out);
        const bytes = this.tamper === undefined ? out : this.tamper(direction, out, records);
        if (bytes.length > 0) this.deliver(direction, bytes);
      }
      if (isIdle) return moved;
    }
    throw new Error(`pump did not settle in ${maxRounds} rounds`);
  }

  /** Runs the handshake to the end and fails loudly if it did not complete. */
  handshake(): this {
    this.pump();
    if (!this.client.isConnected || !this.server.isConnected) {
      throw new Error(
        `handshake did not complete: client ${this.client.stateName}/${this.errors.client?.message ?? 'ok'}, server ${this.server.stateName}/${this.errors.server?.message ?? 'ok'}`,
      );
    }
    return this;
  }

  /** Hands bytes to the receiving side as if they came off the wire (no tamper, no sniffing). */
  deliver(direction: Direction, bytes: Buffer): void {
    const side = other(senderOf(direction));
    try {
      this.connection(side).receive(bytes);
    } catch (err) {
      if (!(err instanceof TlsAlertError)) throw err;
      this.failures.push({ side, error: err });
      this.errors[side] ??= err;
    }
  }

  /** Sends application data from one side (the engine's write), without pumping. */
  write(side: Side, data: Buffer | string): void {
    this.connection(side).write(typeof data === 'string' ? Buffer.from(data) : data);
  }

  /** All application data a side received so far, joined. */
  received(side: Side): Buffer {
    return Buffer.concat(this.data[side]);
  }

  /** Alert names a side sent, in order, read from its (decrypted) records. */
  alertsSent(side: Side): string[] {
    return this.sent[side].filter((r) => r.type === ContentType.alert && r.content?.length === 2).map((r) => alertName(r.content![1]!));
  }

  /**
   * A record the sender never wrote: `content` sealed under the direction's
   * current key at the next sequence number, as the receiver expects it. The
   * sender's own counter does not move, so its later records no longer open.
   */
  forge(direction: Direction, type: number, content: Uint8Array, padding = 0): Buffer {
    return this.keys[direction].forge(Buffer.concat([content, Buffer.of(type), Buffer.alloc(padding)]));
  }

  /**
   * Like forge, but seals `inner` (TLSInnerPlaintext: content, type, zeros)
   * as given, with no size or shape check: for records our own Protector
   * refuses to build, such as 2^14 + 1 bytes of plaintext.
   */
  forgeInner(direction: Direction, inner: Uint8Array): Buffer {
    return this.keys[direction].forge(Buffer.from(inner));
  }

  /** Decodes a flight its sender produced. */
  private sniff(direction: Direction, bytes: Buffer): WireRecord[] {
    const records = splitRecords(bytes).map((raw) => this.keys[direction].decode(raw));
    this.sent[senderOf(direction)].push(...records);
    return records;
  }
}

// ---- keys per direction, for reading and resealing protected records ----

interface Generation {
  readonly secret: Buffer;
  suite: SuiteInfo | undefined;
  opener: Protector | undefined;
}

/** Candidate suites for a secret of this length (the hash decides it). */
function suitesFor(secret: Buffer): SuiteInfo[] {
  const ids =
    secret.length === 48
      ? [CipherSuite.TLS_AES_256_GCM_SHA384]
      : [CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_CHACHA20_POLY1305_SHA256];
  return ids.map((id) => suiteInfo(id)!);
}

/**
 * Seals TLSInnerPlaintext bytes as one record (RFC 8446 §5.2), straight on
 * node:crypto so nothing checks sizes: nonce = iv XOR sequence, AAD = header.
 */
function sealInner(suite: SuiteInfo, secret: Buffer, sequence: number, inner: Buffer): Buffer {
  const { key, iv } = trafficKeys(nodeCryptoProvider, suite.hash, suite.keyLength, secret);
  const nonce = Buffer.from(iv);
  let seq = BigInt(sequence);
  for (let i = 11; i >= 4; i--, seq >>= 8n) nonce[i] = nonce[i]! ^ Number(seq & 0xffn);
  const header = Buffer.of(ContentType.application_data, 3, 3, 0, 0);
  header.writeUInt16BE(inner.length + 16, 3);
  if (suite.aead === 'chacha20-poly1305') {
    const cipher = createCipheriv(suite.aead, key, nonce, { authTagLength: 16 });
    cipher.setAAD(header, { plaintextLength: inner.length });
    return Buffer.concat([header, cipher.update(inner), cipher.final(), cipher.getAuthTag()]);
  }
  const cipher = createCipheriv(suite.aead, key, nonce, { authTagLength: 16 });
  cipher.setAAD(header);
  return Buffer.concat([header, cipher.update(inner), cipher.final(), cipher.getAuthTag()]);
}

/** A Protector for `secret` whose next record uses `sequence`. */
function protectorAt(suite: SuiteInfo, secret: Buffer, sequence: number): Protector {
  const p = new Protector(nodeCryptoProvider, suite, secret);
  for (let i = 0; i < sequence; i++) p.seal(ContentType.application_data, Buffer.alloc(0));
  return p;
}

/**
 * One direction's keys, as the sender logged them: generation 0 is the
 * handshake traffic secret, 1 the first application secret, each later one
 * the KeyUpdate successor (RFC 8446 §7.2). A protected record is tried under
 * the current generation, then the next two. A record carrying the sender's
 * Finished or a KeyUpdate moves the sender's writing to the next generation,
 * which is where forged records go.
 */
class DirectionKeys {
  private readonly generations: (Generation | undefined)[] = [];
  private current = -1;
  private writing = 0;

  constructor(
    private readonly log: Map<string, Buffer>,
    private readonly handshakeLabel: string,
    private readonly applicationLabel: string,
  ) {}

  private generation(index: number): Generation | undefined {
    const known = this.generations[index];
    if (known !== undefined) return known;
    const previous = index === 0 ? undefined : this.generation(index - 1);
    let secret: Buffer | undefined;
    if (index === 0) secret = this.log.get(this.handshakeLabel);
    else if (index === 1) secret = this.log.get(this.applicationLabel);
    else if (previous?.suite !== undefined) secret = nextTrafficSecret(nodeCryptoProvider, previous.suite.hash, previous.secret);
    if (secret === undefined) return undefined;
    // The suite never changes after the handshake keys, so later generations inherit it.
    const suite = previous?.suite;
    const g: Generation = { secret, suite, opener: suite === undefined ? undefined : new Protector(nodeCryptoProvider, suite, secret) };
    this.generations[index] = g;
    return g;
  }

  private tryOpen(g: Generation, header: Buffer, body: Buffer): { type: number; content: Buffer; sequence: number } | undefined {
    const candidates =
      g.opener !== undefined
        ? [{ suite: g.suite!, p: g.opener }]
        : suitesFor(g.secret).map((suite) => ({ suite, p: new Protector(nodeCryptoProvider, suite, g.secret) }));
    for (const { suite, p } of candidates) {
      const sequence = p.recordsProcessed;
      try {
        const opened = p.open(header, body);
        g.suite = suite;
        g.opener = p;
        return { ...opened, sequence };
      } catch {
        // not this key
      }
    }
    return undefined;
  }

  decode(raw: Buffer): WireRecord {
    const outerType = raw[0]!;
    const header = raw.subarray(0, 5);
    const body = raw.subarray(5);
    const unprotected = (): WireRecord => ({
      raw,
      outerType,
      isProtected: false,
      type: outerType,
      content: body,
      generation: undefined,
      sequence: undefined,
      reseal: () => {
        throw new Error('not a protected record');
      },
    });
    if (outerType !== ContentType.application_data || raw.length < 5) return unprotected();
    const first = Math.max(0, this.current);
    for (let index = first; index <= first + 2; index++) {
      const g = this.generation(index);
      if (g === undefined) continue;
      const opened = this.tryOpen(g, header, body);
      if (opened === undefined) continue;
      this.current = index;
      this.writing = Math.max(this.writing, index);
      if (opened.type === ContentType.handshake) {
        const types = handshakeMessages(Buffer.from(opened.content)).map((m) => m.type);
        if (types.includes(HandshakeType.finished) || types.includes(HandshakeType.key_update)) this.writing = index + 1;
      }
      const suite = g.suite!;
      return {
        raw,
        outerType,
        isProtected: true,
        type: opened.type,
        content: Buffer.from(opened.content),
        generation: index,
        sequence: opened.sequence,
        reseal: (type, content, padding = 0) => protectorAt(suite, g.secret, opened.sequence).seal(type, content, padding),
      };
    }
    // Plaintext application data before any key (only a test would send it).
    if (this.log.size === 0) return unprotected();
    return {
      raw,
      outerType,
      isProtected: true,
      type: undefined,
      content: undefined,
      generation: undefined,
      sequence: undefined,
      reseal: () => raw,
    };
  }

  forge(inner: Buffer): Buffer {
    const g = this.generation(this.writing);
    if (g === undefined || g.suite === undefined || g.opener === undefined)
      throw new Error('no key known for forging in this direction yet');
    const record = sealInner(g.suite, g.secret, g.opener.recordsProcessed, inner);
    this.current = this.writing;
    // Keep our reading counter in step with the receiver's (open counts any authentic record).
    try {
      g.opener.open(record.subarray(0, 5), record.subarray(5));
    } catch {
      // an authentic record with content our Protector refuses (that is the point of forging it)
    }
    return record;
  }
}

// ---- byte helpers for tamper hooks ----

/** Cuts bytes at record boundaries without validating; a trailing partial record is kept as the last piece. */
export function splitRecords(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = at + 5 <= bytes.length ? Math.min(bytes.length, at + 5 + bytes.readUInt16BE(at + 3)) : bytes.length;
    out.push(bytes.subarray(at, end));
    at = end;
  }
  return out;
}

/** A plaintext record: header (type, legacy_record_version, length) and body. */
export function makeRecord(type: number, content: Uint8Array, version = 0x0303): Buffer {
  const out = Buffer.allocUnsafe(5 + content.length);
  out[0] = type;
  out.writeUInt16BE(version, 1);
  out.writeUInt16BE(content.length, 3);
  out.set(content, 5);
  return out;
}

/** A copy with one byte XORed. */
export function flipByte(bytes: Uint8Array, index: number, mask = 0x01): Buffer {
  const out = Buffer.from(bytes);
  out[index] = out[index]! ^ mask;
  return out;
}

/** Splits handshake-record content into whole messages (type, body, raw). */
export function handshakeMessages(content: Buffer): HandshakeMessage[] {
  const out: HandshakeMessage[] = [];
  let at = 0;
  while (at + 4 <= content.length) {
    const length = (content[at + 1]! << 16) | content.readUInt16BE(at + 2);
    const raw = content.subarray(at, at + 4 + length);
    out.push({ type: raw[0]!, body: raw.subarray(4), raw });
    at += 4 + length;
  }
  return out;
}

/** Handshake { msg_type, length<u24>, body } (RFC 8446 §4): the engine's own framing. */
export { frameHandshake as frame } from '../../src/tls/codec/handshake-frame.js';

/**
 * Rewrites the ClientHello in the client's first flight (one plaintext
 * handshake record) and fixes up every length on the way out.
 */
export function rewriteClientHello(flight: Buffer, edit: (hello: ClientHello) => ClientHello): Buffer {
  const [first, ...rest] = splitRecords(flight);
  if (first === undefined || first[0] !== ContentType.handshake) throw new Error('flight does not start with a handshake record');
  const [message] = handshakeMessages(first.subarray(5));
  if (message === undefined || message.type !== 1) throw new Error('first record is not a ClientHello');
  const hello = edit(decodeClientHello(message.body));
  const record = makeRecord(ContentType.handshake, frameHandshake(1, encodeClientHello(hello)), first.readUInt16BE(1));
  return Buffer.concat([record, ...rest]);
}

/** Builds a tamper hook that only edits one direction's flights and leaves the other alone. */
export function onDirection(direction: Direction, edit: (bytes: Buffer, records: readonly WireRecord[]) => Buffer): Tamper {
  return (d, bytes, records) => (d === direction ? edit(bytes, records) : bytes);
}

/** A tamper hook that acts on the n-th flight (0-based) of one direction only. */
export function onFlight(direction: Direction, n: number, edit: (bytes: Buffer, records: readonly WireRecord[]) => Buffer): Tamper {
  let seen = 0;
  return (d, bytes, records) => {
    if (d !== direction) return bytes;
    return seen++ === n ? edit(bytes, records) : bytes;
  };
}
