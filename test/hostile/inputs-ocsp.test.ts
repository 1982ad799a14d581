import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostileService } from './harness.js';
import { HttpsClient, SourceAddresses, type Outcome } from './fuzz/client.js';
import { decodeDer, encodeDer, int, nestRaw, type DerNode } from './fuzz/der.js';
import { assertUnharmed } from './fuzz/oracle.js';
import type { TargetSession } from './fuzz/target.js';
import { OcspTarget, ocspSeeds } from './fuzz/targets/ocsp.js';

/**
 * OCSPRequest DER at the edges (RFC 6960 §4.1.1) to POST /ocsp and
 * GET /ocsp/{base64} on `keysmith serve` as a child: truncated, lying
 * lengths, BER forms, a wrong version, many CertIDs, deep nesting. Each
 * gets an OCSPResponse with the right status; the child stays alive and
 * answering; nothing is written. Every other path and method under /ocsp,
 * and heads node:http refuses before routing, get an OCSPResponse too.
 */

/** OCSPResponseStatus (RFC 6960 §4.2.1). */
const SUCCESSFUL = 0;
const MALFORMED_REQUEST = 1;
const UNAUTHORIZED = 6;

/** The responseStatus of an OCSPResponse body, or undefined when the body is not one. */
function ocspStatus(outcome: Outcome): number | undefined {
  if (outcome.headers['content-type'] !== 'application/ocsp-response') return undefined;
  const status = decodeDer(outcome.body).children?.[0];
  return status?.tag === 0x0a ? status.content?.[0] : undefined;
}

function assertOcsp(outcome: Outcome, httpStatus: number, ocsp: number, what: string): void {
  assert.equal(outcome.status, httpStatus, `${what}: HTTP status`);
  assert.equal(ocspStatus(outcome), ocsp, `${what}: OCSPResponseStatus`);
}

/** The seed request with its requestList replaced by `count` copies of its first Request. */
function withRequests(count: number): Buffer {
  const tree = decodeDer(firstSeed());
  const list = tree.children?.[0]?.children?.[0];
  const request = list?.children?.[0];
  if (list === undefined || request === undefined) throw new Error('seed did not parse');
  list.children = Array.from({ length: count }, () => request);
  return encodeDer(tree);
}

function firstSeed(): Buffer {
  const [seed] = ocspSeeds();
  if (seed === undefined) throw new Error('no OCSP seed');
  return seed;
}

