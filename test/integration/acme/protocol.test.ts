import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEabKey, formatCertId } from '../../../src/acme/index.js';
import { describeCertificate, splitPemChain } from '../../../src/x509/index.js';
import { openssl } from '../../unit/ca/helpers.js';
import {
  acmeStack,
  body,
  header,
  headerValues,
  keyFromPem,
  makeCsr,
  newKey,
  pathOf,
  TestClient,
  thumbprintOf,
  BASE_URL,
  type AcmeStack,
} from './protocol-client.js';
import { FlattenedSign } from 'jose';

/**
 * RFC 8555 end to end through createAcmeServer().handle(): a jose-built
 * client, a real ledger file, a real CA and Authority, a scripted validator.
 */

const ERR = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;

let stack: AcmeStack;
before(async () => {
  stack = await acmeStack();
});
after(() => {
  assert.deepEqual(stack.internalErrors, []);
  stack.close();
});

async function registered(kind: Parameters<typeof newKey>[0] = 'p256'): Promise<TestClient> {
  const client = new TestClient(stack.server, await newKey(kind));
  const response = await client.register();
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return client;
}

/** Answers every pending authorization's `type` challenge of an order and waits for validation. */
async function validateOrder(client: TestClient, order: Record<string, unknown>, type = 'http-01'): Promise<void> {
  for (const authzUrl of order['authorizations'] as string[]) {
    const authz = body(await client.post(pathOf(authzUrl), ''));
    if (authz['status'] === 'valid') continue;
    const challenge = (authz['challenges'] as Record<string, unknown>[]).find((c) => c['type'] === type);
    assert.ok(challenge, `no ${type} challenge in ${JSON.stringify(authz)}`);
    const started = await client.post(pathOf(challenge['url']), {});
    assert.equal(started.status, 200);
    assert.equal(body(started)['status'], 'processing');
  }
  await stack.server.settled();
}

/** new-order, then validateOrder; returns the order as it is afterwards. */
async function readyOrder(
  client: TestClient,
  identifiers: readonly { type: string; value: string }[],
  extra: object = {},
  type = 'http-01',
): Promise<{ path: string; order: Record<string, unknown> }> {
  const created = await client.post('/new-order', { identifiers, ...extra });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const path = pathOf(header(created, 'location'));
  await validateOrder(client, body(created), type);
  return { path, order: body(await client.post(path, '')) };
}

async function finalize(
  client: TestClient,
  orderPath: string,
  order: Record<string, unknown>,
  csr: string,
): Promise<Record<string, unknown>> {
  const response = await client.post(pathOf(order['finalize']), { csr });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const finalized = body(response);
  assert.equal(finalized['status'], 'valid');
  assert.equal(header(response, 'location'), `${BASE_URL}${orderPath}`);
  return finalized;
}

function certIdOf(pem: string): string {
  const described = describeCertificate(leafDer(pem));
  return formatCertId(described.authorityKeyId ?? '', described.serial);
}

describe('ACME directory and nonces (RFC 8555 §7.1.1, §7.2)', () => {
  it('serves the directory with every resource, meta, a nonce and the index link', async () => {
    const client = new TestClient(stack.server, await newKey());
    const response = await client.request('GET', '/directory');
    assert.equal(response.status, 200);
    const directory = body(response);
    for (const [name, path] of [
      ['newNonce', '/new-nonce'],
      ['newAccount', '/new-account'],
      ['newOrder', '/new-order'],
      ['revokeCert', '/revoke-cert'],
      ['keyChange', '/key-change'],
      ['renewalInfo', '/renewal-info'],
    ]) {
      assert.equal(directory[name as string], `${BASE_URL}${path as string}`);
    }
    assert.deepEqual(directory['meta'], { website: 'https://keysmith.example', externalAccountRequired: false });
    assert.match(header(response, 'replay-nonce') ?? '', /^[A-Za-z0-9_-]{22,}$/);
    assert.deepEqual(headerValues(response, 'link'), [`<${BASE_URL}/directory>;rel="index"`]);
  });

  it('answers HEAD new-nonce with 200 and GET with 204, no-store, a fresh nonce each time', async () => {
    const client = new TestClient(stack.server, await newKey());
    const head = await client.request('HEAD', '/new-nonce');
    const get = await client.request('GET', '/new-nonce');
    assert.equal(head.status, 200);
    assert.equal(get.status, 204);
    assert.equal(header(head, 'cache-control'), 'no-store');
    assert.notEqual(header(head, 'replay-nonce'), header(get, 'replay-nonce'));
  });
});

