import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildPlainHttpApp, MAX_OCSP_BODY_BYTES } from '../../../src/http/index.js';
import { connect } from '../../../src/tls/index.js';
import { describeCrl, describeOcspResponse, encodeOcspRequest, type DescribedOcspResponse } from '../../../src/x509/index.js';
import { fixture, mintIdentities, serve, TlsAgent, type Identities, type Identity, type Served } from '../http/harness.js';
import { ocspStack, type OcspStack } from '../../unit/ocsp/helpers.js';

/**
 * The OCSP, CRL and CA-certificate routes over our TLS engine (and the
 * optional plain-HTTP listener), with a real OCSP stack behind them: every
 * outcome is an OCSPResponse, GETs carry cache headers from the response's
 * own dates, and the responder keeps serving while one client dawdles.
 */

interface BinaryReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

interface BinaryRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  readonly identity?: Identity;
  /** Plain HTTP instead of our TLS. */
  readonly plain?: boolean;
  /** Send the body chunked, with no Content-Length. */
  readonly chunked?: boolean;
}

function sendBytes(port: number, options: BinaryRequest): Promise<BinaryReply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined && options.chunked !== true) headers['content-length'] ??= String(options.body.length);
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers,
        ...(options.plain === true ? {} : { agent: new TlsAgent(port, options.identity, false) }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`request ${options.path} timed out`)));
    req.on('error', reject);
    if (options.chunked === true && options.body !== undefined) {
      // Several writes with no Content-Length: node:http sends Transfer-Encoding: chunked.
      for (let at = 0; at < options.body.length; at += 4096) req.write(options.body.subarray(at, at + 4096));
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

const OCSP_HEADERS = { 'content-type': 'application/ocsp-request' };

/** Writes raw request bytes over our TLS client and collects everything until the server closes (bounded). */
function rawExchange(port: number, head: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: fixture('ca.pem'), ALPNProtocols: ['http/1.1'] });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 10 s')), 10_000);
    socket.on('secure', () => socket.write(head));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks));
      else reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** A hand-written answer from node:http's clientError path: status line, OCSP content type, a malformedRequest body. */
