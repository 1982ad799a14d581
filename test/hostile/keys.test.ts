import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPair, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, FlattenedSign } from 'jose';
import { connect } from '../../src/tls/index.js';
import { TlsAlertError } from '../../src/tls/alert.js';
import { portOf, runProcess } from '../helpers/processes.js';
import { openssl } from '../helpers/engine-client.js';
import {
  certificateDer,
  csrDer,
  csrPem,
  infinitySpki,
  OIDS,
  rsaExponent1Key,
  rsaExponent3Key,
  rsaSpki,
  smallFactorModulus,
} from '../helpers/hostile-keys.js';
import { HostileService } from './harness.js';

/**
 * Hostile keys against `keysmith serve` as a child process: CSRs
 * whose key is the point at infinity (which used to abort Node natively) and
 * keys that prove nothing (RSA e = 1, e = 3), short or with a small factor,
 * sent to every route that certifies a key; ACME account JWKs that are not
 * keys; a TLS client certificate with such a key. Each must get the route's
 * normal refusal naming the rule, the process must stay up and answer
 * /healthz, nothing may be written to the ledger, and a join token sent with
 * a refused CSR must still work afterwards.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TD = 'keysmith.local';
const NODE_ID = `spiffe://${TD}/node/hostile-keys`;
const WORKLOAD_ID = `spiffe://${TD}/svc/hostile-keys`;
const BAD_CSR = 'https://keysmith.dev/problems/bad-csr';
const ACME_NAME = 'hostile.example.test';
const generate = promisify(generateKeyPair);

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: Record<string, unknown>;
}

interface HostileCsr {
  readonly name: string;
  readonly pem: string;
  /** The refusal's detail. */
  readonly rule: RegExp;
}

let service: HostileService;
let bundle: string;
let admin: { key: string; cert: string };
let adminId: string;
let httpServer: Server;
const challengeResponses = new Map<string, string>();
let hostileCsrs: HostileCsr[];

