/**
 * A minimal RFC 8555 client for the bench: ES256 flattened JWS made with
 * jose, nonces carried from each response to the next request, keep-alive
 * HTTPS through one agent. Only what a complete order needs; it retries a
 * request once on badNonce, as RFC 8555 §6.5 asks clients to.
 */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { request as httpsRequest, type Agent } from 'node:https';
import { calculateJwkThumbprint, exportJWK, FlattenedSign, type JWK } from 'jose';

export interface AcmeReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface Directory {
  readonly newNonce: string;
  readonly newAccount: string;
  readonly newOrder: string;
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what}: expected a JSON object`);
  return { ...value };
}

function stringField(record: Record<string, unknown>, name: string, what: string): string {
  const value = record[name];
  if (typeof value !== 'string') throw new Error(`${what}: no string "${name}" in ${JSON.stringify(record)}`);
  return value;
}

export function jsonOf(reply: AcmeReply, what: string): Record<string, unknown> {
  return asRecord(JSON.parse(reply.body.toString('utf8')), what);
}

export function field(record: Record<string, unknown>, name: string, what: string): string {
  return stringField(record, name, what);
}

export function stringList(record: Record<string, unknown>, name: string, what: string): string[] {
  const value = record[name];
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string'))
    throw new Error(`${what}: "${name}" is not a list of strings`);
  return value;
}

function send(agent: Agent, method: 'GET' | 'HEAD' | 'POST', url: string, body?: string): Promise<AcmeReply> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/jose+json' } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.setTimeout(30_000, () => request.destroy(new Error(`${method} ${url}: no answer in 30 s`)));
    request.on('error', reject);
    request.end(body);
  });
}

export class BenchAcmeClient {
  private nonce: string | undefined;
  private accountUrl: string | undefined;

  private constructor(
    private readonly agent: Agent,
    readonly directory: Directory,
    private readonly privateKey: KeyObject,
    private readonly jwk: JWK,
    /** base64url SHA-256 JWK thumbprint (RFC 7638), for key authorizations. */
    readonly thumbprint: string,
  ) {}

  static async create(agent: Agent, directoryUrl: string): Promise<BenchAcmeClient> {
    const reply = await send(agent, 'GET', directoryUrl);
    if (reply.status !== 200) throw new Error(`directory: HTTP ${reply.status}`);
    const record = jsonOf(reply, 'directory');
    const directory: Directory = {
      newNonce: stringField(record, 'newNonce', 'directory'),
      newAccount: stringField(record, 'newAccount', 'directory'),
      newOrder: stringField(record, 'newOrder', 'directory'),
    };
    // Async generation: JWK export of a generateKeyPairSync key can hang Node 20 (PERF-NOTES).
    const { privateKey, publicKey } = await new Promise<{ privateKey: KeyObject; publicKey: KeyObject }>((resolve, reject) =>
      generateKeyPair('ec', { namedCurve: 'P-256' }, (err, pub, priv) =>
        err ? reject(err) : resolve({ privateKey: priv, publicKey: pub }),
      ),
    );
    const jwk = await exportJWK(publicKey);
    return new BenchAcmeClient(agent, directory, privateKey, jwk, await calculateJwkThumbprint(jwk, 'sha256'));
  }

  keyAuthorization(token: string): string {
    return `${token}.${this.thumbprint}`;
  }

  /** RFC 8555 §7.3: a new account; later requests use its URL as `kid`. */
  async register(): Promise<void> {
    const reply = await this.post(this.directory.newAccount, { termsOfServiceAgreed: true, contact: ['mailto:bench@example.test'] }, true);
    if (reply.status !== 201 && reply.status !== 200) throw new Error(`newAccount: HTTP ${reply.status} ${reply.body.toString('utf8')}`);
    const location = reply.headers['location'];
    if (typeof location !== 'string') throw new Error('newAccount: no Location');
    this.accountUrl = location;
  }

  /** A signed POST (RFC 8555 §6.2); `payload` '' is POST-as-GET. */
  async post(url: string, payload: object | '', withJwk = false): Promise<AcmeReply> {
    for (let attempt = 0; ; attempt++) {
      const reply = await send(this.agent, 'POST', url, await this.sign(url, payload, withJwk));
      this.takeNonce(reply);
      if (reply.status === 400 && attempt === 0 && reply.body.toString('utf8').includes('urn:ietf:params:acme:error:badNonce')) continue;
      return reply;
    }
  }

  private async sign(url: string, payload: object | '', withJwk: boolean): Promise<string> {
    const nonce = this.nonce ?? (await this.freshNonce());
    this.nonce = undefined;
    const bytes = payload === '' ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(payload));
    const key = withJwk ? { jwk: this.jwk } : { kid: this.requireAccount() };
    const jws = await new FlattenedSign(bytes).setProtectedHeader({ alg: 'ES256', nonce, url, ...key }).sign(this.privateKey);
    return JSON.stringify(jws);
  }

  private requireAccount(): string {
    if (this.accountUrl === undefined) throw new Error('register() first');
    return this.accountUrl;
  }

  private async freshNonce(): Promise<string> {
    const reply = await send(this.agent, 'HEAD', this.directory.newNonce);
    const nonce = reply.headers['replay-nonce'];
    if (typeof nonce !== 'string') throw new Error(`newNonce: HTTP ${reply.status} without Replay-Nonce`);
    return nonce;
  }

  private takeNonce(reply: AcmeReply): void {
    const nonce = reply.headers['replay-nonce'];
    if (typeof nonce === 'string') this.nonce = nonce;
  }
}
