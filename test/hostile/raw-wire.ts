/**
 * Raw TLS records over a TCP connection for the hostile tests: framing,
 * the alert codes the tests assert, and a reader that opens protected
 * records once a read key is set. Every wait is bounded; nothing here
 * throws on what the server does.
 */
import { connect, type Socket } from 'node:net';
import { ContentType } from '../../src/tls/codec/enums.js';
import type { Protector12 } from '../../src/tls/record/protector12.js';

export const ALERT = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  illegal_parameter: 47,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  user_canceled: 90,
  no_renegotiation: 100,
} as const;

export function record(type: number, payload: Uint8Array, version = 0x0303): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = type;
  out.writeUInt16BE(version, 1);
  out.writeUInt16BE(payload.length, 3);
  out.set(payload, 5);
  return out;
}

/** A handshake message in as many records of at most 2^14 bytes as it needs (RFC 5246 §6.2.1). */
export function handshakeRecords(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < message.length; at += 16_384) parts.push(record(ContentType.handshake, message.subarray(at, at + 16_384)));
  return Buffer.concat(parts);
}

export const CCS = record(ContentType.change_cipher_spec, Buffer.of(1));

export interface WireRecord {
  readonly type: number;
  readonly content: Buffer;
}

/** One raw TCP connection: writes bytes, reads records (opened once a read key is set). */
export class Wire {
  private buffered = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();
  isClosed = false;
  readProtector: Protector12 | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.isClosed = true;
      this.wake();
    });
  }

  static open(port: number, localAddress?: string): Promise<Wire> {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const wire = new Wire(socket);
    return new Promise((resolve) => {
      socket.once('connect', () => resolve(wire));
      socket.once('close', () => resolve(wire));
    });
  }

  private wake(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The next record, or undefined once the server closed or `timeoutMs` passed. */
  async next(timeoutMs = 5_000): Promise<WireRecord | undefined> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      if (this.buffered.length >= 5) {
        const end = 5 + this.buffered.readUInt16BE(3);
        if (this.buffered.length >= end) {
          const header = this.buffered.subarray(0, 5);
          const body = this.buffered.subarray(5, end);
          this.buffered = this.buffered.subarray(end);
          const type = header[0] ?? 0;
          if (type === ContentType.change_cipher_spec || this.readProtector === undefined) return { type, content: Buffer.from(body) };
          try {
            return this.readProtector.open(Buffer.from(header), Buffer.from(body));
          } catch {
            return { type: -1, content: Buffer.alloc(0) };
          }
        }
      }
      const left = until - performance.now();
      if (this.isClosed || left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Reads until an alert record (returned as [level, description]) or the end; `undefined` when none came. */
  async alert(timeoutMs = 5_000): Promise<[number, number] | undefined> {
    const until = performance.now() + timeoutMs;
    for (let r = await this.next(timeoutMs); r !== undefined; r = await this.next(Math.max(1, until - performance.now()))) {
      if (r.type === ContentType.alert && r.content.length === 2) return [r.content[0] ?? 0, r.content[1] ?? 0];
    }
    return undefined;
  }

  /** True once the server has closed the connection (within `timeoutMs`). */
  async closed(timeoutMs = 5_000): Promise<boolean> {
    const until = performance.now() + timeoutMs;
    while (!this.isClosed && performance.now() < until) await this.next(Math.max(1, until - performance.now()));
    return this.isClosed;
  }
}
