import { DecodeError } from './alert.js';
import { Reader } from './codec/reader.js';
import { Writer } from './codec/writer.js';
import type { CryptoProvider } from './crypto/provider.js';
import type { PeerCertificates } from './options.js';
import { asBuffer } from '../shared/bytes.js';

const KEY_ID_LENGTH = 8;
const KEY_LENGTH = 32;
const NONCE_LENGTH = 12;
/** The provider's AEADs carry a 16-byte tag. */
const TAG_LENGTH = 16;

interface TicketKey {
  readonly id: Buffer;
  readonly key: Buffer;
}

/** Where the sealing key comes from: one for new tickets, and the key a ticket names, if it may still open. */
interface TicketKeySource {
  sealing(now: number): TicketKey;
  opening(id: Buffer, now: number): TicketKey | undefined;
}

/**
 * The engine's own keys: random, made by this process, rotated every period;
 * the previous key still opens tickets for one more period, so rotation does
 * not break fresh tickets. No other process can open them.
 */
class RandomTicketKeys implements TicketKeySource {
  private current: (TicketKey & { readonly createdAt: number }) | undefined;
  private previous: (TicketKey & { readonly createdAt: number }) | undefined;

  constructor(
    private readonly rotationMs: number,
    private readonly provider: CryptoProvider,
  ) {}

  sealing(now: number): TicketKey {
    if (this.current === undefined || now - this.current.createdAt >= this.rotationMs) {
      this.previous = this.current;
      this.current = { id: this.provider.randomBytes(KEY_ID_LENGTH), key: this.provider.randomBytes(KEY_LENGTH), createdAt: now };
    }
    return this.current;
  }

  opening(id: Buffer, now: number): TicketKey | undefined {
    this.sealing(now);
    const key = [this.current, this.previous].find((k) => k !== undefined && k.id.equals(id));
    if (key === undefined || now - key.createdAt >= 2 * this.rotationMs) return undefined;
    return key;
  }
}

/**
 * Keys the caller derives per period (period = floor(now / rotationMs)):
 * servers handed the same function compute the same key for the same period
 * without talking, so a ticket sealed by one opens on the others. The key id
 * is the period; tickets of the current and the previous period open, older
 * ones (and any from a period not yet begun here) do not.
 */
class PeriodTicketKeys implements TicketKeySource {
  /** At most the current and the previous period's keys. */
  private readonly cache = new Map<number, TicketKey>();

  constructor(
    private readonly rotationMs: number,
    private readonly keyForPeriod: (period: number) => Uint8Array,
  ) {}

  sealing(now: number): TicketKey {
    return this.keyFor(this.periodAt(now));
  }

  opening(id: Buffer, now: number): TicketKey | undefined {
    if (id.length !== KEY_ID_LENGTH) return undefined;
    const period = id.readUInt32BE(0) * 0x100000000 + id.readUInt32BE(4);
    const current = this.periodAt(now);
    if (period !== current && period !== current - 1) return undefined;
    return this.keyFor(period);
  }

  private periodAt(now: number): number {
    return Math.floor(now / this.rotationMs);
  }

  private keyFor(period: number): TicketKey {
    const cached = this.cache.get(period);
    if (cached !== undefined) return cached;
    const key = Buffer.from(this.keyForPeriod(period));
    if (key.length !== KEY_LENGTH) throw new TypeError(`ticketKeyForPeriod returned ${key.length} bytes; AES-256-GCM needs ${KEY_LENGTH}`);
    const id = Buffer.alloc(KEY_ID_LENGTH);
    id.writeUInt32BE(Math.floor(period / 0x100000000), 0);
    id.writeUInt32BE(period >>> 0, 4);
    for (const old of this.cache.keys()) if (old < period - 1) this.cache.delete(old);
    const made = { id, key };
    this.cache.set(period, made);
    return made;
  }
}

export interface TicketKeyOptions {
  readonly rotationMs: number;
  readonly now: () => number;
  readonly provider: CryptoProvider;
  /** The caller's key per period (32 bytes); without it, random keys of this process. */
  readonly keyForPeriod?: ((period: number) => Uint8Array) | undefined;
}

/**
 * Stateless session tickets (RFC 8446 §4.6.1 leaves the format to the
 * server): AES-256-GCM under a key that rotates, the key id as AAD. A ticket
 * opens under the current or the previous period's key, never older.
 */
export class TicketKeys {
  private readonly source: TicketKeySource;
  private readonly now: () => number;
  private readonly provider: CryptoProvider;

