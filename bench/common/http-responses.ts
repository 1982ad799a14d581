/**
 * The load generators' HTTP/1.1 response framing: complete responses
 * (Content-Length bodies only, as keysmith sends them) split off a keep-alive
 * byte stream, cheaper than node's http client next to the server it measures.
 */

export interface HttpResponse {
  readonly status: number;
  /** e.g. 'HTTP/1.1 503 Service Unavailable', for error reports. */
  readonly statusLine: string;
  readonly body: Buffer;
}

export class ResponseReader {
  private buffered: Buffer = Buffer.alloc(0);

  /** Feeds a chunk; returns the responses it completed, in order. */
  push(chunk: Buffer): HttpResponse[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const out: HttpResponse[] = [];
    for (;;) {
      const headEnd = this.buffered.indexOf('\r\n\r\n');
      if (headEnd < 0) return out;
      const head = this.buffered.subarray(0, headEnd).toString('latin1');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const total = headEnd + 4 + (length === null ? 0 : Number(length[1]));
      if (this.buffered.length < total) return out;
      const statusLine = head.split('\r\n', 1)[0] ?? head;
      out.push({ status: Number(head.slice(9, 12)), statusLine, body: this.buffered.subarray(headEnd + 4, total) });
      this.buffered = this.buffered.subarray(total);
    }
  }
}