describe('ACME issuance end to end (RFC 8555 §7.3-§7.4, RFC 8738)', () => {
  it('registers, orders dns+ip, validates, finalizes, downloads a chain openssl verifies, and lists the order', async () => {
    const before = stack.certificateCount();
    const client = await registered();
    const account = body(await client.post(pathOf(client.kid), ''));
    assert.equal(account['status'], 'valid');
    assert.deepEqual(account['contact'], ['mailto:ops@example.test']);

    const identifiers = [
      { type: 'dns', value: 'App.Example.Test' },
      { type: 'ip', value: '192.0.2.10' },
    ];
    const created = await client.post('/new-order', { identifiers });
    assert.equal(created.status, 201);
    const order = body(created);
    assert.equal(order['status'], 'pending');
    assert.deepEqual(order['identifiers'], [
      { type: 'dns', value: 'app.example.test' },
      { type: 'ip', value: '192.0.2.10' },
    ]);
    const authzs = await Promise.all((order['authorizations'] as string[]).map(async (url) => body(await client.post(pathOf(url), ''))));
    const types = authzs.map((a) => (a['challenges'] as Record<string, unknown>[]).map((c) => c['type']));
    assert.deepEqual(types, [
      ['http-01', 'dns-01', 'tls-alpn-01'],
      ['http-01', 'tls-alpn-01'],
    ]);
    for (const challenge of authzs.flatMap((a) => a['challenges'] as Record<string, unknown>[])) {
      // RFC 8555 §8.1: at least 128 bits of entropy.
      assert.ok(Buffer.from(String(challenge['token']), 'base64url').length >= 16);
    }

    const orderPath = pathOf(header(created, 'location'));
    const early = await client.post(pathOf(order['finalize']), {
      csr: makeCsr(stack.dir, { dns: ['app.example.test'], ip: ['192.0.2.10'] }).csr,
    });
    assert.equal(body(early)['type'], `${ERR}orderNotReady`);

    await validateOrder(client, order);
    const refreshed = body(await client.post(orderPath, ''));
    assert.equal(refreshed['status'], 'ready');
    const thumbprint = await thumbprintOf(client.key);
    for (const attempt of stack.validator.attempts.slice(-2)) assert.equal(attempt.keyAuthorization, `${attempt.token}.${thumbprint}`);

    const { csr } = makeCsr(stack.dir, { cn: 'app.example.test', dns: ['app.example.test'], ip: ['192.0.2.10'] });
    const finalized = await finalize(client, orderPath, refreshed, csr);
    const download = await client.post(pathOf(finalized['certificate']), '');
    assert.equal(download.status, 200);
    assert.equal(header(download, 'content-type'), 'application/pem-certificate-chain');
    const chain = String(download.body);
    assert.equal(chain.match(/BEGIN CERTIFICATE/g)?.length, 2);
    const leafFile = join(stack.dir, 'leaf.pem');
    writeFileSync(leafFile, chain);
    assert.match(
      openssl(['verify', '-CAfile', stack.files.root, '-untrusted', stack.files.intermediate, '-purpose', 'sslserver', leafFile]),
      /OK/,
    );
    const leaf = new X509Certificate(chain);
    assert.equal(leaf.subjectAltName, 'DNS:app.example.test, IP Address:192.0.2.10');
    assert.equal(stack.certificateCount(), before + 1);
    assert.equal(
      stack.ledger.certificates.findBySerial(leaf.serialNumber.toLowerCase())?.requester,
      `acme:${pathOf(client.kid).split('/')[2]}`,
    );

    const orders = body(await client.post(`${pathOf(client.kid)}/orders`, ''));
    assert.ok((orders['orders'] as string[]).includes(`${BASE_URL}${orderPath}`));
  });

  it('returns the existing account for a known key (200) and accountDoesNotExist for onlyReturnExisting', async () => {
    const client = await registered();
    const again = await client.post('/new-account', { termsOfServiceAgreed: true }, { useJwk: true });
    assert.equal(again.status, 200);
    assert.equal(header(again, 'location'), client.kid);
    const stranger = new TestClient(stack.server, await newKey('ed25519'));
    const missing = await stranger.post('/new-account', { onlyReturnExisting: true }, { useJwk: true });
    assert.equal(missing.status, 400);
    assert.equal(body(missing)['type'], `${ERR}accountDoesNotExist`);
  });

  it('accepts ES384, RS256 and EdDSA account keys', async () => {
    for (const kind of ['p384', 'rsa2048', 'ed25519'] as const) {
      const client = await registered(kind);
      assert.equal((await client.post(pathOf(client.kid), '')).status, 200, kind);
    }
  });

  it('reuses a valid authorization, records replaces, and refuses a second replacement with alreadyReplaced (RFC 9773 §5)', async () => {
    const client = await registered();
    const identifiers = [{ type: 'dns', value: 'renew.example.test' }];
    const first = await readyOrder(client, identifiers);
    const issued = await finalize(client, first.path, first.order, makeCsr(stack.dir, { dns: ['renew.example.test'] }).csr);
    const pem = String((await client.post(pathOf(issued['certificate']), '')).body);
    const certId = certIdOf(pem);

    const attemptsBefore = stack.validator.attempts.length;
    const replacement = await client.post('/new-order', { identifiers, replaces: certId });
    assert.equal(replacement.status, 201, JSON.stringify(replacement.body));
    const replacementOrder = body(replacement);
    assert.equal(replacementOrder['status'], 'ready');
    assert.deepEqual(replacementOrder['authorizations'], first.order['authorizations']);
    assert.equal(replacementOrder['replaces'], certId);
    assert.equal(stack.validator.attempts.length, attemptsBefore);

    const second = await client.post('/new-order', { identifiers, replaces: certId });
    assert.equal(second.status, 409);
    assert.equal(body(second)['type'], `${ERR}alreadyReplaced`);

    const other = await registered();
    const foreign = await other.post('/new-order', { identifiers, replaces: certId });
    assert.equal(body(foreign)['type'], `${ERR}unauthorized`);
  });

  it('serves ARI: a stable window around two thirds of the lifetime, Retry-After, and a past window once revoked (RFC 9773 §4)', async () => {
    const client = await registered();
    const ready = await readyOrder(client, [{ type: 'dns', value: 'ari.example.test' }]);
    const issued = await finalize(client, ready.path, ready.order, makeCsr(stack.dir, { dns: ['ari.example.test'] }).csr);
    const pem = String((await client.post(pathOf(issued['certificate']), '')).body);
    const cert = new X509Certificate(pem);
    const certId = certIdOf(pem);

    const anonymous = new TestClient(stack.server, client.key);
    const first = await anonymous.request('GET', `/renewal-info/${certId}`);
    const second = await anonymous.request('GET', `/renewal-info/${certId}`);
    assert.equal(first.status, 200);
    assert.equal(header(first, 'retry-after'), String(6 * 3600));
    assert.deepEqual(first.body, second.body);
    const window = body(first)['suggestedWindow'] as { start: string; end: string };
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    const start = (Date.parse(window.start) - notBefore) / (notAfter - notBefore);
    const end = (Date.parse(window.end) - notBefore) / (notAfter - notBefore);
    assert.ok(start > 0.55 && start < 2 / 3 && end > 2 / 3 && end < 0.8, `window at ${start}..${end} of the lifetime`);

    const revoke = await client.post('/revoke-cert', { certificate: fromPemB64u(pem), reason: 1 });
    assert.equal(revoke.status, 200);
    const revoked = body(await anonymous.request('GET', `/renewal-info/${certId}`))['suggestedWindow'] as { end: string };
    assert.ok(Date.parse(revoked.end) < stack.clock.now());

    const unknown = await anonymous.request('GET', `/renewal-info/${certId.split('.')[0]}.AQID`);
    assert.equal(unknown.status, 404);
  });

  it('revokes by the ordering account and by the certificate key; OCSP status comes from the ledger (RFC 8555 §7.6)', async () => {
    const client = await registered();
    const ready = await readyOrder(client, [{ type: 'dns', value: 'revoke.example.test' }]);
    const a = makeCsr(stack.dir, { dns: ['revoke.example.test'] });
    const issuedA = await finalize(client, ready.path, ready.order, a.csr);
    const pemA = String((await client.post(pathOf(issuedA['certificate']), '')).body);

    const other = await registered();
    const refused = await other.post('/revoke-cert', { certificate: fromPemB64u(pemA) });
    assert.equal(body(refused)['type'], `${ERR}unauthorized`);
    const badReason = await client.post('/revoke-cert', { certificate: fromPemB64u(pemA), reason: 6 });
    assert.equal(body(badReason)['type'], `${ERR}badRevocationReason`);

    const byAccount = await client.post('/revoke-cert', { certificate: fromPemB64u(pemA), reason: 4 });
    assert.equal(byAccount.status, 200);
    const serialA = new X509Certificate(pemA).serialNumber.toLowerCase();
    assert.equal(stack.ledger.certificates.statusOf(serialA)?.status, 'revoked');
    assert.equal(stack.ledger.certificates.statusOf(serialA)?.reason, 'superseded');
    const twice = await client.post('/revoke-cert', { certificate: fromPemB64u(pemA) });
    assert.equal(body(twice)['type'], `${ERR}alreadyRevoked`);

    // A new order on the reused authorization, revoked with the certificate's own key (certbot's --key-path).
    const again = await readyOrder(client, [{ type: 'dns', value: 'revoke.example.test' }]);
    const b = makeCsr(stack.dir, { dns: ['revoke.example.test'] });
    const issuedB = await finalize(client, again.path, again.order, b.csr);
    const pemB = String((await client.post(pathOf(issuedB['certificate']), '')).body);
    const certKeyClient = new TestClient(stack.server, keyFromPem(b.keyPem, 'ES256'));
    const byKey = await certKeyClient.post('/revoke-cert', { certificate: fromPemB64u(pemB), reason: 1 }, { useJwk: true });
    assert.equal(byKey.status, 200, JSON.stringify(byKey.body));
    assert.equal(stack.ledger.certificates.statusOf(new X509Certificate(pemB).serialNumber.toLowerCase())?.reason, 'keyCompromise');
  });

  it('offers only dns-01 for a wildcard and authorizes the base name (RFC 8555 §7.1.3)', async () => {
    const client = await registered();
    const created = body(await client.post('/new-order', { identifiers: [{ type: 'dns', value: '*.wild.example.test' }] }));
    const authz = body(await client.post(pathOf((created['authorizations'] as string[])[0]), ''));
    assert.deepEqual(authz['identifier'], { type: 'dns', value: 'wild.example.test' });
    assert.equal(authz['wildcard'], true);
    assert.deepEqual(
      (authz['challenges'] as Record<string, unknown>[]).map((c) => c['type']),
      ['dns-01'],
    );
    const ready = await readyOrder(client, [{ type: 'dns', value: '*.wild.example.test' }], {}, 'dns-01');
    assert.equal(ready.order['status'], 'ready');
    const issued = await finalize(client, ready.path, ready.order, makeCsr(stack.dir, { dns: ['*.wild.example.test'] }).csr);
    const pem = String((await client.post(pathOf(issued['certificate']), '')).body);
    assert.equal(new X509Certificate(pem).subjectAltName, 'DNS:*.wild.example.test');
  });

  it('fails the challenge, the authorization and the order when validation fails (RFC 8555 §7.1.6)', async () => {
    const client = await registered();
    stack.validator.failing.add('fail.example.test');
    const { order, path } = await readyOrder(client, [{ type: 'dns', value: 'fail.example.test' }]);
    assert.equal(order['status'], 'invalid');
    const authz = body(await client.post(pathOf((order['authorizations'] as string[])[0]), ''));
    assert.equal(authz['status'], 'invalid');
    const challenge = (authz['challenges'] as Record<string, unknown>[]).find((c) => c['type'] === 'http-01');
    assert.equal(challenge?.['status'], 'invalid');
    assert.equal((challenge?.['error'] as Record<string, unknown>)['type'], `${ERR}incorrectResponse`);
    const finalizeAttempt = await client.post(`${path}/finalize`, { csr: makeCsr(stack.dir, { dns: ['fail.example.test'] }).csr });
    assert.equal(body(finalizeAttempt)['type'], `${ERR}orderNotReady`);
  });

  it('honours notAfter as asked, and refuses a lifetime past the maximum instead of changing it', async () => {
    const client = await registered();
    const notAfter = new Date(Math.floor((stack.clock.now() + 10 * DAY) / 1000) * 1000).toISOString();
    const ready = await readyOrder(client, [{ type: 'dns', value: 'short.example.test' }], { notAfter });
    assert.equal(ready.order['notAfter'], notAfter);
    const issued = await finalize(client, ready.path, ready.order, makeCsr(stack.dir, { dns: ['short.example.test'] }).csr);
    const pem = String((await client.post(pathOf(issued['certificate']), '')).body);
    assert.equal(Date.parse(new X509Certificate(pem).validTo), Date.parse(notAfter));

    const tooLong = await client.post('/new-order', {
      identifiers: [{ type: 'dns', value: 'long.example.test' }],
      notAfter: new Date(stack.clock.now() + 400 * DAY).toISOString(),
    });
    assert.equal(body(tooLong)['type'], `${ERR}malformed`);
  });

  it('honours notBefore exactly or refuses it: never more than 60 s back, whole seconds only, and not once the order has aged past it', async () => {
    const client = await registered();
    const second = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString();
    const notBefore = second(stack.clock.now());
    const ready = await readyOrder(client, [{ type: 'dns', value: 'from.example.test' }], { notBefore });
    const issued = await finalize(client, ready.path, ready.order, makeCsr(stack.dir, { dns: ['from.example.test'] }).csr);
    const pem = String((await client.post(pathOf(issued['certificate']), '')).body);
    assert.equal(Date.parse(new X509Certificate(pem).validFrom), Date.parse(notBefore));

    const tooOld = await client.post('/new-order', {
      identifiers: [{ type: 'dns', value: 'old.example.test' }],
      notBefore: second(stack.clock.now() - 120_000),
    });
    assert.match(String(body(tooOld)['detail']), /at most 60 s in the past/);
    const fractional = await client.post('/new-order', {
      identifiers: [{ type: 'dns', value: 'frac.example.test' }],
      notAfter: new Date(Math.floor(stack.clock.now() / 1000) * 1000 + DAY + 500).toISOString(),
    });
    assert.match(String(body(fractional)['detail']), /whole seconds/);

    // An order that waits longer than the backdate cannot get its notBefore any more: refused, nothing issued, still ready.
    const aging = await readyOrder(client, [{ type: 'dns', value: 'aging.example.test' }], { notBefore: second(stack.clock.now()) });
    const before = stack.certificateCount();
    stack.clock.advance(120_000);
    const late = await client.post(pathOf(aging.order['finalize']), { csr: makeCsr(stack.dir, { dns: ['aging.example.test'] }).csr });
    assert.equal(body(late)['type'], `${ERR}malformed`);
    assert.match(String(body(late)['detail']), /place a new order/);
    assert.equal(stack.certificateCount(), before);
    assert.equal(body(await client.post(aging.path, ''))['status'], 'ready');
  });

  it('rolls the account key over (RFC 8555 §7.3.5) and refuses a key held by another account with 409', async () => {
    const client = await registered();
    const oldKey = client.key;
    const newAccountKey = await newKey('p384');
    const inner = await new FlattenedSign(new TextEncoder().encode(JSON.stringify({ account: client.kid, oldKey: oldKey.jwk })))
      .setProtectedHeader({ alg: newAccountKey.alg, jwk: { ...newAccountKey.jwk }, url: `${BASE_URL}/key-change` })
      .sign(newAccountKey.privateKey);
    const changed = await client.post('/key-change', inner);
    assert.equal(changed.status, 200, JSON.stringify(changed.body));

    const stale = await client.post(pathOf(client.kid), '');
    assert.equal(body(stale)['type'], `${ERR}malformed`);
    client.key = newAccountKey;
    assert.equal((await client.post(pathOf(client.kid), '')).status, 200);

    const other = await registered();
    const taken = await new FlattenedSign(new TextEncoder().encode(JSON.stringify({ account: other.kid, oldKey: other.key.jwk })))
      .setProtectedHeader({ alg: newAccountKey.alg, jwk: { ...newAccountKey.jwk }, url: `${BASE_URL}/key-change` })
      .sign(newAccountKey.privateKey);
    const conflict = await other.post('/key-change', taken);
    assert.equal(conflict.status, 409);
    assert.equal(header(conflict, 'location'), client.kid);
  });

  it('updates the contact, then deactivates the account; its key is refused afterwards (RFC 8555 §7.3.2, §7.3.6)', async () => {
    const client = await registered();
    const updated = await client.post(pathOf(client.kid), { contact: ['mailto:new@Example.Test'] });
    assert.deepEqual(body(updated)['contact'], ['mailto:new@example.test']);
    const unsupported = await client.post(pathOf(client.kid), { contact: ['tel:+123'] });
    assert.equal(body(unsupported)['type'], `${ERR}unsupportedContact`);
    const deactivated = await client.post(pathOf(client.kid), { status: 'deactivated' });
    assert.equal(body(deactivated)['status'], 'deactivated');
    const refused = await client.post('/new-order', { identifiers: [{ type: 'dns', value: 'x.example.test' }] });
    assert.equal(refused.status, 403);
    assert.equal(body(refused)['type'], `${ERR}unauthorized`);
  });
});