describe('hostile OCSPRequests', () => {
  let service: HostileService;
  let session: TargetSession;
  before(async () => {
    service = await HostileService.start();
    session = await new OcspTarget().open(service);
  });
  after(async () => {
    session.close();
    await service.stop();
  });

  /** POST and GET of `der` (the seed's issuer markers become this service's intermediate). */
  async function both(der: Buffer, what: string): Promise<[Outcome, Outcome]> {
    const before = service.certificateCount();
    const post = await session.send(Buffer.concat([Buffer.from('P'), der]));
    const get = await session.send(Buffer.concat([Buffer.from('G'), der]));
    await assertUnharmed(service, before, what);
    return [post, get];
  }

  it('answers the unmutated seed for this intermediate as successful (the edges below start from it)', async () => {
    for (const outcome of await both(firstSeed(), 'the seed')) assertOcsp(outcome, 200, SUCCESSFUL, 'seed');
  });

  it('refuses a truncated request with malformedRequest', async () => {
    const seed = firstSeed();
    for (const cut of [1, 5, seed.length - 2]) {
      for (const outcome of await both(seed.subarray(0, seed.length - cut), `truncated by ${cut}`))
        assertOcsp(outcome, 400, MALFORMED_REQUEST, `cut ${cut}`);
    }
    for (const outcome of await both(Buffer.alloc(0), 'empty')) assertOcsp(outcome, 400, MALFORMED_REQUEST, 'empty');
  });

  it('refuses lengths that lie, BER indefinite lengths and trailing bytes with malformedRequest (DER only, X.690 §10.1)', async () => {
    const seed = firstSeed();
    const cases: [string, Buffer][] = [
      ['a 2^32-1 length', Buffer.concat([Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), seed.subarray(2)])],
      ['an indefinite length', Buffer.concat([Buffer.from([0x30, 0x80]), seed.subarray(2), Buffer.from([0, 0])])],
      ['a trailing byte', Buffer.concat([seed, Buffer.from([0])])],
    ];
    for (const [what, der] of cases) for (const outcome of await both(der, what)) assertOcsp(outcome, 400, MALFORMED_REQUEST, what);
  });

  it('refuses a long-form length for a short value with malformedRequest (X.690 §10.1: DER lengths use the fewest octets)', async () => {
    const seed = firstSeed();
    const der = Buffer.concat([Buffer.from([0x30, 0x81]), seed.subarray(1)]);
    for (const outcome of await both(der, 'a non-minimal length')) assertOcsp(outcome, 400, MALFORMED_REQUEST, 'non-minimal length');
  });

  it('answers a request with version v2 (undefined by RFC 6960) with an OCSP response, never a problem', async () => {
    const tree = decodeDer(firstSeed());
    const tbs: DerNode | undefined = tree.children?.[0];
    tbs?.children?.unshift({ tag: 0xa0, children: [int(1)] });
    for (const outcome of await both(encodeDer(tree), 'version v2')) {
      assert.ok(
        [SUCCESSFUL, MALFORMED_REQUEST, UNAUTHORIZED].includes(ocspStatus(outcome) ?? -1),
        `an OCSPResponse, got ${String(outcome.status)} ${String(outcome.headers['content-type'])}`,
      );
    }
  });

  it('answers 32 CertIDs in one request and refuses 33 with malformedRequest', async () => {
    for (const outcome of await both(withRequests(32), '32 CertIDs')) assertOcsp(outcome, 200, SUCCESSFUL, '32 CertIDs');
    for (const outcome of await both(withRequests(33), '33 CertIDs')) assertOcsp(outcome, 400, MALFORMED_REQUEST, '33 CertIDs');
  });

  it('refuses 250 CertIDs (over 16 KiB): POST with 413, GET with 431 (a head over the limit), both as malformedRequest', async () => {
    const [post, get] = await both(withRequests(250), '250 CertIDs');
    assertOcsp(post, 413, MALFORMED_REQUEST, 'POST 250 CertIDs');
    assertOcsp(get, 431, MALFORMED_REQUEST, 'GET 250 CertIDs');
  });

  it('refuses deep nesting: 100 levels with malformedRequest, 5,000 levels (20 KB) with 413 on POST', async () => {
    const seed = firstSeed();
    for (const outcome of await both(
      nestRaw(seed, 100, () => 0x30),
      '100 levels',
    ))
      assertOcsp(outcome, 400, MALFORMED_REQUEST, '100 levels');
    const [post, get] = await both(
      nestRaw(seed, 5_000, () => 0x30),
      '5,000 levels',
    );
    assertOcsp(post, 413, MALFORMED_REQUEST, 'POST 5,000 levels');
    assertOcsp(get, 431, MALFORMED_REQUEST, 'GET 5,000 levels');
  });

  it('answers other paths and methods under /ocsp with an OCSP response (404, 405, 431, 400), and lives', async () => {
    const https = new HttpsClient(service.port, await service.bundlePem(), new SourceAddresses());
    try {
      const before = service.certificateCount();
      const body = firstSeed();
      const requests = [
        // Answered as a request: the seed asks about another issuer's certificate.
        { method: 'POST', path: '/ocsp/', body, status: 200, ocsp: UNAUTHORIZED },
        { method: 'POST', path: '/ocsp/abc', body, status: 404, ocsp: MALFORMED_REQUEST },
        { method: 'PUT', path: '/ocsp', body, status: 405, ocsp: MALFORMED_REQUEST },
        { method: 'DELETE', path: '/ocsp/x', status: 405, ocsp: MALFORMED_REQUEST },
        { method: 'GET', path: `/ocsp/${'A'.repeat(17_000)}`, status: 431, ocsp: MALFORMED_REQUEST },
        { method: 'GET', path: '/ocsp/%%%', status: 400, ocsp: MALFORMED_REQUEST },
      ];
      for (const { status, ocsp, ...req } of requests) {
        const outcome = await https.send({ ...req, headers: { 'content-type': 'application/ocsp-request' } });
        assertOcsp(outcome, status, ocsp, `${req.method} ${req.path.slice(0, 24)}`);
      }
      await assertUnharmed(service, before, 'other /ocsp routes');
    } finally {
      https.close();
    }
  });
});
