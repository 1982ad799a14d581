/** Opened plaintext waits here up to one record's worth (2^14 bytes) or this many pieces. */
export const MAX_QUEUED_PIECES = 64;
/** A first piece shorter than this is joined with the ones after it before being cut. */
const COALESCE_BELOW = 1024;

/** Opened plaintext not yet handed to the reader: at most one record's worth, cut into pieces on the way out. */
export class PlaintextQueue {
  private pieces: Buffer[] = [];
  private byteCount = 0;

  constructor(private readonly splitInbound: ((plaintext: Buffer) => number) | undefined) {}

  get bytes(): number {
    return this.byteCount;
  }

  get pieceCount(): number {
    return this.pieces.length;
  }

  push(data: Buffer): void {
    this.pieces.push(data);
    this.byteCount += data.length;
  }

  /** The next piece to hand on, cut where splitInbound says; undefined when empty. */
  take(): Buffer | undefined {
    const [first] = this.pieces;
    if (first === undefined) return undefined;
    // Tiny records leave tiny pieces: join them (at most MAX_QUEUED_PIECES, about two records' worth) before cutting.
    const head = this.pieces.length > 1 && first.length < COALESCE_BELOW ? Buffer.concat(this.pieces) : first;
    if (head !== first) this.pieces = [head];
    const cut = Math.max(1, Math.min(head.length, this.splitInbound?.(head) ?? head.length));
    if (cut === head.length) this.pieces.shift();
    else this.pieces[0] = head.subarray(cut);
    this.byteCount -= cut;
    return cut === head.length ? head : head.subarray(0, cut);
  }

  clear(): void {
    this.pieces = [];
    this.byteCount = 0;
  }
}