function assertRawOcspRefusal(raw: Buffer, httpStatus: number): void {
  const split = raw.indexOf('\r\n\r\n');
  assert.ok(split > 0, `no HTTP head in ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const head = raw.subarray(0, split).toString('latin1');
  assert.match(head, new RegExp(`^HTTP/1\\.1 ${httpStatus} `));
  assert.match(head, /\r\nContent-Type: application\/ocsp-response\r\n/);
  assert.equal(describeOcspResponse(raw.subarray(split + 4)).status, 'malformedRequest');
}

function basicOf(body: Buffer): NonNullable<DescribedOcspResponse['basic']> {
  const described = describeOcspResponse(body);
  assert.equal(described.status, 'successful');
  assert.ok(described.basic !== undefined);
  return described.basic;
}

function assertOcspRefusal(reply: BinaryReply, httpStatus: number, ocspStatus: string): void {
  assert.equal(reply.status, httpStatus);
  assert.equal(reply.headers['content-type'], 'application/ocsp-response');
  assert.equal(describeOcspResponse(reply.body).status, ocspStatus);
  assert.equal(reply.headers['cache-control'], 'no-store');
}

let stack: OcspStack;
let ids: Identities;
before(async () => {
  stack = await ocspStack();
  ids = await mintIdentities();
});
after(async () => {
  stack.close();
  await ids.cleanup();
});

function requestFor(certificateDer: Uint8Array, nonce?: Uint8Array): Buffer {
  return Buffer.from(encodeOcspRequest([{ certificateDer, issuerDer: stack.material.intermediate.certDer }], nonce));
}

/** RFC 6960 Appendix A.1: base64, then URL-encoded as clients send it. */
function getPath(der: Buffer): string {
  return `/ocsp/${encodeURIComponent(der.toString('base64'))}`;
}

describe('OCSP over the TLS listener', () => {
  let served: Served | undefined;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  it('answers POST good, revoked (with reason) and unknown to a client without a certificate', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const good = await stack.issue();
    const revoked = await stack.issue();
    await stack.authority.revoke(revoked.serial, 'keyCompromise');
    const answers = [];
    for (const der of [good.der, revoked.der, stack.material.root.certDer]) {
      const reply = await sendBytes(served.port, { method: 'POST', path: '/ocsp', headers: OCSP_HEADERS, body: requestFor(der) });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['content-type'], 'application/ocsp-response');
      // RFC 5019 §5: only GETs are cacheable.
      assert.equal(reply.headers['cache-control'], 'no-store');
      answers.push(basicOf(reply.body).responses[0]?.status);
    }
    assert.deepEqual(answers[0], { kind: 'good' });
    assert.equal(answers[1]?.kind, 'revoked');
    assert.equal(answers[1]?.kind === 'revoked' ? answers[1].reason : undefined, 'keyCompromise');
    assert.deepEqual(answers[2], { kind: 'unknown' });
  });

  it('answers a revocation in the same second it was made: revoked', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const issued = await stack.issue();
    const before = await sendBytes(served.port, { path: getPath(requestFor(issued.der)) });
    assert.equal(basicOf(before.body).responses[0]?.status.kind, 'good');
    await stack.authority.revoke(issued.serial, 'affiliationChanged');
    const after = await sendBytes(served.port, { path: getPath(requestFor(issued.der)) });
    const status = basicOf(after.body).responses[0]?.status;
    assert.equal(status?.kind, 'revoked');
    assert.equal(status?.kind === 'revoked' ? Math.floor(status.revokedAt / 1000) : 0, Math.floor(stack.clock.now() / 1000));
  });

  it('answers GET with cache headers from the response (RFC 5019 §6.2), an ETag, and 304 for If-None-Match', async () => {
    served = await serve({ deps: { ocsp: stack.port, clock: stack.clock } });
    const issued = await stack.issue('cached', 24 * 3_600_000);
    const der = requestFor(issued.der);
    const reply = await sendBytes(served.port, { path: getPath(der) });
    assert.equal(reply.status, 200);
    const single = basicOf(reply.body).responses[0];
    assert.ok(single?.nextUpdate !== null && single !== undefined);
    const maxAge = Math.floor((single.nextUpdate - stack.clock.now()) / 1000);
    assert.equal(reply.headers['cache-control'], `max-age=${maxAge}, public, no-transform, must-revalidate`);
    assert.equal(reply.headers['last-modified'], new Date(single.thisUpdate).toUTCString());
    assert.equal(reply.headers['expires'], new Date(single.nextUpdate).toUTCString());
    assert.equal(reply.headers['etag'], `"${createHash('sha256').update(reply.body).digest('base64url')}"`);

    // POST of the same bytes: the same pre-signed response.
    const posted = await sendBytes(served.port, { method: 'POST', path: '/ocsp', headers: OCSP_HEADERS, body: der });
    assert.deepEqual(posted.body, reply.body);

    const etag = String(reply.headers['etag']);
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const notModified = await sendBytes(served.port, { path: getPath(der), headers: { 'if-none-match': header } });
      assert.equal(notModified.status, 304, header);
      assert.equal(notModified.body.length, 0);
      assert.equal(notModified.headers['etag'], etag);
      assert.match(String(notModified.headers['cache-control']), /^max-age=\d+, public, no-transform, must-revalidate$/);
    }
    assert.equal((await sendBytes(served.port, { path: getPath(der), headers: { 'if-none-match': '"stale"' } })).status, 200);
  });

  it('accepts the base64 path unencoded, with + turned into spaces, and with a doubled slash', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const issued = await stack.issue();
    const der = requestFor(issued.der);
    const base64 = der.toString('base64');
    for (const path of [`/ocsp/${base64}`, `/ocsp/${base64.replaceAll('+', '%20')}`, `/ocsp//${encodeURIComponent(base64)}`]) {
      const reply = await sendBytes(served.port, { path });
      assert.equal(reply.status, 200, path);
      assert.equal(basicOf(reply.body).responses[0]?.serial, issued.serial);
    }
  });

  it('echoes a nonce and marks such a response no-store, never with an ETag (RFC 9654)', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const issued = await stack.issue();
    const nonce = Buffer.alloc(16, 0xab);
    for (const reply of [
      await sendBytes(served.port, { path: getPath(requestFor(issued.der, nonce)) }),
      await sendBytes(served.port, { method: 'POST', path: '/ocsp', headers: OCSP_HEADERS, body: requestFor(issued.der, nonce) }),
    ]) {
      assert.equal(reply.status, 200);
      assert.deepEqual(Buffer.from(basicOf(reply.body).nonce ?? []), nonce);
      assert.equal(reply.headers['cache-control'], 'no-store');
      assert.equal(reply.headers['etag'], undefined);
    }
  });

  it('answers garbage, truncated bodies, broken paths and bad nonces with malformedRequest (400), never a problem document', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const issued = await stack.issue();
    const der = requestFor(issued.der);
    for (const body of [
      Buffer.from('garbage'),
      der.subarray(0, der.length - 3),
      Buffer.alloc(0),
      requestFor(issued.der, new Uint8Array(0)),
      requestFor(issued.der, new Uint8Array(129)),
    ]) {
      assertOcspRefusal(
        await sendBytes(served.port, { method: 'POST', path: '/ocsp', headers: OCSP_HEADERS, body }),
        400,
        'malformedRequest',
      );
    }
    for (const path of [
      '/ocsp/not*base64',
      '/ocsp/%zz',
      '/ocsp/',
      '/ocsp',
      `/ocsp/${encodeURIComponent(der.subarray(0, 20).toString('base64'))}`,
    ]) {
      assertOcspRefusal(await sendBytes(served.port, { path }), 400, 'malformedRequest');
    }
  });

  it('answers POST on the responder URL with a trailing slash as a request (RFC 6960 Appendix A.1)', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const issued = await stack.issue();
    const reply = await sendBytes(served.port, { method: 'POST', path: '/ocsp/', headers: OCSP_HEADERS, body: requestFor(issued.der) });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'application/ocsp-response');
    assert.equal(basicOf(reply.body).responses[0]?.status.kind, 'good');
  });

  it('answers paths below the responder URL, other methods and unparsable heads under /ocsp in OCSP, never a problem document', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const issued = await stack.issue();
    const der = requestFor(issued.der);
    assertOcspRefusal(
      await sendBytes(served.port, { method: 'POST', path: '/ocsp/abc', headers: OCSP_HEADERS, body: der }),
      404,
      'malformedRequest',
    );
    // RFC 6960 Appendix A.1 defines GET and POST only; RFC 9110 §15.5.6: a 405 says which methods the resource has.
    for (const [method, path] of [
      ['PUT', '/ocsp'],
      ['DELETE', '/ocsp/'],
      ['PATCH', `/ocsp/${encodeURIComponent(der.toString('base64'))}`],
      ['OPTIONS', '/ocsp'],
    ] as const) {
      const reply = await sendBytes(served.port, { method, path, headers: OCSP_HEADERS, body: der });
      assertOcspRefusal(reply, 405, 'malformedRequest');
      assert.equal(reply.headers['allow'], 'GET, HEAD, POST', `${method} ${path}`);
    }
    // A head over node:http's 16 KiB limit is refused before any route runs; the answer is still OCSP.
    const longGet = await rawExchange(served.port, `GET /ocsp/${'A'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assertRawOcspRefusal(longGet, 431);
    const badSyntax = await rawExchange(served.port, 'GET /ocsp/abc HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    assertRawOcspRefusal(badSyntax, 400);
    // Elsewhere the same failures stay problem documents.
    const longOther = await rawExchange(served.port, `GET /v1/bundle?${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(
      longOther.toString('latin1'),
      /^HTTP\/1\.1 431 [^\r]*\r\n(?:[^\r]+\r\n)*Content-Type: application\/problem\+json; charset=utf-8\r\n/,
    );
  });

  it('answers another content type with 415 and an oversized body with 413, both as malformedRequest', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const issued = await stack.issue();
    assertOcspRefusal(
      await sendBytes(served.port, {
        method: 'POST',
        path: '/ocsp',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from('{}'),
      }),
      415,
      'malformedRequest',
    );
    assertOcspRefusal(
      await sendBytes(served.port, { method: 'POST', path: '/ocsp', body: requestFor(issued.der) }),
      415,
      'malformedRequest',
    );
    const big = Buffer.alloc(MAX_OCSP_BODY_BYTES + 1, 0x30);
    assertOcspRefusal(
      await sendBytes(served.port, { method: 'POST', path: '/ocsp', headers: OCSP_HEADERS, body: big }),
      413,
      'malformedRequest',
    );
    // Without a Content-Length (chunked) the cap applies while reading.
    assertOcspRefusal(
      await sendBytes(served.port, { method: 'POST', path: '/ocsp', headers: OCSP_HEADERS, body: big, chunked: true }),
      413,
      'malformedRequest',
    );
  });

  it('answers a refused client certificate and strict mTLS refusals with unauthorized, in OCSP', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const issued = await stack.issue();
    // The fixture workload certificate chains to the test CA but is not in this ledger: refused on every route.
    const reply = await sendBytes(served.port, {
      method: 'POST',
      path: '/ocsp',
      headers: OCSP_HEADERS,
      body: requestFor(issued.der),
      identity: ids.workload,
    });
    assertOcspRefusal(reply, 403, 'unauthorized');
    await served.close();
    served = await serve({ mtlsMode: 'strict', deps: { ocsp: stack.port } });
    const injected = await served.app.inject({ method: 'POST', url: '/ocsp', headers: OCSP_HEADERS, payload: requestFor(issued.der) });
    assert.equal(injected.statusCode, 401);
    assert.equal(describeOcspResponse(injected.rawPayload).status, 'unauthorized');
  });

  it('keeps answering other clients while one client sends its body slowly', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const issued = await stack.issue();
    const der = requestFor(issued.der);
    const slow = connect({
      host: '127.0.0.1',
      port: served.port,
      servername: 'localhost',
      ca: fixture('ca.pem'),
      ALPNProtocols: ['http/1.1'],
    });
    slow.on('error', () => {});
    await new Promise<void>((resolve) => slow.once('secure', () => resolve()));
    slow.write(`POST /ocsp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${der.length}\r\n\r\n`);
    slow.write(der.subarray(0, 10));
    try {
      const started = performance.now();
      for (let i = 0; i < 20; i++) assert.equal((await sendBytes(served.port, { path: getPath(der) })).status, 200);
      assert.ok(performance.now() - started < 5_000, 'the other requests were not held up');
      // The slow client finishes and gets its answer too.
      const answer = new Promise<string>((resolve) => {
        let text = '';
        slow.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1');
          if (text.includes('\r\n\r\n')) resolve(text);
        });
      });
      slow.write(der.subarray(10));
      assert.match(await answer, /^HTTP\/1\.1 200 /);
    } finally {
      slow.destroy();
    }
  });
});

