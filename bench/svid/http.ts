/** HTTP/1.1 over keep-alive mutual TLS (node:tls) to a configuration's entry point: a node, or HAProxy. */
import { connect, type TLSSocket } from 'node:tls';
import { ResponseReader, type HttpResponse } from '../common/http-responses.js';
import type { Configuration } from './configurations.js';

export interface Identity {
  readonly cert: string;
  readonly key: string;
}

export function openConnection(target: Configuration, identity: Identity): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: target.port,
      servername: 'localhost',
      ca: target.ready.bundlePem,
      cert: identity.cert,
      key: identity.key,
      ALPNProtocols: ['http/1.1'],
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

export function httpRequest(method: 'GET' | 'POST', path: string, body?: string): Buffer {
  if (body === undefined) return Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 'latin1');
  const payload = Buffer.from(body, 'utf8');
  const head = `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

/** One request on a fresh connection, for set-up and checks. */
export async function exchange(target: Configuration, identity: Identity, request: Buffer): Promise<HttpResponse> {
  const socket = await openConnection(target, identity);
  try {
    return await new Promise<HttpResponse>((resolve, reject) => {
      const reader = new ResponseReader();
      socket.on('data', (chunk: Buffer) => {
        const [first] = reader.push(chunk);
        if (first !== undefined) resolve(first);
      });
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('connection closed before a response')));
      socket.write(request);
    });
  } finally {
    socket.destroy();
  }
}
