/**
 * One HTTP exchange read whole, for tests that call keysmith's API: over
 * node:https with a client certificate, or over node:http with an agent that
 * supplies the TLS socket (EngineAgent, our own client). The idle timeout
 * bounds a hung server; the test fails with the method and path.
 */
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { RequestOptions } from 'node:https';

/** `request` of node:http or node:https (node:https's options are node:http's and the TLS ones). */
export type SendRequest = (options: RequestOptions, callback: (response: IncomingMessage) => void) => ClientRequest;

export interface Exchange {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as received. */
  readonly bytes: Buffer;
  /** The body as UTF-8 text. */
  readonly body: string;
}

export function exchange(send: SendRequest, options: RequestOptions, payload?: string | Buffer, timeoutMs = 10_000): Promise<Exchange> {
  const what = `${options.method ?? 'GET'} ${options.path ?? '/'}`;
  return new Promise((resolve, reject) => {
    const req = send(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, body: bytes.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${what} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The headers of a JSON request body (none without one). */
export function jsonHeaders(body: string | undefined): Record<string, string> {
  return body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
}