function send(
  method: string,
  path: string,
  options: { body?: unknown; contentType?: string; identity?: { key: string; cert: string } } = {},
): Promise<Reply> {
  const text = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> =
    text === undefined
      ? {}
      : { 'content-type': options.contentType ?? 'application/json', 'content-length': String(Buffer.byteLength(text)) };
  const requestOptions: RequestOptions = {
    host: '127.0.0.1',
    port: service.port,
    servername: 'localhost',
    method,
    path,
    headers,
    ca: bundle,
    agent: false,
    ...(options.identity ?? {}),
  };
  return new Promise((resolve, reject) => {
    const req = request(requestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
        } catch {
          json = { raw };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(text);
  });
}

async function keysmith(args: readonly string[]): Promise<string> {
  const result = await runProcess(process.execPath, [MAIN, ...args], { env: service.env, lifetimeMs: 30_000 });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  return result.stdout;
}

/** A fresh P-256 key's CSR, made by openssl (the key itself is thrown away: nobody uses these certificates). */
function goodCsr(name: string, extra: readonly string[] = []): Promise<string> {
  return openssl([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    '/dev/null',
    '-subj',
    `/CN=${name}`,
    ...extra,
  ]);
}

/** After each refusal: the child is alive, /healthz answers, and the ledger holds what it held. */
async function assertUnharmed(countBefore: number, what: string): Promise<void> {
  await service.assertHealthy(`after ${what}`);
  assert.equal(service.certificateCount(), countBefore, `${what}: nothing written to the ledger`);
}

function assertBadCsr(reply: Reply, csr: HostileCsr, where: string): void {
  assert.equal(reply.status, 400, `${where} ${csr.name}: ${JSON.stringify(reply.json)}`);
  assert.equal(reply.json['type'], BAD_CSR, `${where} ${csr.name}`);
  assert.equal(reply.json['status'], 400);
  assert.match(String(reply.json['detail']), csr.rule, `${where} ${csr.name}`);
}

before(async () => {
  httpServer = createServer((req, res) => {
    const token = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1];
    const answer = token === undefined ? undefined : challengeResponses.get(token);
    res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'text/plain' }).end(answer ?? '');
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const httpPort = portOf(httpServer.address());
  service = await HostileService.start({
    env: {
      KEYSMITH_JOIN_TOKEN_BURST: '1000',
      KEYSMITH_ACME_VALIDATION_ADDRESS: '127.0.0.1',
      KEYSMITH_ACME_HTTP01_PORT: String(httpPort),
      KEYSMITH_ACME_ALLOWED_SUFFIXES: 'example.test',
    },
  });
  bundle = await service.bundlePem();
  admin = { key: await readFile(service.paths.adminKey, 'utf8'), cert: await readFile(service.paths.adminCert, 'utf8') };
  adminId = /URI:(spiffe:\/\/[^,\s]+)/.exec(new X509Certificate(admin.cert).subjectAltName ?? '')?.[1] ?? '';
  assert.match(adminId, /^spiffe:\/\//);

  const e1 = rsaExponent1Key();
  const e3 = rsaExponent3Key();
  const rsa = { signatureOid: OIDS.sha256WithRsa };
  hostileCsrs = [
    {
      name: 'P-256 point at infinity',
      pem: csrPem(csrDer(infinitySpki(OIDS.p256))),
      rule: /^P-256 public key is the point at infinity \(SP 800-56A Rev\. 3 §5\.6\.2\.3\.3 step 1\)$/,
    },
    { name: 'P-384 point at infinity', pem: csrPem(csrDer(infinitySpki(OIDS.p384))), rule: /^P-384 public key is the point at infinity/ },
    {
      name: 'P-521 point at infinity',
      pem: csrPem(csrDer(infinitySpki(OIDS.p521))),
      rule: /^EC curve P-521 is not accepted: .*\(CA\/Browser Forum BR §6\.1\.5\)$/,
    },
    { name: 'secp256k1 point at infinity', pem: csrPem(csrDer(infinitySpki(OIDS.secp256k1))), rule: /^EC curve secp256k1 is not accepted/ },
    {
      name: 'RSA e=1 (signature verifies)',
      pem: csrPem(csrDer(e1.spki, { ...rsa, signer: (info) => e1.signSha256(info) })),
      rule: /^RSA public exponent 1 is below 65537 \(CA\/Browser Forum BR §6\.1\.6\)$/,
    },
    {
      name: 'RSA e=3 (signature verifies)',
      pem: csrPem(csrDer(e3.spki, { ...rsa, signer: (info) => e3.signSha256(info) })),
      rule: /^RSA public exponent 3 is below 65537 \(CA\/Browser Forum BR §6\.1\.6\)$/,
    },
    {
      name: 'RSA-1024 (openssl)',
      pem: await rsa1024Csr(),
      rule: /^RSA modulus of 1024 bits is not accepted: .*\(CA\/Browser Forum BR §6\.1\.5\)$/,
    },
    {
      name: 'RSA with a small factor',
      pem: csrPem(csrDer(rsaSpki(smallFactorModulus(751n), 65537n), rsa)),
      rule: /^RSA modulus is divisible by the small prime \d+ \(CA\/Browser Forum BR §6\.1\.6: no factors smaller than 752\)$/,
    },
  ];
});

function rsa1024Csr(): Promise<string> {
  return openssl(['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=rsa1024']);
}

after(async () => {
  await service?.stop();
  await new Promise((resolve) => httpServer?.close(resolve));
});

describe('hostile keys against keysmith serve', () => {
  it('the Node of this machine aborts on the point-at-infinity SPKI by itself (what the service must never reach)', async () => {
    const result = await runProcess(
      process.execPath,
      [
        '-e',
        'require("crypto").createPublicKey({key:Buffer.from("3019301306072a8648ce3d020106082a8648ce3d03010703020000","hex"),format:"der",type:"spki"}).asymmetricKeyDetails',
      ],
      { lifetimeMs: 30_000 },
    );
    assert.notEqual(result.code, 0, 'the native abort this suite guards against');
  });

  it('POST /v1/attest/join-token without a client certificate: each hostile CSR is 400 bad-csr naming the rule; the token still works after', async () => {
    const token = (await keysmith(['tokens', 'create', '--spiffe-id', NODE_ID, '--ttl', '10m'])).trim();
    const before = service.certificateCount();
    for (const csr of hostileCsrs) {
      assertBadCsr(await send('POST', '/v1/attest/join-token', { body: { token, csr: csr.pem } }), csr, 'join-token');
      await assertUnharmed(before, `join-token with ${csr.name}`);
    }
    const good = await send('POST', '/v1/attest/join-token', { body: { token, csr: await goodCsr('node') } });
    assert.equal(good.status, 200, JSON.stringify(good.json));
    assert.equal(good.json['spiffe_id'], NODE_ID);
    assert.equal(service.certificateCount(), before + 1);
  });

  it('POST /v1/svid/x509 and the batch route with the admin identity: 400 bad-csr, per item in the batch; a good CSR is still issued', async () => {
    await keysmith(['entries', 'create', '--spiffe-id', WORKLOAD_ID, '--parent-id', adminId, '--x509-ttl', '1h', '--json']);
    const before = service.certificateCount();
    for (const csr of hostileCsrs) {
      assertBadCsr(await send('POST', '/v1/svid/x509', { body: { csr: csr.pem, spiffe_id: WORKLOAD_ID }, identity: admin }), csr, 'x509');
      await assertUnharmed(before, `x509 with ${csr.name}`);
    }
    const batch = await send('POST', '/v1/svid/x509:batch', {
      body: { requests: hostileCsrs.map((csr) => ({ csr: csr.pem, spiffe_id: WORKLOAD_ID })) },
      identity: admin,
    });
    assert.equal(batch.status, 200, JSON.stringify(batch.json));
    const results = batch.json['results'] as { error?: Record<string, unknown> }[];
    assert.equal(results.length, hostileCsrs.length);
    results.forEach((result, i) => {
      const csr = hostileCsrs[i];
      assert.ok(csr !== undefined && result.error !== undefined, `batch item ${i} refused`);
      assert.equal(result.error['type'], BAD_CSR, csr.name);
      assert.equal(result.error['status'], 400, csr.name);
      assert.match(String(result.error['detail']), csr.rule, csr.name);
    });
    await assertUnharmed(before, 'the batch');
    const good = await send('POST', '/v1/svid/x509', { body: { csr: await goodCsr('workload'), spiffe_id: WORKLOAD_ID }, identity: admin });
    assert.equal(good.status, 200, JSON.stringify(good.json));
    assert.equal(service.certificateCount(), before + 1);
  });

  it('ACME: newAccount with a JWK that is no key is badPublicKey; finalize with each hostile CSR is badCSR and leaves the order ready', async () => {
    const acme = await AcmeSession.open();
    // RFC 8555 §6.7 badPublicKey, before the signature is even looked at.
    const zero = Buffer.alloc(32).toString('base64url');
    const realPoint = acme.jwk;
    const offCurveY = Buffer.from(String(realPoint.y), 'base64url');
    offCurveY[31] = (offCurveY[31] ?? 0) ^ 1;
    const hostileJwks: [JsonWebKey, RegExp][] = [
      [{ kty: 'EC', crv: 'P-256', x: zero, y: zero }, /point at infinity/],
      [{ kty: 'EC', crv: 'P-256', x: String(realPoint.x), y: offCurveY.toString('base64url') }, /not on the curve/],
      [{ kty: 'EC', crv: 'P-256', x: zero.slice(2), y: zero }, /not 32 each/],
      [{ kty: 'EC', crv: 'P-521', x: zero, y: zero }, /EC curve P-521 is not accepted/],
      [
        { kty: 'RSA', n: Buffer.from(smallFactorModulus(3n).toString(16), 'hex').toString('base64url'), e: 'Aw' },
        /RSA public exponent 3 is below 65537/,
      ],
    ];
    const before = service.certificateCount();
    for (const [jwk, rule] of hostileJwks) {
      const reply = await acme.post(acme.url('newAccount'), { termsOfServiceAgreed: true }, { jwk });
      assert.equal(reply.status, 400, JSON.stringify(reply.json));
      assert.equal(reply.json['type'], 'urn:ietf:params:acme:error:badPublicKey');
      assert.match(String(reply.json['detail']), rule);
      await assertUnharmed(before, `newAccount with ${JSON.stringify(jwk).slice(0, 60)}`);
    }

    await acme.register();
    // keyChange (RFC 8555 §7.3.5): the new key in the inner JWS gets the same check.
    const inner = await acme.innerJws(acme.url('keyChange'), { kty: 'EC', crv: 'P-256', x: zero, y: zero });
    const keyChange = await acme.post(acme.url('keyChange'), inner);
    assert.equal(keyChange.status, 400, JSON.stringify(keyChange.json));
    assert.equal(keyChange.json['type'], 'urn:ietf:params:acme:error:badPublicKey');

    const finalizeUrl = await acme.readyOrder(ACME_NAME);
    for (const csr of hostileCsrs) {
      const reply = await acme.post(finalizeUrl, { csr: csrDerBase64url(csr.pem) });
      assert.equal(reply.status, 400, `${csr.name}: ${JSON.stringify(reply.json)}`);
      assert.equal(reply.json['type'], 'urn:ietf:params:acme:error:badCSR', csr.name);
      assert.match(String(reply.json['detail']), csr.rule, csr.name);
      await assertUnharmed(before, `finalize with ${csr.name}`);
    }
    const good = await goodCsr(ACME_NAME, ['-addext', `subjectAltName=DNS:${ACME_NAME}`]);
    const finalized = await acme.post(finalizeUrl, { csr: csrDerBase64url(good) });
    assert.equal(finalized.status, 200, JSON.stringify(finalized.json));
    assert.equal(finalized.json['status'], 'valid');
    assert.equal(service.certificateCount(), before + 1);
  });

  it('a TLS client certificate whose key is the point at infinity (signed by the service CA) gets a bad_certificate alert', async () => {
    const caDir = join(service.paths.dataDir, 'ca');
    const intermediatePem = await readFile(join(caDir, 'intermediate.cert.pem'), 'utf8');
    const intermediateKey = createPrivateKey(await readFile(join(caDir, 'intermediate.key.pem'), 'utf8'));
    const intermediateDer = new X509Certificate(intermediatePem).raw;
    const before = service.certificateCount();
    for (const oid of [OIDS.p256, OIDS.p384]) {
      const leaf = certificateDer(infinitySpki(oid), intermediateDer, intermediateKey);
      const chain = toPem(leaf) + intermediatePem;
      // Any key signs the CertificateVerify: the server must refuse the Certificate before it gets that far.
      const { privateKey } = await generate('ec', { namedCurve: 'P-256' });
      const error = await handshakeError(chain, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      assert.ok(error instanceof TlsAlertError, String(error));
      assert.equal(error.alert, 'bad_certificate');
      assert.equal(error.isRemote, true);
      await assertUnharmed(before, `a client certificate with the ${oid} point at infinity`);
    }
  });
});

function toPem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

function csrDerBase64url(pem: string): string {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64').toString('base64url');
}

/** Connects with our TLS engine presenting `chain`, sends one request, and returns the error the connection ends with (bounded). */
function handshakeError(chain: string, key: string): Promise<unknown> {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port: service.port,
      servername: 'localhost',
      ca: bundle,
      cert: chain,
      key,
      ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(new Error('no alert within 10 s'));
    }, 10_000);
    socket.on('error', (error: unknown) => {
      clearTimeout(timer);
      resolve(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(new Error('closed without an alert'));
    });
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
  });
}

