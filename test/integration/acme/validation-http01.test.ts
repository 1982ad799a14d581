import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ChallengeAttempt, ValidationOutcome } from '../../../src/acme/validation/index.js';
import { portOf } from '../../helpers/processes.js';
import { assertEndedAtDeadline, dnsIdentifier, ipIdentifier, makeAttempt, makeValidator, timed } from './validation-fixtures.js';

/**
 * http-01 (RFC 8555 §8.3) against a real node:http server on 127.0.0.1.
 * The validator connects to validationAddress 127.0.0.1 on the server's port;
 * each test installs its own handler for the challenge path.
 */

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

interface SeenRequest {
  readonly host: string | undefined;
  readonly path: string;
  readonly userAgent: string | undefined;
}

describe('http-01 validation', () => {
  let server: Server;
  let port: number;
  let handler: Handler;
  let seen: SeenRequest[];
  const sockets = new Set<Socket>();

  before(async () => {
    server = createServer((request, response) => {
      seen.push({ host: request.headers.host, path: request.url ?? '', userAgent: request.headers['user-agent'] });
      handler(request, response);
    });
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = portOf(server.address());
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    seen = [];
    handler = (_request, response) => {
      response.statusCode = 500;
      response.end();
    };
  });

  function validator(timeoutMs = 5_000): ReturnType<typeof makeValidator> {
    return makeValidator({ validationAddress: '127.0.0.1', http01Port: port, timeoutMs });
  }

  function challengePath(attempt: ChallengeAttempt): string {
    return `/.well-known/acme-challenge/${attempt.token}`;
  }

  /** Serves `body` with `status` at the challenge path, 404 elsewhere. */
  function serve(attempt: ChallengeAttempt, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
    handler = (request, response) => {
      if (request.url !== challengePath(attempt)) {
        response.statusCode = 404;
        response.end('not found');
        return;
      }
      response.writeHead(status, headers);
      response.end(body);
    };
  }

  function assertFailed(outcome: ValidationOutcome, type: string, detail: RegExp): void {
    assert.equal(outcome.ok, false, 'validation should fail');
    if (outcome.ok) return;
    assert.equal(outcome.error.type, type, outcome.error.detail);
    assert.match(outcome.error.detail, detail);
  }

  it('passes when the body is the key authorization, asking with Host = the identifier (RFC 8555 §8.3)', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    serve(attempt, 200, attempt.keyAuthorization);
    assert.deepEqual(await validator().validate(attempt), { ok: true });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.host, 'app.example.test');
    assert.equal(seen[0]?.path, challengePath(attempt));
    assert.equal(seen[0]?.userAgent, 'keysmith-acme-validator');
  });

  it('ignores trailing whitespace after the key authorization (as Boulder does)', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    serve(attempt, 200, `${attempt.keyAuthorization}\r\n \t\n`);
    assert.deepEqual(await validator().validate(attempt), { ok: true });
  });

  it('brackets an IPv6 identifier in the Host header', async () => {
    const attempt = makeAttempt('http-01', ipIdentifier('2001:db8::1'));
    serve(attempt, 200, attempt.keyAuthorization);
    assert.deepEqual(await validator().validate(attempt), { ok: true });
    assert.equal(seen[0]?.host, '[2001:db8::1]');
  });

  it('fails with incorrectResponse when the body is another key authorization, quoting both', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    const other = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    serve(attempt, 200, other.keyAuthorization);
    const outcome = await validator().validate(attempt);
    assertFailed(outcome, 'incorrectResponse', /does not match this challenge/);
    if (!outcome.ok) {
      assert.ok(outcome.error.detail.includes(attempt.keyAuthorization), 'the detail names what was expected');
      assert.ok(outcome.error.detail.includes(other.keyAuthorization.slice(0, 64)), 'the detail quotes what was received');
    }
  });

  it('fails when leading whitespace or a prefix precedes the key authorization', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    serve(attempt, 200, ` ${attempt.keyAuthorization}`);
    assertFailed(await validator().validate(attempt), 'incorrectResponse', /does not match/);
  });

  it('fails with unauthorized on a 404, naming the status', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    handler = (_request, response) => {
      response.statusCode = 404;
      response.end(attempt.keyAuthorization);
    };
    assertFailed(await validator().validate(attempt), 'unauthorized', /HTTP 404/);
  });

  it('refuses a body over 8 KiB without buffering it all', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    // A 64 MiB body written as fast as the validator takes it: it must stop reading after its 8 KiB cap.
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    let written = 0;
    const closed = new Promise<void>((resolve) => {
      handler = (_request, response) => {
        response.writeHead(200, { 'content-length': String(total) });
        const pump = (): void => {
          while (written < total && !response.destroyed) {
            written += chunk.length;
            if (!response.write(chunk)) return void response.once('drain', pump);
          }
          response.end();
        };
        response.once('close', () => resolve());
        pump();
      };
    });
    assertFailed(await validator().validate(attempt), 'unauthorized', /exceeds 8192 bytes/);
    await closed;
    // What the kernel's socket buffers absorbed is all that left the server: a few MiB at most, never the 64.
    assert.ok(written < 16 * 1024 * 1024, `the server wrote ${written} bytes before the validator hung up`);
  });

  it('times out against a server that never answers, within its own bound', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    handler = () => {
      // Never answers; the socket is destroyed in after().
    };
    const { value, ms } = await timed(validator(300).validate(attempt));
    assertFailed(value, 'connection', /timed out|Timeout/);
    assertEndedAtDeadline(ms, 300, 'http-01 against a silent server');
  });

  it('fails with connection when nothing listens on the port', async () => {
    const closed = createTcpServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const closedPort = portOf(closed.address());
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    const outcome = await makeValidator({ validationAddress: '127.0.0.1', http01Port: closedPort }).validate(attempt);
    assertFailed(outcome, 'connection', /connection refused/);
  });

  it('follows a redirect to another path on the same host', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    handler = (request, response) => {
      if (request.url === challengePath(attempt)) {
        response.writeHead(302, { Location: '/moved/here' });
        response.end();
      } else if (request.url === '/moved/here') {
        response.end(attempt.keyAuthorization);
      } else {
        response.statusCode = 404;
        response.end();
      }
    };
    assert.deepEqual(await validator().validate(attempt), { ok: true });
    assert.deepEqual(
      seen.map((s) => [s.host, s.path]),
      [
        ['app.example.test', challengePath(attempt)],
        ['app.example.test', '/moved/here'],
      ],
    );
  });

  it('follows an absolute redirect to the same host without a port (port 80 maps to the http-01 port)', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    handler = (request, response) => {
      if (request.url === challengePath(attempt)) {
        response.writeHead(301, { Location: 'http://APP.example.test/elsewhere' });
        response.end();
      } else {
        response.end(attempt.keyAuthorization);
      }
    };
    assert.deepEqual(await validator().validate(attempt), { ok: true });
    assert.equal(seen[1]?.path, '/elsewhere');
  });

  for (const [what, location, reason] of [
    ['another host', 'http://metadata.internal/latest', /another host/],
    ['a protocol-relative URL to another host', '//169.254.169.254/latest', /another host/],
    ['another port', 'http://app.example.test:8080/x', /port 8080/],
    ['https', 'https://app.example.test/x', /only http redirects/],
    ['a non-http scheme', 'file:///etc/passwd', /only http redirects/],
  ] as const) {
    it(`refuses a redirect to ${what} without following it`, async () => {
      const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
      serve(attempt, 302, '', { Location: location });
      assertFailed(await validator().validate(attempt), 'unauthorized', reason);
      assert.equal(seen.length, 1, 'only the first request was made');
    });
  }

  it('gives up after 10 redirects', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    handler = (request, response) => {
      response.writeHead(307, { Location: `${request.url ?? '/'}x` });
      response.end();
    };
    assertFailed(await validator().validate(attempt), 'unauthorized', /Too many redirects/);
    assert.equal(seen.length, 11, 'the first request and 10 redirects');
  });

  it('refuses a malformed attempt without connecting', async () => {
    const attempt = { ...makeAttempt('http-01', dnsIdentifier('app.example.test')), token: '../../admin' };
    assertFailed(await validator().validate(attempt), 'unauthorized', /token/);
    const wildcard = makeAttempt('http-01', dnsIdentifier('*.example.test'));
    assertFailed(await validator().validate(wildcard), 'rejectedIdentifier', /canonical/);
    assert.equal(seen.length, 0);
  });
});

