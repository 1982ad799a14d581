/**
 * A small ACME client for protocol tests: flattened JWS made with jose,
 * requests handed straight to `createAcmeServer(...).handle()`, and a real
 * CA, ledger file and Authority underneath. The validator is scripted here:
 * the real validators are tested in validation*.test.ts and the interop tests.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, FlattenedSign, type JWSHeaderParameters } from 'jose';
import { createAcmeServer, type AcmeServer, type AcmeServerDeps, type AcmeStore } from '../../../src/acme/index.js';
import type { AcmeHttpResponse } from '../../../src/acme/transport.js';
import type { ChallengeAttempt, ChallengeValidator, ValidationOutcome } from '../../../src/acme/validation/types.js';
import { Authority, initCertificateAuthority, type CaMaterial } from '../../../src/ca/index.js';
import { openLedger, type Ledger } from '../../../src/ledger/index.js';
import { FixedClock, openssl, tempDir } from '../../unit/ca/helpers.js';

export const BASE_URL = 'https://acme.test:8443/acme';
const generate = promisify(generateKeyPair);

export type KeyKind = 'p256' | 'p384' | 'rsa2048' | 'ed25519' | 'rsa1024' | 'p521';

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly jwk: JsonWebKey;
  readonly alg: string;
}

/** Async generation: JWK export of a generateKeyPairSync key can hang Node 20 (PERF-NOTES.md). */
export async function newKey(kind: KeyKind = 'p256'): Promise<SigningKey> {
  const pair =
    kind === 'p256'
      ? await generate('ec', { namedCurve: 'P-256' })
      : kind === 'p384'
        ? await generate('ec', { namedCurve: 'P-384' })
        : kind === 'p521'
          ? await generate('ec', { namedCurve: 'P-521' })
          : kind === 'ed25519'
            ? await generate('ed25519')
            : await generate('rsa', { modulusLength: kind === 'rsa2048' ? 2048 : 1024 });
  const alg = kind === 'p256' ? 'ES256' : kind === 'p384' ? 'ES384' : kind === 'p521' ? 'ES512' : kind === 'ed25519' ? 'EdDSA' : 'RS256';
  return { privateKey: pair.privateKey, jwk: pair.publicKey.export({ format: 'jwk' }), alg };
}

/** A key read back from PEM (safe to export as JWK), e.g. a certificate key made by openssl. */
export function keyFromPem(pem: string, alg: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  return { privateKey, jwk: createPublicKey(privateKey).export({ format: 'jwk' }), alg };
}

export async function thumbprintOf(key: SigningKey): Promise<string> {
  return calculateJwkThumbprint({ ...key.jwk }, 'sha256');
}

/** Tells each challenge attempt's outcome; records every attempt. */
export class ScriptedValidator implements ChallengeValidator {
  readonly attempts: ChallengeAttempt[] = [];
  /** Identifier values whose validation fails with incorrectResponse. */
  readonly failing = new Set<string>();

  async validate(attempt: ChallengeAttempt): Promise<ValidationOutcome> {
    this.attempts.push(attempt);
    await Promise.resolve();
    if (this.failing.has(attempt.identifier.value)) {
      return { ok: false, error: { type: 'incorrectResponse', detail: `scripted failure for ${attempt.identifier.value}` } };
    }
    return { ok: true };
  }
}

export interface AcmeStack {
  readonly dir: string;
  readonly clock: FixedClock;
  readonly ledger: Ledger;
  readonly material: CaMaterial;
  readonly authority: Authority;
  readonly validator: ScriptedValidator;
  readonly server: AcmeServer;
  readonly files: { readonly root: string; readonly intermediate: string };
  /** What reached onInternalError: every test expects none. */
  readonly internalErrors: unknown[];
  /** Certificates in the ledger (every profile). */
  certificateCount(): number;
  /** A second server on the same ledger, as the next process would build it after a stop. */
  restart(validator: AcmeServerDeps['validator'], overrides?: Partial<AcmeServerDeps>): AcmeServer;
  close(): void;
}

export async function acmeStack(overrides: Partial<AcmeServerDeps> = {}): Promise<AcmeStack> {
  const dir = tempDir('acme');
  const clock = new FixedClock(Date.now());
  const ledger = openLedger({ path: join(dir.path, 'keysmith.db'), clock });
  const { material } = await initCertificateAuthority({ dataDir: dir.path, trustDomain: 'example.org', store: ledger.certificates, clock });
  const authority = new Authority({ material, store: ledger.certificates, clock, ocspUrl: 'http://127.0.0.1/ocsp' });
  const validator = new ScriptedValidator();
  const internalErrors: unknown[] = [];
  const store: AcmeStore = ledger.acme;
  const policy = { allowedSuffixes: ['example.test'], allowedIpRanges: ['192.0.2.0/24', '2001:db8::/32'], eabRequired: false };
  const nonces = { ledger: ledger.nonces, key: randomBytes(32) };
  const server = createAcmeServer({
    baseUrl: BASE_URL,
    store,
    nonces,
    certificates: ledger.certificates,
    authority,
    validator,
    clock,
    policy,
    meta: { website: 'https://keysmith.example' },
    onInternalError: (error) => internalErrors.push(error),
    ...overrides,
  });
  const files = { root: join(dir.path, 'root.pem'), intermediate: join(dir.path, 'intermediate.pem') };
  writeFileSync(files.root, material.root.certPem);
  writeFileSync(files.intermediate, material.intermediate.certPem);
  return {
    dir: dir.path,
    clock,
    ledger,
    material,
    authority,
    validator,
    server,
    files,
    internalErrors,
    certificateCount: () => ledger.certificates.list({ limit: 500 }).items.length,
    restart: (next, restartOverrides = {}) =>
      createAcmeServer({
        baseUrl: BASE_URL,
        store,
        nonces,
        certificates: ledger.certificates,
        authority,
        validator: next,
        clock,
        policy,
        ...restartOverrides,
      }),
    close: () => {
      ledger.close();
      dir.remove();
    },
  };
}