describe('CRL and CA certificate over the TLS listener', () => {
  let served: Served | undefined;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  it('serves the DER CRL with the revoked serial, cache headers from its dates and 304 on its ETag', async () => {
    served = await serve({ deps: { ocsp: stack.port, clock: stack.clock } });
    const issued = await stack.issue();
    await stack.authority.revoke(issued.serial, 'keyCompromise');
    await stack.crl.settled();
    const reply = await sendBytes(served.port, { path: '/crl' });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'application/pkix-crl');
    const crl = describeCrl(reply.body);
    assert.ok(crl.entries.some((e) => e.serial === issued.serial && e.reason === 'keyCompromise'));
    assert.equal(reply.headers['last-modified'], new Date(crl.thisUpdate).toUTCString());
    assert.equal(reply.headers['expires'], new Date(crl.nextUpdate ?? 0).toUTCString());
    const etag = String(reply.headers['etag']);
    assert.equal((await sendBytes(served.port, { path: '/crl', headers: { 'if-none-match': etag } })).status, 304);
  });

  it('answers 503 with Retry-After and a problem document until the first CRL is built', async () => {
    served = await serve({ deps: { ocsp: { ...stack.port, crl: () => 'pending' }, clock: stack.clock } });
    const reply = await sendBytes(served.port, { path: '/crl' });
    assert.equal(reply.status, 503);
    assert.equal(reply.headers['retry-after'], '2');
    assert.equal(reply.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(JSON.parse(reply.body.toString('utf8')).type, 'https://keysmith.dev/problems/crl-pending');
  });

  it('serves /crl/<n> only for shards that exist: 404 for another number, 400 for what is not one', async () => {
    served = await serve({ deps: { ocsp: stack.port, clock: stack.clock } });
    // The stack is unsharded: its only CRL is /crl.
    const missing = await sendBytes(served.port, { path: '/crl/0' });
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.body.toString('utf8')).type, 'https://keysmith.dev/problems/not-found');
    for (const path of ['/crl/x', '/crl/-1', '/crl/01', '/crl/1000'])
      assert.equal((await sendBytes(served.port, { path })).status, 400, path);
  });

  it('serves the issuing CA certificate as DER', async () => {
    served = await serve({ deps: { ocsp: stack.port } });
    const reply = await sendBytes(served.port, { path: '/ca.crt' });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'application/pkix-cert');
    assert.deepEqual(reply.body, Buffer.from(stack.material.intermediate.certDer));
  });

  it('registers none of these routes when no OCSP port is given', async () => {
    served = await serve();
    const reply = await sendBytes(served.port, { path: '/crl' });
    assert.equal(reply.status, 404);
  });
});

