import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Connection } from '../connection.js';
import { MAX_PLAINTEXT } from '../record/limits.js';
import { MAX_QUEUED_PIECES, PlaintextQueue } from './plaintext-queue.js';
import { PIECES_PER_TURN, RECORDS_PER_TURN, TURN_BUDGET_MS } from './socket-options.js';

const EMPTY = Buffer.alloc(0);

/** What the pump asks of the socket it feeds, beyond the Duplex itself. */
export interface PumpHost {
  /** The readable side the plaintext goes to. */
  readonly reader: Duplex;
  /** Whether the reader wants plaintext now: not paused, no hold, room in its buffer and in our output. */
  mayDeliver(): boolean;
  /** Takes the engine's records after one was handled (an alert, a KeyUpdate answer, a ticket). */
  flush(): void;
  fail(err: unknown): void;
}

/**
 * The receiving side of a TLS socket: opens records and hands their
 * plaintext to the reader while it wants it, within a budget per turn of
 * the event loop, and pauses the transport whenever it stops with work left.
 * At most one transport read of ciphertext and one record of plaintext wait here.
 */
export class InboundPump {
  /** Opened plaintext not yet handed on: at most one record's worth. */
  readonly plaintext: PlaintextQueue;
  private connection: Connection | undefined;
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
    private readonly transport: Socket,
    private readonly host: PumpHost,
    splitInbound: ((plaintext: Buffer) => number) | undefined,
  ) {
    this.plaintext = new PlaintextQueue(splitInbound);
  }

  attach(connection: Connection): void {
    this.connection = connection;
  }

  /** The engine buffered new transport bytes; they arrive only while nothing is left from before: a new turn. */
  onRecordsBuffered(): void {
    this.hasRecords = true;
    this.recordsSinceYield = 0;
    this.piecesSinceYield = 0;
    this.run();
  }

  /** No more input: the readable side ends after the plaintext already opened. */
  endInput(): void {
    this.isInputEnded = true;
  }

  run(): void {
    if (this.isPumping) {
      this.isPumpWanted = true;
      return;
    }
    this.isPumping = true;
    try {
      do {
        this.isPumpWanted = false;
        this.pumpOnce();
      } while (this.isPumpWanted && !this.host.reader.destroyed && this.yieldTimer === undefined);
    } finally {
      this.isPumping = false;
    }
  }

  private pumpOnce(): void {
    const connection = this.connection;
    const reader = this.host.reader;
    if (connection === undefined || reader.destroyed || this.yieldTimer !== undefined) return;
    this.isBlocked = false;
    const deadline = performance.now() + TURN_BUDGET_MS;
    for (;;) {
      if (this.hasRecords && this.plaintext.bytes < MAX_PLAINTEXT && this.plaintext.pieceCount < MAX_QUEUED_PIECES) {
        if (this.recordsSinceYield >= RECORDS_PER_TURN || performance.now() >= deadline) return this.yieldWithWorkLeft();
        try {
          this.hasRecords = connection.receive(EMPTY, 1);
        } catch (err) {
          this.host.flush();
          this.host.fail(err);
          return;
        }
        this.recordsSinceYield++;
        this.host.flush();
        continue;
      }
      if (this.plaintext.bytes > 0) {
        // One piece (with splitInbound: one request head) per connection per turn, so pipelined requests from
        // many connections are served in turn, not one connection's whole pipeline before the next.
        if (this.piecesSinceYield >= PIECES_PER_TURN) return this.yieldWithWorkLeft();
        if (!this.host.mayDeliver()) {
          this.isBlocked = true;
          this.transport.pause();
          return;
        }
        this.deliverOne(reader);
        if (reader.destroyed) return;
        continue;
      }
      if (this.isInputEnded && !this.hasPushedEnd) {
        this.hasPushedEnd = true;
        reader.push(null);
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
  private deliverOne(reader: Duplex): void {
    const piece = this.plaintext.take();
    if (piece === undefined) return;
    this.piecesSinceYield++;
    reader.push(piece);
  }

  /**
   * Restarts delivery stopped by a reader, a hold or full output, on the
   * next turn of the event loop: never inside the caller's stack, and never
   * on a microtask, whose chains (write done, next request, its answer
   * written at once) would otherwise let one connection run its whole
   * pipeline before any other connection is served.
   */
  schedule(): void {
    if (!this.isBlocked) return;
    this.yieldTurn();
  }

  private yieldTurn(): void {
    if (this.yieldTimer !== undefined || this.host.reader.destroyed) return;
    this.yieldTimer = setImmediate(() => {
      this.yieldTimer = undefined;
      this.recordsSinceYield = 0;
      this.piecesSinceYield = 0;
      this.run();
    });
  }

  /** The socket is destroyed: no more turns, and the plaintext waiting is dropped. */
  stop(): void {
    if (this.yieldTimer !== undefined) clearImmediate(this.yieldTimer);
    this.yieldTimer = undefined;
    this.plaintext.clear();
  }
}
