import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import * as acme from 'acme-client';
import { startDnsResponder, type DnsResponder } from '../helpers/dns-responder.js';
import { nextEvent, portOf, withTimeout } from '../helpers/processes.js';
import { skipUnlessTool } from './harness.js';
import {
  assertChainVerifies,
  dnsNamesOf,
  ledgerLine,
  ocspStatus,
  serialOf,
  startKeysmith,
  writeChainFiles,
  type Keysmith,
} from './acme-harness.js';

/**
 * acme-client (npm) in this process against `keysmith serve` in a child
 * process: http-01 answered by a node:http server of the test, dns-01 (with
 * a wildcard) through the test's DNS responder as KEYSMITH_ACME_DNS_RESOLVER,
 * and the HTTP transport of /acme itself (nonce methods, Link, media type and size
 * refusals as ACME problem documents). Revocation by the account key.
 */

let keysmith: Keysmith;
let challengeServer: Server;
let dns: DnsResponder;
let agent: Agent;
/** token -> key authorization, served at /.well-known/acme-challenge/<token> (RFC 8555 §8.3). */
const http01Answers = new Map<string, string>();
/** Every path keysmith fetched from the challenge server, to show validation happened. */
const fetchedPaths: string[] = [];

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTPS request to keysmith, trusting only its bundle; bounded. */
function raw(method: string, path: string, options: { body?: Buffer | string; contentType?: string } = {}): Promise<RawResponse> {
  const promise = new Promise<RawResponse>((resolve, reject) => {
    const request = httpsRequest(
      `${keysmith.url}${path}`,
      { method, agent, headers: options.contentType === undefined ? {} : { 'content-type': options.contentType } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
  return withTimeout(promise, 15_000, `${method} ${path}`);
}

function acmeErrorType(response: RawResponse): string {
  const parsed: unknown = JSON.parse(response.body);
  assert.ok(typeof parsed === 'object' && parsed !== null && 'type' in parsed && typeof parsed.type === 'string', response.body);
  return parsed.type;
}

async function directory(): Promise<Record<string, unknown>> {
  const response = await raw('GET', '/acme/directory');
  assert.equal(response.status, 200, response.body);
  const parsed: unknown = JSON.parse(response.body);
  assert.ok(typeof parsed === 'object' && parsed !== null);
  return { ...parsed };
}

function newClient(): Promise<acme.Client> {
  return acme.crypto
    .createPrivateEcdsaKey('P-256')
    .then(
      (accountKey) =>
        new acme.Client({ directoryUrl: keysmith.directoryUrl, accountKey, backoffAttempts: 20, backoffMin: 100, backoffMax: 1_000 }),
    );
}

/** Orders `names`, answers each http-01 challenge, finalizes; returns the chain PEM and the finalized order. */
async function orderWithHttp01(client: acme.Client, names: readonly string[]): Promise<string> {
  const order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
  assert.equal(order.status, 'pending');
  for (const authz of await client.getAuthorizations(order)) {
    const challenge = authz.challenges.find((c) => c.type === 'http-01');
    assert.ok(challenge !== undefined, `no http-01 challenge for ${authz.identifier.value}`);
    assert.match(challenge.token, /^[A-Za-z0-9_-]{22,}$/, 'RFC 8555 §8.3: base64url, at least 128 bits');
    http01Answers.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
    await client.completeChallenge(challenge);
    await client.waitForValidStatus(challenge);
  }
  const [, csr] = await acme.crypto.createCsr({ commonName: names[0]!, altNames: [...names] });
  const ready = await client.waitForValidStatus(order);
  assert.ok(ready.status === 'ready' || ready.status === 'valid', ready.status);
  const finalized = await client.finalizeOrder(order, csr);
  // Finalize issues synchronously: the answer is already valid (certbot and cert-manager handle `processing` badly).
  assert.equal(finalized.status, 'valid');
  return client.getCertificate(finalized);
}

describe('acme-client against keysmith ACME', skipUnlessTool('openssl'), () => {
  before(async () => {
    challengeServer = createServer((request, response) => {
      const prefix = '/.well-known/acme-challenge/';
      const url = request.url ?? '';
      fetchedPaths.push(url);
      const answer = url.startsWith(prefix) ? http01Answers.get(url.slice(prefix.length)) : undefined;
      if (answer === undefined) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(answer);
    });
    challengeServer.listen(0, '127.0.0.1');
    await nextEvent(challengeServer, 'listening');
    dns = await startDnsResponder();
    keysmith = await startKeysmith({
      KEYSMITH_ACME_HTTP01_PORT: String(portOf(challengeServer.address())),
      KEYSMITH_ACME_DNS_RESOLVER: dns.server,
    });
    agent = new Agent({ ca: await readFile(keysmith.bundle, 'utf8'), keepAlive: true });
    // acme-client sends every request through its axios instance; it must trust keysmith's root and nothing more.
    acme.axios.defaults.httpsAgent = agent;
  });

  after(async () => {
    agent?.destroy();
    await keysmith?.stop();
    await dns?.close();
    await new Promise<void>((resolve) => (challengeServer === undefined ? resolve() : challengeServer.close(() => resolve())));
  });

  it('http-01: registers, orders two names, validates, finalizes, downloads a verified chain, revokes by account, OCSP revoked', async () => {
    const client = await newClient();
    const account = await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.test'] });
    assert.equal(account.status, 'valid');
    const names = ['api.example.test', 'api2.example.test'];
    const chain = await orderWithHttp01(client, names);
    assert.ok(
      fetchedPaths.some((path) => path.startsWith('/.well-known/acme-challenge/')),
      'keysmith fetched the challenge',
    );

    const files = await writeChainFiles(keysmith.dir, 'acme-client-http', chain);
    await assertChainVerifies(keysmith, files);
    assert.deepEqual(await dnsNamesOf(files.leaf), [...names].sort());
    const serial = await serialOf(files.leaf);
    assert.match(await ledgerLine(keysmith, names[0]!, serial), /\btls-server\s+valid\b/);
    assert.equal((await ocspStatus(keysmith, files)).status, 'good');

    await client.revokeCertificate(chain, { reason: 5 });
    const ocsp = await ocspStatus(keysmith, files);
    assert.equal(ocsp.status, 'revoked', ocsp.output);
    assert.match(ocsp.output, /Reason: cessationOfOperation/);
  });

  it('dns-01: a name and its wildcard, TXT records through the DNS responder, then revocation by account; OCSP revoked', async () => {
    const client = await newClient();
    await client.createAccount({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.test'] });
    const base = 'dns.example.test';
    const names = [base, `*.${base}`];
    const order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
    const authorizations = await client.getAuthorizations(order);
    // RFC 8555 §7.1.4: the wildcard's authorization names the base domain and says wildcard.
    assert.deepEqual(authorizations.map((a) => [a.identifier.value, a.wildcard === true]).sort(), [
      [base, false],
      [base, true],
    ]);
    const wildcard = authorizations.find((a) => a.wildcard === true);
    assert.deepEqual(
      wildcard?.challenges.map((c) => c.type),
      ['dns-01'],
      'RFC 8555 §7.1.3: a wildcard is offered dns-01 only',
    );
    const records: string[] = [];
    const challenges = [];
    for (const authz of authorizations) {
      const challenge = authz.challenges.find((c) => c.type === 'dns-01');
      assert.ok(challenge !== undefined);
      // acme-client returns the TXT value for dns-01: base64url(SHA-256(key authorization)) (RFC 8555 §8.4).
      records.push(await client.getChallengeKeyAuthorization(challenge));
      challenges.push(challenge);
    }
    dns.setTxt(`_acme-challenge.${base}`, records);
    for (const challenge of challenges) {
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
    }
    assert.ok(
      dns.queries.some((q) => /TXT _acme-challenge\.dns\.example\.test/i.test(q)),
      dns.queries.join(', '),
    );
    const [, csr] = await acme.crypto.createCsr({ commonName: base, altNames: names });
    await client.waitForValidStatus(order);
    const finalized = await client.finalizeOrder(order, csr);
    assert.equal(finalized.status, 'valid');
    const chain = await client.getCertificate(finalized);
    dns.clear(`_acme-challenge.${base}`);

    const files = await writeChainFiles(keysmith.dir, 'acme-client-dns', chain);
    await assertChainVerifies(keysmith, files);
    assert.deepEqual(await dnsNamesOf(files.leaf), [...names].sort());
    await client.revokeCertificate(chain, { reason: 1 });
    const ocsp = await ocspStatus(keysmith, files);
    assert.equal(ocsp.status, 'revoked', ocsp.output);
    assert.match(ocsp.output, /Reason: keyCompromise/);
  });

  it('serves the directory with every resource and the meta fields', async () => {
    const resources = await directory();
    for (const name of ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange', 'renewalInfo']) {
      assert.equal(typeof resources[name], 'string', `${name} in ${JSON.stringify(resources)}`);
      assert.ok(String(resources[name]).startsWith(`${keysmith.url}/acme/`), String(resources[name]));
    }
    const meta = resources['meta'];
    assert.ok(
      typeof meta === 'object' && meta !== null && 'externalAccountRequired' in meta && meta.externalAccountRequired === false,
      JSON.stringify(meta),
    );
  });

  it('answers newNonce HEAD with 200 and GET with 204, each with a fresh Replay-Nonce, no-store and the index link (RFC 8555 §7.2)', async () => {
    const newNonce = new URL(String((await directory())['newNonce'])).pathname;
    const head = await raw('HEAD', newNonce);
    const get = await raw('GET', newNonce);
    assert.equal(head.status, 200);
    assert.equal(get.status, 204);
    for (const response of [head, get]) {
      assert.match(String(response.headers['replay-nonce']), /^[A-Za-z0-9_-]+$/);
      assert.match(String(response.headers['cache-control']), /no-store/);
      assert.match(String(response.headers['link']), /;\s*rel="index"/);
    }
    assert.notEqual(head.headers['replay-nonce'], get.headers['replay-nonce']);
  });

  it('refuses a POST that is not application/jose+json with 415 malformed (RFC 8555 §6.2)', async () => {
    const newAccount = new URL(String((await directory())['newAccount'])).pathname;
    const response = await raw('POST', newAccount, { body: '{}', contentType: 'application/json' });
    assert.equal(response.status, 415, response.body);
    assert.equal(acmeErrorType(response), 'urn:ietf:params:acme:error:malformed');
  });

  it('refuses a body over 64 KiB with 413 and an ACME problem document, before any parsing', async () => {
    const newAccount = new URL(String((await directory())['newAccount'])).pathname;
    const response = await raw('POST', newAccount, { body: Buffer.alloc(64 * 1024 + 1, 0x41), contentType: 'application/jose+json' });
    assert.equal(response.status, 413, response.body);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
    assert.equal(acmeErrorType(response), 'urn:ietf:params:acme:error:malformed');
    assert.match(String(response.headers['link']), /<\/acme\/directory>;rel="index"/);
  });

  it('answers an unknown ACME path with a problem document, not the REST 404', async () => {
    const response = await raw('GET', '/acme/no-such-resource');
    assert.equal(response.status, 404, response.body);
    assert.match(acmeErrorType(response), /^urn:ietf:params:acme:error:/);
  });
});