/** A small RFC 8555 client over HTTPS: enough to reach a ready order and finalize it. */
class AcmeSession {
  private accountUrl: string | undefined;

  private constructor(
    readonly directory: Record<string, string>,
    private readonly privateKey: KeyObject,
    readonly jwk: JsonWebKey,
  ) {}

  static async open(): Promise<AcmeSession> {
    const directory = await send('GET', '/acme/directory');
    assert.equal(directory.status, 200);
    // Async generation: JWK export of a generateKeyPairSync key can hang Node 20 (PERF-NOTES.md).
    const { privateKey, publicKey } = await generate('ec', { namedCurve: 'P-256' });
    return new AcmeSession(directory.json as Record<string, string>, privateKey, publicKey.export({ format: 'jwk' }));
  }

  url(name: string): string {
    const value = this.directory[name];
    assert.ok(typeof value === 'string', `directory has ${name}`);
    return value;
  }

  private async nonce(): Promise<string> {
    const reply = await send('HEAD', pathOf(this.directory['newNonce'] ?? ''));
    const nonce = reply.headers['replay-nonce'];
    assert.ok(typeof nonce === 'string');
    return nonce;
  }

  async jws(url: string, payload: unknown, options: { jwk?: JsonWebKey; alg?: string } = {}): Promise<string> {
    const header = {
      alg: options.alg ?? 'ES256',
      nonce: await this.nonce(),
      url,
      ...(options.jwk === undefined && this.accountUrl !== undefined ? { kid: this.accountUrl } : { jwk: options.jwk ?? this.jwk }),
    };
    const body =
      payload === '' ? new Uint8Array(0) : new TextEncoder().encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const signed = await new FlattenedSign(body).setProtectedHeader(header).sign(this.privateKey);
    return JSON.stringify(signed);
  }