  constructor(options: TicketKeyOptions) {
    if (!Number.isSafeInteger(options.rotationMs) || options.rotationMs < 1)
      throw new TypeError('ticketKeyRotationMs must be a positive integer');
    this.now = options.now;
    this.provider = options.provider;
    this.source =
      options.keyForPeriod === undefined
        ? new RandomTicketKeys(options.rotationMs, options.provider)
        : new PeriodTicketKeys(options.rotationMs, options.keyForPeriod);
  }

  seal(plaintext: Buffer): Buffer {
    const key = this.source.sealing(this.now());
    const nonce = this.provider.randomBytes(NONCE_LENGTH);
    const cipher = this.provider.aeadSealer('aes-256-gcm', key.key, nonce);
    cipher.setAAD(key.id);
    const body = cipher.update(plaintext);
    // GCM is a stream mode: final() returns nothing more, only completes the tag.
    const rest = cipher.final();
    return Buffer.concat(rest.length === 0 ? [key.id, nonce, body, cipher.getAuthTag()] : [key.id, nonce, body, rest, cipher.getAuthTag()]);
  }

  /** The sealed plaintext, or undefined for a ticket we cannot (or no longer) open. */
  open(ticket: Buffer): Buffer | undefined {
    if (ticket.length < KEY_ID_LENGTH + NONCE_LENGTH + TAG_LENGTH + 1) return undefined;
    const id = ticket.subarray(0, KEY_ID_LENGTH);
    const key = this.source.opening(id, this.now());
    if (key === undefined) return undefined;
    const nonce = ticket.subarray(KEY_ID_LENGTH, KEY_ID_LENGTH + NONCE_LENGTH);
    const decipher = this.provider.aeadOpener('aes-256-gcm', key.key, nonce);
    decipher.setAAD(id);
    decipher.setAuthTag(ticket.subarray(ticket.length - TAG_LENGTH));
    try {
      const body = decipher.update(ticket.subarray(KEY_ID_LENGTH + NONCE_LENGTH, ticket.length - TAG_LENGTH));
      // final() checks the tag; for GCM it returns no further bytes.
      const rest = decipher.final();
      return rest.length === 0 ? body : Buffer.concat([body, rest]);
    } catch {
      return undefined;
    }
  }
}

/** What a server ticket carries: enough to resume with the same suite, secret and peer identity. */
export interface ServerSessionState {
  readonly suite: number;
  readonly psk: Buffer;
  readonly createdAt: number;
  readonly ageAdd: number;
  readonly lifetimeSeconds: number;
  readonly alpn: string;
  readonly servername: string;
  /** The client's chain as it was verified, leaf first (empty without client auth). */
  readonly peerChain: readonly Buffer[];
  /** RFC 8446 §4.6.1: the max_early_data_size the ticket advertised; 0 (no 0-RTT) when absent. */
  readonly maxEarlyData?: number;
  /** The server instance that issued it and holds its strike register: only it accepts the ticket's 0-RTT. */
  readonly instanceId?: Buffer;
}

/**
 * The first byte of a sealed server state names its format and protocol:
 * 1 is this TLS 1.3 state; TLS12_STATE_TAG (tickets12.ts) the TLS 1.2 one.
 * Each decoder refuses the other's tag, so a ticket resumes only the version it came from.
 */
const STATE_VERSION = 1;
export const TLS12_STATE_TAG = 0x12;

/** A ticket that allows 0-RTT; one that does not keeps version 1's bytes. */
const STATE_VERSION_EARLY_DATA = 2;

/** How long a ticket for `peer` may live: the configured lifetime, never past the client certificate's notAfter (0 or less: none). */
export function ticketLifetimeSeconds(configured: number, peer: PeerCertificates | undefined, now: number): number {
  const leaf = peer?.leaf;
  return leaf === undefined ? configured : Math.min(configured, Math.floor((leaf.notAfter.getTime() - now) / 1000));
}

/** The client chain a ticket carries: the verified chain less its trust anchor, straight from the parsed certificates' bytes. */
export function ticketPeerChain(peer: PeerCertificates | undefined): Buffer[] {
  return peer?.chain.slice(0, -1).map((c) => asBuffer(c.raw)) ?? [];
}

/** A certificate chain inside a sealed state or a session: certificate<1..2^24-1> in a list<0..2^24-1>. */
export function writeCertificateList(w: Writer, chain: readonly Buffer[]): void {
  w.vector(3, (l) => {
    for (const c of chain) l.opaque(3, c);
  });
}

export function readCertificateList(r: Reader): Buffer[] {
  const list = r.sub(3, 'peer chain');
  const chain: Buffer[] = [];
  while (!list.isEmpty()) chain.push(list.vector(3, 'certificate', 1));
  return chain;
}

