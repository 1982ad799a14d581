import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostileService } from './harness.js';
import { rawTls, SourceAddresses, type Outcome } from './fuzz/client.js';
import { assertUnharmed, firstHeader, httpStatuses } from './fuzz/oracle.js';

/**
 * HTTP/1.1 request heads at and past the edges (RFC 9112), written raw over
 * a real TLS connection to `keysmith serve` as a child. Each input gets its
 * exact refusal, the child stays alive and answering, and nothing is written.
 */

const MALFORMED = 'https://keysmith.dev/problems/malformed';
const JOIN = 'POST /v1/attest/join-token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';

describe('hostile HTTP request heads', () => {
  let service: HostileService;
  let ca: string;
  const sources = new SourceAddresses();
  before(async () => {
    service = await HostileService.start();
    ca = await service.bundlePem();
  });
  after(() => service.stop());

  /** Sends `text`, returns the answer; then the service must be unharmed. */
  async function send(text: string, what: string): Promise<Outcome> {
    const before = service.certificateCount();
    const outcome = await rawTls(service.port, ca, sources.take(), Buffer.from(text, 'latin1'), { idleMs: 200, timeoutMs: 5_000 });
    await assertUnharmed(service, before, what);
    return outcome;
  }

  function assertProblem(outcome: Outcome, status: number, type: string): void {
    assert.deepEqual(httpStatuses(outcome), [status], outcome.body.subarray(0, 400).toString('latin1'));
    assert.match(firstHeader(outcome, 'content-type') ?? '', /^application\/problem\+json/);
    assert.equal((JSON.parse(outcome.body.toString('latin1').split('\r\n\r\n')[1] ?? '{}') as { type?: string }).type, type);
  }

  it('answers 1,000 small header fields within the 16 KiB head limit', async () => {
    const head = Array.from({ length: 1_000 }, (_, i) => `X-H${i}: v\r\n`).join('');
    assert.deepEqual(httpStatuses(await send(`GET /healthz HTTP/1.1\r\nHost: x\r\n${head}\r\n`, '1,000 headers')), [200]);
  });

  it('refuses 4,000 header fields (a head over 16 KiB) with 431', async () => {
    const head = Array.from({ length: 4_000 }, (_, i) => `X-H${i}: v\r\n`).join('');
    assertProblem(await send(`GET /healthz HTTP/1.1\r\nHost: x\r\n${head}\r\n`, '4,000 headers'), 431, 'about:blank');
  });

  it('refuses one 17 KB header line with 431', async () => {
    assertProblem(
      await send(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: ${'v'.repeat(17_000)}\r\n\r\n`, 'a 17 KB header line'),
      431,
      'about:blank',
    );
  });

  it('refuses a 70 KB request target with 431 and answers a 9 KB one with 404', async () => {
    assertProblem(await send(`GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 'a 70 KB path'), 431, 'about:blank');
    assertProblem(
      await send(`GET /${'a'.repeat(9_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 'a 9 KB path'),
      404,
      'https://keysmith.dev/problems/not-found',
    );
  });

  it('refuses chunk sizes that are not hex, or overflow, with 400 (RFC 9112 §7.1)', async () => {
    assertProblem(await send(`${JOIN}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`, 'a chunk size zz'), 400, MALFORMED);
    assertProblem(
      await send(`${JOIN}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n`, 'an overflowing chunk size'),
      400,
      MALFORMED,
    );
    assertProblem(await send(`${JOIN}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n`, 'a chunk without its CRLF'), 400, MALFORMED);
  });

  it('refuses Content-Length with Transfer-Encoding (request smuggling) with 400, and answers nothing smuggled behind it (RFC 9112 §6.1, §6.3)', async () => {
    const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    assertProblem(
      await send(`${JOIN}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`, 'CL then TE'),
      400,
      MALFORMED,
    );
    assertProblem(
      await send(`${JOIN}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${smuggled}`, 'TE then CL'),
      400,
      MALFORMED,
    );
    assertProblem(await send(`${JOIN}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, 'chunked not last'), 400, MALFORMED);
  });

  it('refuses two different Content-Length values and a negative one with 400 (RFC 9112 §6.3 ¶5)', async () => {
    assertProblem(await send(`${JOIN}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x`, 'two Content-Lengths'), 400, MALFORMED);
    assertProblem(await send(`${JOIN}Content-Length: -1\r\n\r\n`, 'Content-Length -1'), 400, MALFORMED);
  });

  it('refuses NUL in a header value and in the request target with 400 (RFC 9110 §5.5)', async () => {
    assertProblem(await send('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n', 'NUL in a value'), 400, MALFORMED);
    assertProblem(await send('GET /healthz\u0000 HTTP/1.1\r\nHost: x\r\n\r\n', 'NUL in the target'), 400, MALFORMED);
  });

  it('refuses bare CR, bare LF line ends, obs-fold and whitespace before the colon with 400 (RFC 9112 §2.2, §5.1, §5.2)', async () => {
    assertProblem(await send('GET /healthz HTTP/1.1\rHost: x\r\r', 'bare CR line ends'), 400, MALFORMED);
    assertProblem(await send('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n', 'a bare CR in a value'), 400, MALFORMED);
    assertProblem(await send('GET /healthz HTTP/1.1\nHost: x\n\n', 'bare LF line ends'), 400, MALFORMED);
    assertProblem(await send('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n', 'obs-fold'), 400, MALFORMED);
    assertProblem(await send('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n', 'space before the colon'), 400, MALFORMED);
  });

  it('accepts the absolute form of the request target (RFC 9112 §3.2.2: a server MUST accept it)', async () => {
    assert.deepEqual(httpStatuses(await send('GET https://localhost/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n', 'absolute form')), [200]);
  });

  it('refuses an HTTP/1.1 request without Host with a 400 problem document (RFC 9112 §3.2)', async () => {
    assertProblem(await send('GET /healthz HTTP/1.1\r\n\r\n', 'no Host'), 400, MALFORMED);
  });

  it('refuses an HTTP/1.1 request with two Host fields, or an invalid one, with a 400 problem document (RFC 9112 §3.2)', async () => {
    assertProblem(await send('GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 'two Hosts'), 400, MALFORMED);
    assertProblem(await send('GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n', 'a slash in Host'), 400, MALFORMED);
  });

  it('refuses hostile intermediate serials and shards on the CRL routes of rotation (/crl/issuer/…) with 400, an unknown one with 404', async () => {
    const get = (path: string): Promise<Outcome> => send(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`, `GET ${path.slice(0, 60)}`);
    for (const path of [
      '/crl/issuer/..%2f..%2fca',
      '/crl/issuer/ABCDEF',
      `/crl/issuer/${'a'.repeat(41)}`,
      '/crl/issuer/a',
      '/crl/issuer/%00',
      `/crl/issuer/${'0'.repeat(8_000)}`,
    ]) {
      assertProblem(await get(path), 400, 'https://keysmith.dev/problems/malformed');
    }
    for (const shard of ['-1', '99999999999999999999', '0x1', '1.5'])
      assertProblem(await get(`/crl/issuer/abcdef/${shard}`), 400, 'https://keysmith.dev/problems/malformed');
    assertProblem(await get('/crl/issuer/abcdef'), 404, 'https://keysmith.dev/problems/not-found');
  });

  it('answers pipelined requests in order', async () => {
    assert.deepEqual(httpStatuses(await send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3), 'three pipelined')), [200, 200, 200]);
  });
});