/**
 * Bodies that end with the connection (RFC 9112 §6.3 rule 8) and bodies cut
 * short by it (§8), from a raw TCP target: each is judged when the target
 * closes, not when the validation deadline fires. The deadline is 60 s and
 * each test's own timeout 10 s, so a validator that waited would fail the test.
 */
describe('http-01 validation of bodies ended by the connection', () => {
  const DEADLINE_MS = 60_000;
  const TEST_OPTIONS = { timeout: 10_000 };
  let server: ReturnType<typeof createTcpServer>;
  let port: number;
  let reply: (attempt: ChallengeAttempt) => string;
  let current: ChallengeAttempt;

  before(async () => {
    server = createTcpServer((socket) => {
      socket.on('error', () => {});
      // The request is small; answer once its head has arrived, then close our side (an orderly FIN).
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n')) socket.end(reply(current));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = portOf(server.address());
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function validate(answer: (attempt: ChallengeAttempt) => string): Promise<ValidationOutcome> {
    current = makeAttempt('http-01', dnsIdentifier('app.example.test'));
    reply = answer;
    return makeValidator({ validationAddress: '127.0.0.1', http01Port: port, timeoutMs: DEADLINE_MS }).validate(current);
  }

  function assertNotTimedOut(outcome: ValidationOutcome): void {
    if (!outcome.ok) assert.doesNotMatch(outcome.error.detail, /timed out|Timeout/i);
  }

  it('passes a body without Content-Length that ends when the target closes (Connection: close)', TEST_OPTIONS, async () => {
    const outcome = await validate((a) => `HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${a.keyAuthorization}`);
    assert.deepEqual(outcome, { ok: true });
  });

  it('passes an HTTP/1.0 body delimited by the close', TEST_OPTIONS, async () => {
    assert.deepEqual(await validate((a) => `HTTP/1.0 200 OK\r\n\r\n${a.keyAuthorization}\n`), { ok: true });
  });

  it('judges a wrong close-delimited body at once: incorrectResponse, not a timeout', TEST_OPTIONS, async () => {
    const outcome = await validate(() => 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nnot-the-key-authorization');
    assert.equal(outcome.ok, false);
    if (outcome.ok) return;
    assert.equal(outcome.error.type, 'incorrectResponse', outcome.error.detail);
    assert.match(outcome.error.detail, /got "not-the-key-authorization"/);
  });

  it(
    'fails a body cut short of its Content-Length with connection, naming the incomplete response (RFC 9112 §8)',
    TEST_OPTIONS,
    async () => {
      const outcome = await validate((a) => `HTTP/1.1 200 OK\r\nContent-Length: 500\r\nConnection: close\r\n\r\n${a.keyAuthorization}`);
      assert.equal(outcome.ok, false);
      if (outcome.ok) return;
      assert.equal(outcome.error.type, 'connection', outcome.error.detail);
      assert.match(
        outcome.error.detail,
        /closed after 87 bytes of the body, before the end its headers declared \(an incomplete response, RFC 9112 §8\)/,
      );
      assertNotTimedOut(outcome);
    },
  );

  it('fails a chunked body closed before its last chunk with connection at once', TEST_OPTIONS, async () => {
    const outcome = await validate(
      (a) => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${a.keyAuthorization.length.toString(16)}\r\n${a.keyAuthorization}\r\n`,
    );
    assert.equal(outcome.ok, false);
    if (outcome.ok) return;
    assert.equal(outcome.error.type, 'connection', outcome.error.detail);
    assert.match(outcome.error.detail, /an incomplete response/);
    assertNotTimedOut(outcome);
  });
});