export interface PostOptions {
  /** Sign with the jwk header instead of kid. */
  readonly useJwk?: boolean;
  readonly key?: SigningKey;
  readonly nonce?: string | null;
  readonly url?: string;
  readonly alg?: string;
  readonly extraHeader?: Readonly<Record<string, unknown>>;
  /** Changes the flattened JWS after signing. */
  readonly tamper?: (jws: { protected: string; payload: string; signature: string }) => object;
  readonly contentType?: string;
}

/** One ACME account's view of the server. */
export class TestClient {
  kid: string | undefined;
  private lastNonce: string | undefined;

  constructor(
    readonly server: AcmeServer,
    public key: SigningKey,
    readonly clientAddress = '127.0.0.1',
  ) {}

  async request(method: 'GET' | 'HEAD' | 'POST', path: string, body?: Buffer, contentType?: string): Promise<AcmeHttpResponse> {
    const response = await this.server.handle({
      method,
      path,
      contentType,
      body,
      clientAddress: this.clientAddress,
      clientCertificate: undefined,
    });
    const nonce = header(response, 'replay-nonce');
    if (nonce !== undefined) this.lastNonce = nonce;
    return response;
  }

  async nonce(): Promise<string> {
    if (this.lastNonce === undefined) await this.request('HEAD', '/new-nonce');
    const nonce = this.lastNonce;
    if (nonce === undefined) throw new Error('no nonce');
    this.lastNonce = undefined;
    return nonce;
  }

  /** Builds the flattened JWS for a POST to `path` (payload '' = POST-as-GET). */
  async jws(path: string, payload: object | string, options: PostOptions = {}): Promise<object> {
    const key = options.key ?? this.key;
    const header: JWSHeaderParameters = {
      alg: options.alg ?? key.alg,
      url: options.url ?? `${BASE_URL}${path}`,
      ...(options.nonce === null ? {} : { nonce: options.nonce ?? (await this.nonce()) }),
      ...(options.useJwk === true || this.kid === undefined ? { jwk: { ...key.jwk } } : { kid: this.kid }),
      ...(options.extraHeader ?? {}),
    };
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : new TextEncoder().encode(JSON.stringify(payload));
    const signed = await new FlattenedSign(bytes).setProtectedHeader(header).sign(key.privateKey);
    const jws = { protected: signed.protected ?? '', payload: signed.payload, signature: signed.signature };
    return options.tamper === undefined ? jws : options.tamper(jws);
  }

  async post(path: string, payload: object | string, options: PostOptions = {}): Promise<AcmeHttpResponse> {
    const body = Buffer.from(JSON.stringify(await this.jws(path, payload, options)));
    return this.request('POST', path, body, options.contentType ?? 'application/jose+json');
  }

  async register(payload: object = { termsOfServiceAgreed: true, contact: ['mailto:ops@example.test'] }): Promise<AcmeHttpResponse> {
    const response = await this.post('/new-account', payload, { useJwk: true });
    const location = header(response, 'location');
    if (location !== undefined && response.status < 300) this.kid = location;
    return response;
  }
}

export function header(response: AcmeHttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return typeof value === 'string' ? value : value?.[0];
}

export function headerValues(response: AcmeHttpResponse, name: string): readonly string[] {
  const value = response.headers[name];
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

/** The JSON body as a plain record. */
export function body(response: AcmeHttpResponse): Record<string, unknown> {
  const value = response.body;
  if (value === undefined || typeof value === 'string' || Buffer.isBuffer(value))
    throw new Error(`expected a JSON body, got ${String(value)}`);
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

export function pathOf(url: unknown): string {
  if (typeof url !== 'string' || !url.startsWith(BASE_URL)) throw new Error(`not an ACME URL: ${String(url)}`);
  return url.slice(BASE_URL.length);
}

let csrCounter = 0;

/** A CSR made by openssl: base64url DER and the key PEM. */
export function makeCsr(
  dir: string,
  names: { cn?: string; dns?: readonly string[]; ip?: readonly string[] },
  keyType: 'ec' | 'rsa' = 'ec',
): { csr: string; keyPem: string } {
  const id = ++csrCounter;
  const keyFile = join(dir, `csr-${id}.key`);
  const out = join(dir, `csr-${id}.der`);
  const sans = [...(names.dns ?? []).map((n) => `DNS:${n}`), ...(names.ip ?? []).map((n) => `IP:${n}`)];
  const keyArgs = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  openssl([
    'req',
    '-new',
    ...keyArgs,
    '-nodes',
    '-keyout',
    keyFile,
    '-subj',
    names.cn === undefined ? '/O=keysmith-test' : `/CN=${names.cn}`,
    ...(sans.length > 0 ? ['-addext', `subjectAltName=${sans.join(',')}`] : []),
    '-outform',
    'DER',
    '-out',
    out,
  ]);
  return { csr: readFileSync(out).toString('base64url'), keyPem: readFileSync(keyFile, 'utf8') };
}