export function encodeServerSessionState(s: ServerSessionState): Buffer {
  const w = new Writer(256 + s.peerChain.reduce((n, c) => n + c.length + 3, 0));
  const maxEarlyData = s.maxEarlyData ?? 0;
  w.u8(maxEarlyData > 0 ? STATE_VERSION_EARLY_DATA : STATE_VERSION).u16(s.suite);
  w.u64(s.createdAt);
  w.u32(s.ageAdd)
    .u32(s.lifetimeSeconds)
    .opaque(1, s.psk)
    .opaque(1, Buffer.from(s.alpn, 'latin1'))
    .opaque(2, Buffer.from(s.servername, 'latin1'));
  writeCertificateList(w, s.peerChain);
  if (maxEarlyData > 0) w.u32(maxEarlyData).opaque(1, s.instanceId ?? Buffer.alloc(0));
  return w.finish();
}

export function decodeServerSessionState(bytes: Buffer): ServerSessionState {
  const r = Reader.of(bytes);
  const version = r.u8();
  if (version !== STATE_VERSION && version !== STATE_VERSION_EARLY_DATA) throw new DecodeError('ticket state version');
  const suite = r.u16();
  const createdAt = r.u64();
  const ageAdd = r.u32();
  const lifetimeSeconds = r.u32();
  const psk = r.vector(1, 'psk', 32, 64);
  const alpn = r.vector(1, 'alpn').toString('latin1');
  const servername = r.vector(2, 'servername').toString('latin1');
  const peerChain = readCertificateList(r);
  const state = { suite, psk, createdAt, ageAdd, lifetimeSeconds, alpn, servername, peerChain };
  if (version === STATE_VERSION) {
    r.expectEmpty('ticket state');
    return state;
  }
  const maxEarlyData = r.u32('max_early_data_size');
  const instanceId = r.vector(1, 'instance id', 1);
  r.expectEmpty('ticket state');
  return { ...state, maxEarlyData, instanceId };
}

/** What our client keeps from a NewSessionTicket; serialised for the 'session' event. */
export interface ClientSession {
  readonly suite: number;
  readonly ticket: Buffer;
  readonly psk: Buffer;
  readonly receivedAt: number;
  readonly lifetimeSeconds: number;
  readonly ageAdd: number;
  readonly servername: string;
  readonly alpn: string;
  /** The server chain verified on the original connection. */
  readonly peerChain: readonly Buffer[];
  /** The ticket's max_early_data_size (RFC 8446 §4.6.1): 0-RTT bytes we may send with it; 0 or absent: none. */
  readonly maxEarlyData?: number;
}

const CLIENT_SESSION_VERSION = 1;
/** A session whose ticket allows 0-RTT; one that does not keeps version 1's bytes. */
const CLIENT_SESSION_VERSION_EARLY_DATA = 2;

export function encodeClientSession(s: ClientSession): Buffer {
  const w = new Writer(512 + s.ticket.length + s.peerChain.reduce((n, c) => n + c.length + 3, 0));
  const maxEarlyData = s.maxEarlyData ?? 0;
  w.u8(maxEarlyData > 0 ? CLIENT_SESSION_VERSION_EARLY_DATA : CLIENT_SESSION_VERSION)
    .u16(s.suite)
    .opaque(2, s.ticket)
    .opaque(1, s.psk);
  w.u64(s.receivedAt);
  w.u32(s.lifetimeSeconds).u32(s.ageAdd).opaque(2, Buffer.from(s.servername, 'latin1')).opaque(1, Buffer.from(s.alpn, 'latin1'));
  writeCertificateList(w, s.peerChain);
  if (maxEarlyData > 0) w.u32(maxEarlyData);
  return w.finish();
}

export function decodeClientSession(bytes: Uint8Array): ClientSession {
  const r = Reader.of(bytes);
  const version = r.u8();
  if (version !== CLIENT_SESSION_VERSION && version !== CLIENT_SESSION_VERSION_EARLY_DATA) throw new DecodeError('session version');
  const suite = r.u16();
  const ticket = r.vector(2, 'ticket', 1);
  const psk = r.vector(1, 'psk', 32, 64);
  const receivedAt = r.u64();
  const lifetimeSeconds = r.u32();
  const ageAdd = r.u32();
  const servername = r.vector(2, 'servername').toString('latin1');
  const alpn = r.vector(1, 'alpn').toString('latin1');
  const peerChain = readCertificateList(r);
  const maxEarlyData = version === CLIENT_SESSION_VERSION_EARLY_DATA ? r.u32('max_early_data_size') : 0;
  r.expectEmpty('session');
  return { suite, ticket, psk, receivedAt, lifetimeSeconds, ageAdd, servername, alpn, peerChain, maxEarlyData };
}