describe('the optional plain-HTTP listener', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('serves OCSP (GET and POST), the CRL and the CA certificate, and nothing else', async () => {
    app = await buildPlainHttpApp({ ocsp: stack.port, clock: stack.clock, logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const issued = await stack.issue();
    const der = requestFor(issued.der);
    const got = await sendBytes(port, { path: getPath(der), plain: true });
    assert.equal(got.status, 200);
    assert.equal(basicOf(got.body).responses[0]?.status.kind, 'good');
    assert.match(String(got.headers['cache-control']), /^max-age=\d+, public, no-transform, must-revalidate$/);
    const posted = await sendBytes(port, { method: 'POST', path: '/ocsp', headers: OCSP_HEADERS, body: der, plain: true });
    assert.deepEqual(posted.body, got.body);
    assertOcspRefusal(
      await sendBytes(port, { method: 'POST', path: '/ocsp', headers: OCSP_HEADERS, body: Buffer.from('x'), plain: true }),
      400,
      'malformedRequest',
    );
    assert.equal((await sendBytes(port, { path: '/crl', plain: true })).headers['content-type'], 'application/pkix-crl');
    assert.equal((await sendBytes(port, { path: '/ca.crt', plain: true })).status, 200);
    for (const path of ['/healthz', '/v1/bundle', '/v1/certificates', '/metrics', '/openapi.json']) {
      const reply = await sendBytes(port, { path, plain: true });
      assert.equal(reply.status, 404, path);
      assert.match(String(reply.headers['content-type']), /^application\/problem\+json/);
    }
  });
});
