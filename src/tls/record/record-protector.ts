import type { ContentType } from '../codec/enums.js';

/**
 * One direction of record protection, as the inbox and outbox use it: the
 * TLS 1.3 Protector (RFC 8446 §5.2) or the TLS 1.2 AEAD one (RFC 5246 §6.2.3.3).
 */
export interface RecordProtector {
  readonly recordsProcessed: number;
  /** Whether the key has carried as many records as it may. */
  isExhausted(): boolean;
  /** Seals one record (header included) and appends it to `out`, as one buffer or several parts. */
  sealInto(out: Buffer[], type: ContentType, content: Uint8Array, padding?: number): void;
  /** Opens one record (`header`: the 5 bytes off the wire); returns its content type and content. */
  open(header: Buffer, body: Buffer): { type: number; content: Buffer };
}
