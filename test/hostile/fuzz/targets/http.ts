/**
 * HTTP/1.1 request heads (RFC 9112) over a real TLS connection: methods,
 * request targets (origin, absolute, asterisk form; long paths), versions,
 * header counts and sizes, Content-Length / Transfer-Encoding conflicts
 * (RFC 9112 §6.3: request smuggling), chunked-body edges (§7.1), bare CR
 * and LF, NUL, obs-fold, pipelining and split writes. A request is a
 * structure rendered after mutation; the input is the bytes sent.
 */
import type { Prng } from '../../../robustness/flood-tools.js';
import type { HostileService } from '../../harness.js';
import { rawTls, SourceAddresses, type Outcome } from '../client.js';
import { mutateBytes } from '../mutators.js';
import { FUZZ_ENV, type FuzzTarget, type TargetSession } from '../target.js';

interface Request {
  method: string;
  target: string;
  version: string;
  headers: [string, string][];
  body: string;
  eol: string;
}

const PATHS = [
  '/healthz',
  '/v1/bundle',
  '/ocsp',
  '/ocsp/',
  '/crl',
  '/ca.crt',
  '/acme/directory',
  '/acme/new-nonce',
  '/v1/attest/join-token',
  '/metrics',
  '/v1/certificates',
  '/openapi.json',
  '/nope',
];

function baseRequest(prng: Prng): Request {
  const isPost = prng.int(3) === 0;
  const body = isPost ? '{"token":"x","csr":"y"}' : '';
  const headers: [string, string][] = [['Host', 'localhost']];
  if (isPost) headers.push(['Content-Type', 'application/json'], ['Content-Length', String(body.length)]);
  return { method: isPost ? 'POST' : 'GET', target: prng.pick(PATHS), version: 'HTTP/1.1', headers, body, eol: '\r\n' };
}

function chunkedEdge(prng: Prng): string {
  return prng.pick([
    '5\r\nhello\r\n0\r\n\r\n',
    'ffffffffffffffff\r\nx\r\n0\r\n\r\n',
    '-1\r\nx\r\n0\r\n\r\n',
    '0x5\r\nhello\r\n0\r\n\r\n',
    '5;ext=' + 'e'.repeat(20_000) + '\r\nhello\r\n0\r\n\r\n',
    '5\r\nhelloXX0\r\n\r\n',
    '5\nhello\n0\n\n',
    '3\r\nabc\r\n0\r\nTrailer: x\r\nContent-Length: 999\r\n\r\n',
    '5\r\nhello\r\n',
    ' 5\r\nhello\r\n0\r\n\r\n',
    '5 \r\nhello\r\n0\r\n\r\n',
    '0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
    `${(70_000).toString(16)}\r\n${'a'.repeat(70_000)}\r\n0\r\n\r\n`,
    '\r\n',
  ]);
}