describe('External Account Binding (RFC 8555 §7.3.4)', () => {
  it('requires a binding, accepts a valid one once, and refuses a reused key or a bad MAC', async () => {
    const eabStack = await acmeStack({ policy: { allowedSuffixes: ['example.test'], allowedIpRanges: [], eabRequired: true } });
    try {
      const directory = body(await new TestClient(eabStack.server, await newKey()).request('GET', '/directory'));
      assert.equal((directory['meta'] as Record<string, unknown>)['externalAccountRequired'], true);
      const { keyId, hmacKey } = await createEabKey(eabStack.ledger.acme.eabKeys, eabStack.clock, 'cli:test');

      const plain = new TestClient(eabStack.server, await newKey());
      assert.equal(body(await plain.register())['type'], `${ERR}externalAccountRequired`);

      const binding = async (client: TestClient, key: Uint8Array): Promise<object> => {
        const signed = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(client.key.jwk)))
          .setProtectedHeader({ alg: 'HS256', kid: keyId, url: `${BASE_URL}/new-account` })
          .sign(key);
        return { protected: signed.protected, payload: signed.payload, signature: signed.signature };
      };
      const wrongMac = new TestClient(eabStack.server, await newKey());
      const badMac = await wrongMac.register({
        termsOfServiceAgreed: true,
        externalAccountBinding: await binding(wrongMac, new Uint8Array(32).fill(7)),
      });
      assert.equal(body(badMac)['type'], `${ERR}unauthorized`);

      const bound = new TestClient(eabStack.server, await newKey());
      const created = await bound.register({
        termsOfServiceAgreed: true,
        externalAccountBinding: await binding(bound, Buffer.from(hmacKey, 'base64url')),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(eabStack.ledger.acme.eabKeys.findEabKey(keyId)?.boundAccount, pathOf(bound.kid).split('/')[2]);

      const second = new TestClient(eabStack.server, await newKey());
      const reused = await second.register({
        termsOfServiceAgreed: true,
        externalAccountBinding: await binding(second, Buffer.from(hmacKey, 'base64url')),
      });
      assert.equal(body(reused)['type'], `${ERR}unauthorized`);
      assert.deepEqual(eabStack.internalErrors, []);
    } finally {
      eabStack.close();
    }
  });

  it('refuses a binding with a revoked key (keysmith acme eab revoke), and creates no account', async () => {
    const eabStack = await acmeStack({ policy: { allowedSuffixes: ['example.test'], allowedIpRanges: [], eabRequired: true } });
    try {
      const { keyId, hmacKey } = await createEabKey(eabStack.ledger.acme.eabKeys, eabStack.clock, 'cli:test');
      eabStack.ledger.acme.eabKeys.revokeEabKey(keyId, eabStack.clock.now());
      const client = new TestClient(eabStack.server, await newKey());
      const signed = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(client.key.jwk)))
        .setProtectedHeader({ alg: 'HS256', kid: keyId, url: `${BASE_URL}/new-account` })
        .sign(Buffer.from(hmacKey, 'base64url'));
      const refused = await client.register({
        termsOfServiceAgreed: true,
        externalAccountBinding: { protected: signed.protected, payload: signed.payload, signature: signed.signature },
      });
      assert.equal(refused.status, 403);
      assert.equal(body(refused)['type'], `${ERR}unauthorized`);
      assert.equal(body(refused)['detail'], 'this external account key has been revoked');
      assert.equal(eabStack.ledger.acme.eabKeys.findEabKey(keyId)?.boundAccount, null);
      assert.deepEqual(eabStack.internalErrors, []);
    } finally {
      eabStack.close();
    }
  });
});

function leafDer(chainPem: string): Uint8Array {
  const [leaf] = splitPemChain(chainPem);
  if (leaf === undefined) throw new Error('empty chain');
  return leaf;
}

function fromPemB64u(chainPem: string): string {
  return Buffer.from(leafDer(chainPem)).toString('base64url');
}
