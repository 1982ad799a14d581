import { createCipheriv, createDecipheriv } from 'node:crypto';
import { DecodeError } from './alert.js';
import { Reader } from './codec/reader.js';
import { Writer } from './codec/writer.js';
import type { CryptoProvider } from './crypto/provider.js';

const KEY_ID_LENGTH = 8;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;

interface TicketKey {
  readonly id: Buffer;
  readonly key: Buffer;
  readonly createdAt: number;
}

/**
 * Stateless session tickets (RFC 8446 §4.6.1 leaves the format to the
 * server): AES-256-GCM under a key that rotates; the previous key still opens
 * tickets for one more period, so rotation does not break fresh tickets.
 */
export class TicketKeys {
  private current: TicketKey | undefined;
  private previous: TicketKey | undefined;

  constructor(
    private readonly rotationMs: number,
    private readonly now: () => number,
    private readonly provider: CryptoProvider,
  ) {}

  private rotateIfDue(): TicketKey {
    const now = this.now();
    if (this.current === undefined || now - this.current.createdAt >= this.rotationMs) {
      this.previous = this.current;
      this.current = { id: this.provider.randomBytes(KEY_ID_LENGTH), key: this.provider.randomBytes(32), createdAt: now };
    }
    return this.current;
  }

  seal(plaintext: Buffer): Buffer {
    const key = this.rotateIfDue();
    const nonce = this.provider.randomBytes(NONCE_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(key.id);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([key.id, nonce, body, cipher.getAuthTag()]);
  }

  /** The sealed plaintext, or undefined for a ticket we cannot (or no longer) open. */
  open(ticket: Buffer): Buffer | undefined {
    if (ticket.length < KEY_ID_LENGTH + NONCE_LENGTH + TAG_LENGTH + 1) return undefined;
    this.rotateIfDue();
    const id = ticket.subarray(0, KEY_ID_LENGTH);
    const key = [this.current, this.previous].find((k) => k !== undefined && k.id.equals(id));
    if (key === undefined || this.now() - key.createdAt >= 2 * this.rotationMs) return undefined;
    const nonce = ticket.subarray(KEY_ID_LENGTH, KEY_ID_LENGTH + NONCE_LENGTH);
    const decipher = createDecipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_LENGTH });
    decipher.setAAD(id);
    decipher.setAuthTag(ticket.subarray(ticket.length - TAG_LENGTH));
    try {
      return Buffer.concat([decipher.update(ticket.subarray(KEY_ID_LENGTH + NONCE_LENGTH, ticket.length - TAG_LENGTH)), decipher.final()]);
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
}

const STATE_VERSION = 1;

function writeU64(w: Writer, v: number): void {
  w.u32(Math.floor(v / 0x100000000)).u32(v >>> 0);
}

function readU64(r: Reader): number {
  return r.u32() * 0x100000000 + r.u32();
}

export function encodeServerSessionState(s: ServerSessionState): Buffer {
  const w = new Writer(256 + s.peerChain.reduce((n, c) => n + c.length + 3, 0));
  w.u8(STATE_VERSION).u16(s.suite);
  writeU64(w, s.createdAt);
  w.u32(s.ageAdd).u32(s.lifetimeSeconds).opaque(1, s.psk).opaque(1, Buffer.from(s.alpn, 'latin1')).opaque(2, Buffer.from(s.servername, 'latin1'));
  w.vector(3, (l) => {
    for (const c of s.peerChain) l.opaque(3, c);
  });
  return w.finish();
}

export function decodeServerSessionState(bytes: Buffer): ServerSessionState {
  const r = Reader.of(bytes);
  if (r.u8() !== STATE_VERSION) throw new DecodeError('ticket state version');
  const suite = r.u16();
  const createdAt = readU64(r);
  const ageAdd = r.u32();
  const lifetimeSeconds = r.u32();
  const psk = r.vector(1, 'psk', 32, 64);
  const alpn = r.vector(1, 'alpn').toString('latin1');
  const servername = r.vector(2, 'servername').toString('latin1');
  const chain = r.sub(3, 'peer chain');
  const peerChain: Buffer[] = [];
  while (!chain.isEmpty()) peerChain.push(chain.vector(3, 'certificate', 1));
  r.expectEmpty('ticket state');
  return { suite, psk, createdAt, ageAdd, lifetimeSeconds, alpn, servername, peerChain };
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
}

const CLIENT_SESSION_VERSION = 1;

export function encodeClientSession(s: ClientSession): Buffer {
  const w = new Writer(512 + s.ticket.length + s.peerChain.reduce((n, c) => n + c.length + 3, 0));
  w.u8(CLIENT_SESSION_VERSION).u16(s.suite).opaque(2, s.ticket).opaque(1, s.psk);
  writeU64(w, s.receivedAt);
  w.u32(s.lifetimeSeconds).u32(s.ageAdd).opaque(2, Buffer.from(s.servername, 'latin1')).opaque(1, Buffer.from(s.alpn, 'latin1'));
  w.vector(3, (l) => {
    for (const c of s.peerChain) l.opaque(3, c);
  });
  return w.finish();
}

export function decodeClientSession(bytes: Uint8Array): ClientSession {
  const r = Reader.of(bytes);
  if (r.u8() !== CLIENT_SESSION_VERSION) throw new DecodeError('session version');
  const suite = r.u16();
  const ticket = r.vector(2, 'ticket', 1);
  const psk = r.vector(1, 'psk', 32, 64);
  const receivedAt = readU64(r);
  const lifetimeSeconds = r.u32();
  const ageAdd = r.u32();
  const servername = r.vector(2, 'servername').toString('latin1');
  const alpn = r.vector(1, 'alpn').toString('latin1');
  const chain = r.sub(3, 'peer chain');
  const peerChain: Buffer[] = [];
  while (!chain.isEmpty()) peerChain.push(chain.vector(3, 'certificate', 1));
  r.expectEmpty('session');
  return { suite, ticket, psk, receivedAt, lifetimeSeconds, ageAdd, servername, alpn, peerChain };
}