function mutateRequest(prng: Prng, req: Request): void {
  switch (prng.int(14)) {
    case 0:
      req.method = prng.pick([
        'HEAD',
        'PUT',
        'DELETE',
        'OPTIONS',
        'TRACE',
        'CONNECT',
        'PATCH',
        'PRI',
        'get',
        'G\u0000T',
        'M'.repeat(prng.pick([64, 5_000])),
        '',
        'GET GET',
      ]);
      return;
    case 1:
      req.target = prng.pick([
        '*',
        'http://localhost/healthz',
        'https://evil.test:8443/healthz',
        '//healthz',
        `/healthz?${'a'.repeat(prng.pick([8_000, 20_000]))}`,
        '/%00',
        '/%zz',
        '/../../etc/passwd',
        '/healthz#frag',
        `/${'a'.repeat(prng.pick([16_500, 70_000]))}`,
        'healthz',
        `/ocsp/${'A'.repeat(prng.pick([100, 17_000]))}`,
        '/acme/../healthz',
        '/healthz\u0000',
        '/ocsp/%2F%2F',
        '/v1/certificates/%ff%fe',
      ]);
      return;
    case 2:
      req.version = prng.pick([
        'HTTP/1.0',
        'HTTP/0.9',
        'HTTP/2.0',
        'HTTP/1.1 x',
        'http/1.1',
        'HTTP/1.10',
        '',
        'HTTP/1.1\u0000',
        'HTTP/9.9',
      ]);
      return;
    case 3: {
      const count = prng.pick([100, 1_000, 2_000, 10_000]);
      for (let i = 0; i < count; i++) req.headers.push([`X-H${i}`, 'v']);
      return;
    }
    case 4:
      req.headers.push([prng.pick(['X-Long', 'Cookie', 'Host']), 'v'.repeat(prng.pick([8_200, 16_500, 70_000]))]);
      return;
    case 5: // Content-Length conflicts (RFC 9112 §6.3 ¶5: differing values are unrecoverable)
      req.headers.push(['Content-Length', prng.pick(['0', '1', '-1', '1e3', ' 5', '0x10', '99999999999999999999', '5, 6', '', '+5'])]);
      return;
    case 6: // Transfer-Encoding with or without Content-Length: the smuggling shapes
      req.headers.push([
        'Transfer-Encoding',
        prng.pick([
          'chunked',
          'chunked, identity',
          'xchunked',
          'Chunked',
          ' chunked',
          'identity',
          'chunked\u0000',
          'gzip, chunked',
          'chunked, chunked',
        ]),
      ]);
      req.body = chunkedEdge(prng);
      if (prng.int(2) === 0) req.headers.push(['Content-Length', String(prng.int(40))]);
      if (req.method === 'GET' && prng.int(2) === 0) req.method = 'POST';
      return;
    case 7:
      req.headers = req.headers.filter(([name]) => name !== 'Host');
      if (prng.int(2) === 0) req.headers.push(['Host', 'a'], ['Host', 'b']);
      return;
    case 8: // obs-fold, names that are not tokens, no colon
      req.headers.push(
        prng.pick([
          ['X-Fold', 'a\r\n  b'],
          ['Bad Name', 'v'],
          ['X\u0000Y', 'v'],
          ['', 'v'],
          ['X-Colon:', ':'],
          ['X-Empty', ''],
          ['X-Utf8', '\u00ff\u00fe'],
        ]),
      );
      return;
    case 9:
      req.eol = prng.pick(['\n', '\r', '\r\r\n', '\n\r']);
      return;
    case 10:
      req.headers.push(
        ['Expect', prng.pick(['100-continue', 'nonsense'])],
        ['Connection', prng.pick(['close', 'keep-alive', 'Upgrade', 'x'.repeat(10_000)])],
      );
      return;
    case 11:
      req.headers.push(['Upgrade', prng.pick(['h2c', 'websocket', 'TLS/1.2'])], ['Connection', 'Upgrade'], ['HTTP2-Settings', 'AAAA']);
      return;
    case 12:
      req.headers.push([
        'Content-Type',
        prng.pick([
          'application/ocsp-request',
          'application/jose+json',
          'multipart/form-data; boundary=' + 'b'.repeat(5_000),
          'application/json; charset=utf-16',
        ]),
      ]);
      return;
    default:
      req.body = prng.pick(['', '{', '{"a":'.repeat(2_000), '\u0000'.repeat(100), 'x'.repeat(70_000)]);
  }
}

function render(req: Request): Buffer {
  const head = `${req.method} ${req.target} ${req.version}${req.eol}${req.headers.map(([n, v]) => `${n}: ${v}${req.eol}`).join('')}${req.eol}`;
  return Buffer.from(head + req.body, 'latin1');
}

export class HttpTarget implements FuzzTarget {
  readonly name = 'http' as const;
  readonly env = FUZZ_ENV;
  readonly parallel = 16;

  generate(prng: Prng): Buffer {
    const pipelined = prng.int(6) === 0 ? 1 + prng.pick([1, 2, 50]) : 1;
    const requests: Buffer[] = [];
    for (let i = 0; i < pipelined; i++) {
      const req = baseRequest(prng);
      const edits = prng.int(4);
      for (let j = 0; j < edits; j++) mutateRequest(prng, req);
      requests.push(render(req));
    }
    let bytes: Buffer = Buffer.concat(requests);
    if (prng.int(6) === 0) bytes = mutateBytes(prng, bytes, 200_000);
    return bytes;
  }

  async open(service: HostileService): Promise<TargetSession> {
    const sources = new SourceAddresses();
    const ca = await service.bundlePem();
    return {
      send: (input) => rawTls(service.port, ca, sources.take(), input, { idleMs: 40, timeoutMs: 500 }),
      checkRefusal: (_input, outcome) => checkHttpAnswer(outcome),
      close: () => {},
    };
  }
}

/** Every HTTP input gets a status line (or, for heads past every limit, a close); never a 5xx. */
export function checkHttpAnswer(outcome: Outcome): string | undefined {
  const text = outcome.body.subarray(0, 20).toString('latin1');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
  if (status !== undefined) return Number(status) >= 500 ? `answered ${status}` : undefined;
  if (outcome.status === 'closed' || outcome.status === 'reset') return undefined;
  return `expected a status line or a close, got ${outcome.status} with ${JSON.stringify(text)}`;
}