  async post(url: string, payload: unknown, options: { jwk?: JsonWebKey; alg?: string } = {}): Promise<Reply> {
    return send('POST', pathOf(url), { body: await this.jws(url, payload, options), contentType: 'application/jose+json' });
  }

  async register(): Promise<void> {
    const reply = await this.post(this.directory['newAccount'] ?? '', { termsOfServiceAgreed: true });
    assert.equal(reply.status, 201, JSON.stringify(reply.json));
    const location = reply.headers['location'];
    assert.ok(typeof location === 'string');
    this.accountUrl = location;
  }

  /** The inner JWS of a key change, signed by our key but naming `newJwk` (which no key can match). */
  async innerJws(url: string, newJwk: JsonWebKey): Promise<unknown> {
    const payload = new TextEncoder().encode(JSON.stringify({ account: this.accountUrl, oldKey: this.jwk }));
    return new FlattenedSign(payload).setProtectedHeader({ alg: 'ES256', jwk: newJwk, url }).sign(this.privateKey);
  }

  /** newOrder, http-01 through the test's responder, then waits (bounded) until the order is ready; returns its finalize URL. */
  async readyOrder(name: string): Promise<string> {
    const order = await this.post(this.directory['newOrder'] ?? '', { identifiers: [{ type: 'dns', value: name }] });
    assert.equal(order.status, 201, JSON.stringify(order.json));
    const orderUrl = order.headers['location'];
    assert.ok(typeof orderUrl === 'string');
    const [authzUrl] = order.json['authorizations'] as string[];
    assert.ok(authzUrl !== undefined);
    const authz = await this.post(authzUrl, '');
    const challenge = (authz.json['challenges'] as { type: string; url: string; token: string }[]).find((c) => c.type === 'http-01');
    assert.ok(challenge !== undefined);
    const thumbprint = await calculateJwkThumbprint(this.jwk, 'sha256');
    challengeResponses.set(challenge.token, `${challenge.token}.${thumbprint}`);
    await this.post(challenge.url, {});
    for (let attempt = 0; attempt < 50; attempt++) {
      const state = await this.post(orderUrl, '');
      if (state.json['status'] === 'ready') return String(state.json['finalize']);
      assert.notEqual(state.json['status'], 'invalid', JSON.stringify(state.json));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error('the order did not become ready within 10 s');
  }
}

function pathOf(url: string): string {
  return new URL(url).pathname;
}
