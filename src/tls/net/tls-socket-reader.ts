import type { Socket } from 'node:net';
import type { Connection } from '../connection.js';
import { MAX_PLAINTEXT } from '../record/limits.js';
import { MAX_QUEUED_PIECES, PlaintextQueue } from './plaintext-queue.js';
import type { ProxiedPeer } from './proxy-protocol.js';
import { PIECES_PER_TURN, RECORDS_PER_TURN, TURN_BUDGET_MS } from './socket-options.js';
import { TlsSocketSurface } from './tls-socket-surface.js';

const EMPTY = Buffer.alloc(0);

/**
 * The receiving side of a TLS socket, a layer of the class (no object or
 * closure of its own per connection): opens records and hands their
 * plaintext to the reader while it wants it, within a budget per turn of
 * the event loop, and pauses the transport whenever it stops with work left.
 * At most one transport read of ciphertext and one record of plaintext wait here.
 */
export abstract class TlsSocketReader extends TlsSocketSurface {
  protected connection: Connection | undefined;
  /** Opened plaintext not yet handed on: at most one record's worth. */
  protected readonly plaintext: PlaintextQueue;
  /** Received bytes may hold a record not yet opened. */
  private hasRecords = false;
  /** close_notify (or an end of the transport) came: the readable side ends once the plaintext before it is handed on. */
  private isInputEnded = false;
  private hasPushedEnd = false;
  private isPumping = false;
  private isPumpWanted = false;
  /** Delivery stopped on a full reader, a hold or full output; the matching event restarts it. */
  private isBlocked = false;
  private recordsSinceYield = 0;
  private piecesSinceYield = 0;
  private yieldTimer: NodeJS.Immediate | undefined;

  constructor(
    transport: Socket,
    proxiedPeer: ProxiedPeer | undefined,
    allowHalfOpen: boolean,
    splitInbound: ((plaintext: Buffer) => number) | undefined,
  ) {
    super(transport, proxiedPeer, allowHalfOpen);
    this.plaintext = new PlaintextQueue(splitInbound);
  }

  /** Whether the reader wants plaintext now: not paused, no hold, room in its buffer and in our output. */
  protected abstract mayDeliver(): boolean;
  /** Takes the engine's records after one was handled (an alert, a KeyUpdate answer, a ticket). */
  protected abstract flush(): void;
  protected abstract fail(err: unknown): void;

  /** The engine buffered new transport bytes; they arrive only while nothing is left from before: a new turn. */
  protected onRecordsBuffered(): void {
    this.hasRecords = true;
    this.recordsSinceYield = 0;
    this.piecesSinceYield = 0;
    this.pump();
  }

  /** No more input: the readable side ends after the plaintext already opened. */
  protected endInput(): void {
    this.isInputEnded = true;
  }

  protected pump(): void {
    if (this.isPumping) {
      this.isPumpWanted = true;
      return;
    }
    this.isPumping = true;
    try {
      do {
        this.isPumpWanted = false;
        this.pumpOnce();
      } while (this.isPumpWanted && !this.destroyed && this.yieldTimer === undefined);
    } finally {
      this.isPumping = false;
    }
  }

  private pumpOnce(): void {
    const connection = this.connection;
    if (connection === undefined || this.destroyed || this.yieldTimer !== undefined) return;
    this.isBlocked = false;
    const deadline = performance.now() + TURN_BUDGET_MS;
    for (;;) {
      if (this.hasRecords && this.plaintext.bytes < MAX_PLAINTEXT && this.plaintext.pieceCount < MAX_QUEUED_PIECES) {
        if (this.recordsSinceYield >= RECORDS_PER_TURN || performance.now() >= deadline) return this.yieldWithWorkLeft();
        try {
          this.hasRecords = connection.receive(EMPTY, 1);
        } catch (err) {
          this.flush();
          this.fail(err);
          return;
        }
        this.recordsSinceYield++;
        this.flush();
        continue;
      }
      if (this.plaintext.bytes > 0) {
        // One piece (with splitInbound: one request head) per connection per turn, so pipelined requests from
        // many connections are served in turn, not one connection's whole pipeline before the next.
        if (this.piecesSinceYield >= PIECES_PER_TURN) return this.yieldWithWorkLeft();
        if (!this.mayDeliver()) {
          this.isBlocked = true;
          this.transport.pause();
          return;
        }
        this.deliverOne();
        if (this.destroyed) return;
        continue;
      }
      if (this.isInputEnded && !this.hasPushedEnd) {
        this.hasPushedEnd = true;
        this.push(null);
      }
      if (!this.transport.destroyed) this.transport.resume();
      return;
    }
  }

  private yieldWithWorkLeft(): void {
    this.transport.pause();
    this.yieldTurn();
  }

  /** Hands the reader one piece of the opened plaintext, cut where splitInbound says. */
  private deliverOne(): void {
    const piece = this.plaintext.take();
    if (piece === undefined) return;
    this.piecesSinceYield++;
    this.push(piece);
  }

  /**
   * Restarts delivery stopped by a reader, a hold or full output, on the
   * next turn of the event loop: never inside the caller's stack, and never
   * on a microtask, whose chains (write done, next request, its answer
   * written at once) would otherwise let one connection run its whole
   * pipeline before any other connection is served.
   */
  protected schedulePump(): void {
    if (!this.isBlocked) return;
    this.yieldTurn();
  }

  private yieldTurn(): void {
    if (this.yieldTimer !== undefined || this.destroyed) return;
    this.yieldTimer = setImmediate(() => {
      this.yieldTimer = undefined;
      this.recordsSinceYield = 0;
      this.piecesSinceYield = 0;
      this.pump();
    });
  }

  /** The socket is destroyed: no more turns, and the plaintext waiting is dropped. */
  protected stopPump(): void {
    if (this.yieldTimer !== undefined) clearImmediate(this.yieldTimer);
    this.yieldTimer = undefined;
    this.plaintext.clear();
  }
}
