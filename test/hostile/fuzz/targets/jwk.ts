/**
 * ACME JWS requests (RFC 8555 §6.2, RFC 7515 flattened JSON) to newAccount
 * (jwk in the protected header) and newOrder (kid). Mutations know the
 * protected header (alg, jwk, kid, nonce, url), the JWK members (RFC 7517,
 * RFC 7518 §6: kty, crv, x, y, n, e; RFC 8037 OKP keys), base64url edges,
 * the payload and the signature; then text and byte edits.
 *
 * An input is the JSON of a `JwsInput`: the protected header and payload as
 * text with placeholders ({{nonce}}, {{url}}, {{kid}}) that `send` fills
 * from the running service, and how to sign (the signature is made at send
 * time, over the filled-in header). So an input replays against any service.
 */
import { createPrivateKey, createPublicKey, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Prng } from '../../../robustness/flood-tools.js';
import type { HostileService } from '../../harness.js';
import { HttpsClient, SourceAddresses, type Outcome } from '../client.js';
import { mutateBytes } from '../mutators.js';
import { CORPUS_DIR } from '../paths.js';
import { FUZZ_ENV, type FuzzTarget, type TargetSession } from '../target.js';

const ACCOUNT_KEYS = ['P-256', 'P-384', 'Ed25519', 'RSA-2048'] as const;
type AccountKeyName = (typeof ACCOUNT_KEYS)[number];
const ALG_OF: Readonly<Record<AccountKeyName, string>> = { 'P-256': 'ES256', 'P-384': 'ES384', Ed25519: 'EdDSA', 'RSA-2048': 'RS256' };

export interface JwsInput {
  readonly endpoint: 'newAccount' | 'newOrder';
  /** Protected header text (usually JSON) with placeholders. */
  readonly protected: string;
  readonly payload: string;
  /** `key`: sign with that corpus key as its alg says; `bytes`: send `signature` as given (base64url). */
  readonly sign: { readonly key: AccountKeyName } | { readonly bytes: string };
  /** When set, the body sent as is (placeholders filled), instead of the flattened JWS built from the fields. */
  readonly body?: string;
  readonly contentType?: string;
}

interface AccountKey {
  readonly privateKey: KeyObject;
  readonly jwk: JsonWebKey;
}

async function loadKeys(): Promise<Map<AccountKeyName, AccountKey>> {
  const keys = new Map<AccountKeyName, AccountKey>();
  for (const name of ACCOUNT_KEYS) {
    const privateKey = createPrivateKey(await readFile(join(CORPUS_DIR, `account-${name}.key.pem`), 'utf8'));
    // A key imported from PEM (not made by generateKeyPairSync) exports to JWK safely (PERF-NOTES hazard).
    keys.set(name, { privateKey, jwk: createPublicKey(privateKey).export({ format: 'jwk' }) });
  }
  return keys;
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** JWK member values at the edges: empty, zero, all-ones, wrong lengths, padding, the wrong alphabet, not strings. */
function memberEdge(prng: Prng, current: unknown): unknown {
  const size = typeof current === 'string' ? Buffer.from(current, 'base64url').length : 32;
  switch (prng.int(16)) {
    case 0:
      return '';
    case 1:
      return b64(Buffer.alloc(size));
    case 2:
      return b64(Buffer.alloc(size, 0xff));
    case 3:
      return b64(Buffer.alloc(prng.pick([1, 31, 33, 65, 66, 67, 257, 512])));
    case 4:
      return typeof current === 'string' ? `${current}=` : 'AQ==';
    case 5:
      return typeof current === 'string' ? current.replace(/-/g, '+').replace(/_/g, '/') + '+/' : '+/+/';
    case 6:
      return prng.pick([0, 1, -1, null, true, [], {}, 1e308]);
    case 7:
      return b64(prng.bytes(prng.pick([1, 32, 48, 66, 256, 2048])));
    case 8:
      return 'AQ'; // 1
    case 9:
      return 'Aw'; // 3
    case 10:
      return 'AAEAAQ'; // 65537 with a leading zero octet
    case 11:
      return b64(Buffer.concat([Buffer.from([0]), Buffer.alloc(size)]));
    case 12:
      return 'A'.repeat(prng.pick([1, 2, 3, 5, 43, 65_000]));
    case 13:
      return typeof current === 'string' ? current.slice(0, Math.max(0, current.length - 1 - prng.int(4))) : '';
    case 14:
      return `${typeof current === 'string' ? current : ''}\u0000`;
    default:
      return b64(Buffer.concat([Buffer.from([1]), Buffer.alloc(2047)])); // a 16384-bit value
  }
}

function mutateJwk(prng: Prng, jwk: Record<string, unknown>): void {
  const members = ['kty', 'crv', 'x', 'y', 'n', 'e', 'd', 'k', 'alg', 'use', 'key_ops', 'kid'];
  const member = prng.pick(members);
  switch (prng.int(5)) {
    case 0:
      delete jwk[member];
      return;
    case 1:
      if (member === 'kty') jwk[member] = prng.pick(['EC', 'RSA', 'OKP', 'oct', '', 'ec', 'EC ', 'AKP']);
      else if (member === 'crv')
        jwk[member] = prng.pick([
          'P-256',
          'P-384',
          'P-521',
          'secp256k1',
          'Ed25519',
          'Ed448',
          'X25519',
          'X448',
          'brainpoolP256r1',
          '',
          'P-256\u0000',
        ]);
      else jwk[member] = memberEdge(prng, jwk[member]);
      return;
    case 2: {
      // x = y = 0, the encoding some libraries read as the point at infinity
      const size = prng.pick([32, 48, 66]);
      jwk['x'] = b64(Buffer.alloc(size));
      jwk['y'] = b64(Buffer.alloc(size));
      if (prng.int(2) === 0) jwk['crv'] = prng.pick(['P-256', 'P-384', 'P-521']);
      return;
    }
    case 3:
      jwk[member] = memberEdge(prng, jwk[member]);
      return;
    default: {
      // members of another key type mixed in (an EC key with n and e, an RSA key with crv)
      const other = prng.pick([
        { kty: 'RSA', n: 'AQ', e: 'AQAB' },
        { kty: 'EC', crv: 'P-256', x: b64(Buffer.alloc(32)), y: b64(Buffer.alloc(32)) },
        { kty: 'OKP', crv: 'Ed25519', x: b64(Buffer.alloc(32)) },
        { kty: 'oct', k: 'AAAA' },
      ]);
      Object.assign(jwk, other, prng.int(2) === 0 ? { kty: jwk['kty'] } : {});
    }
  }
}

function mutateHeader(prng: Prng, header: Record<string, unknown>): void {
  switch (prng.int(8)) {
    case 0:
    case 1:
    case 2: {
      const jwk = header['jwk'];
      if (typeof jwk === 'object' && jwk !== null && !Array.isArray(jwk)) mutateJwk(prng, jwk as Record<string, unknown>);
      else header['jwk'] = { kty: 'EC', crv: 'P-256', x: b64(Buffer.alloc(32)), y: b64(Buffer.alloc(32)) };
      return;
    }
    case 3:
      header['alg'] = prng.pick([
        'ES256',
        'ES384',
        'ES512',
        'RS256',
        'PS256',
        'EdDSA',
        'HS256',
        'none',
        '',
        'es256',
        'ES256\u0000',
        'A'.repeat(40),
        0,
      ]);
      return;
    case 4:
      header['nonce'] = prng.pick([undefined, '', 'not-a-nonce', 'A'.repeat(300), 17, '{{nonce}}{{nonce}}', '{{nonce}}=']);
      return;
    case 5:
      header['url'] = prng.pick([undefined, '', 'https://evil.test/acme/new-account', '{{url}}/', '{{url}}?x', 'x'.repeat(3000), []]);
      return;
    case 6:
      if ('jwk' in header) header['kid'] = prng.pick(['{{kid}}', 'https://127.0.0.1/acme/acct/1', '']);
      else header['jwk'] = { kty: 'EC', crv: 'P-256', x: b64(Buffer.alloc(32)), y: b64(Buffer.alloc(32)) };
      return;
    default:
      header[prng.pick(['b64', 'crit', 'typ', 'cty', 'x5c', 'jku', '__proto__', 'constructor'])] = prng.pick([
        false,
        ['b64'],
        'JOSE',
        [],
        { a: 1 },
      ]);
  }
}

function mutatePayload(prng: Prng, endpoint: JwsInput['endpoint']): string {
  if (endpoint === 'newAccount') {
    return prng.pick([
      '{"termsOfServiceAgreed":true}',
      '{}',
      '',
      '{"onlyReturnExisting":true}',
      `{"contact":[${Array.from({ length: prng.pick([1, 50, 1000]) }, () => '"mailto:a@fuzz.test"').join(',')}]}`,
      '{"contact":["mailto:\u0000@fuzz.test","tel:1"]}',
      '{"externalAccountBinding":{"protected":"","payload":"","signature":""}}',
      '[]',
      'null',
      '{"termsOfServiceAgreed":"yes"}',
    ]);
  }
  const names = prng.pick([
    ['a.fuzz.test'],
    ['*.fuzz.test'],
    ['evil.example'],
    Array.from({ length: 200 }, (_, i) => `n${i}.fuzz.test`),
    ['x'.repeat(300)],
    ['fuzz.test.'],
    ['A.FUZZ.TEST'],
    [''],
  ]);
  return prng.pick([
    JSON.stringify({ identifiers: names.map((value) => ({ type: 'dns', value })) }),
    JSON.stringify({ identifiers: [{ type: 'ip', value: prng.pick(['127.0.0.1', '::1', '999.1.1.1', '1.2.3']) }] }),
    JSON.stringify({ identifiers: [] }),
    JSON.stringify({
      identifiers: [{ type: 'dns', value: 'a.fuzz.test' }],
      notBefore: prng.pick(['1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', 'yesterday']),
    }),
    '{}',
    '',
  ]);
}

function keyFor(prng: Prng): AccountKeyName {
  return prng.pick(ACCOUNT_KEYS);
}

export class JwkTarget implements FuzzTarget {
  readonly name = 'jwk' as const;
  readonly env = FUZZ_ENV;
  readonly parallel = 1;

  private constructor(private readonly keys: Map<AccountKeyName, AccountKey>) {}

  static async create(): Promise<JwkTarget> {
    return new JwkTarget(await loadKeys());
  }

  generate(prng: Prng): Buffer {
    const endpoint = prng.int(3) === 0 ? 'newOrder' : 'newAccount';
    const keyName = keyFor(prng);
    const key = this.keys.get(keyName);
    const header: Record<string, unknown> = { alg: ALG_OF[keyName], nonce: '{{nonce}}', url: '{{url}}' };
    if (endpoint === 'newAccount') header['jwk'] = { ...key?.jwk };
    else header['kid'] = '{{kid}}';
    const edits = prng.int(4);
    for (let i = 0; i < edits; i++) mutateHeader(prng, header);
    let protectedText = JSON.stringify(header);
    let payload =
      prng.int(3) === 0
        ? mutatePayload(prng, endpoint)
        : endpoint === 'newAccount'
          ? '{"termsOfServiceAgreed":true}'
          : '{"identifiers":[{"type":"dns","value":"a.fuzz.test"}]}';
    let signing: JwsInput['sign'] = { key: endpoint === 'newOrder' ? 'P-256' : keyName };
    switch (prng.int(10)) {
      case 0: // text edits of the header: duplicate members, broken JSON, deep nesting
        protectedText = prng.pick([
          protectedText.replace('{', '{"alg":"none",'),
          protectedText.slice(0, -1),
          `{"jwk":${'['.repeat(5_000)}${']'.repeat(5_000)},${protectedText.slice(1)}`,
          mutateBytes(prng, Buffer.from(protectedText)).toString('latin1'),
        ]);
        break;
      case 1:
        payload = mutateBytes(prng, Buffer.from(payload)).toString('latin1');
        break;
      case 2:
        signing = {
          bytes: prng.pick(['', 'AA', b64(Buffer.alloc(64)), b64(prng.bytes(prng.pick([63, 64, 65, 72, 96, 256]))), '====', '+/']),
        };
        break;
      default:
        break;
    }
    const input: JwsInput = { endpoint, protected: protectedText, payload, sign: signing };
    if (prng.int(12) === 0) {
      // the flattened JSON itself: extra members, wrong types, padding
      const body = prng.pick([
        '{"protected":{{protected}},"payload":"","signature":""}',
        '{"protected":"{{protected}}","payload":"{{payload}}","signature":"{{signature}}","header":{"alg":"none"}}',
        '{"protected":"{{protected}}=","payload":"{{payload}}","signature":"{{signature}}"}',
        '{"protected":"{{protected}}","payload":"{{payload}}","signatures":[]}',
        '{"protected":"{{protected}}","protected":"e30","payload":"{{payload}}","signature":"{{signature}}"}',
        '{{protected}}.{{payload}}.{{signature}}',
      ]);
      return Buffer.from(JSON.stringify({ ...input, body }));
    }
    if (prng.int(20) === 0)
      return Buffer.from(
        JSON.stringify({
          ...input,
          contentType: prng.pick(['application/json', 'application/jose', 'application/jose+json; charset=utf-16', '']),
        }),
      );
    return Buffer.from(JSON.stringify(input));
  }

  async open(service: HostileService): Promise<TargetSession> {
    const session = await AcmeSession.open(service, this.keys);
    return {
      send: (input) => session.send(input),
      checkRefusal: (_input, outcome) => checkAcmeRefusal(outcome),
      close: () => session.close(),
    };
  }
}

interface Directory {
  readonly newNonce: string;
  readonly newAccount: string;
  readonly newOrder: string;
}

/** One ACME client state against one service: the directory, an account for kid requests, the latest nonce. */
class AcmeSession {
  private nonce = '';

  private constructor(
    private readonly client: HttpsClient,
    private readonly directory: Directory,
    private readonly keys: Map<AccountKeyName, AccountKey>,
    private kid: string,
  ) {}

  static async open(service: HostileService, keys: Map<AccountKeyName, AccountKey>): Promise<AcmeSession> {
    // newAccount is limited per client address (300 at once): move on well before.
    const client = new HttpsClient(service.port, await service.bundlePem(), new SourceAddresses(), 250);
    const answer = await client.send({ method: 'GET', path: '/acme/directory' });
    if (answer.status !== 200) throw new Error(`GET /acme/directory answered ${String(answer.status)}`);
    const directory = JSON.parse(answer.body.toString()) as Directory;
    const session = new AcmeSession(client, directory, keys, '');
    const created = await session.send(
      Buffer.from(
        JSON.stringify({
          endpoint: 'newAccount',
          protected: '',
          payload: '{"termsOfServiceAgreed":true}',
          sign: { key: 'P-256' },
        } satisfies JwsInput),
      ),
    );
    const location = created.headers['location'];
    if (typeof location !== 'string')
      throw new Error(`newAccount answered ${String(created.status)} without a Location: ${created.body.toString()}`);
    session.kid = location;
    return session;
  }

  private async freshNonce(): Promise<string> {
    if (this.nonce !== '') {
      const nonce = this.nonce;
      this.nonce = '';
      return nonce;
    }
    const answer = await this.client.send({ method: 'HEAD', path: new URL(this.directory.newNonce).pathname });
    const nonce = answer.headers['replay-nonce'];
    return typeof nonce === 'string' ? nonce : '';
  }

  async send(raw: Buffer): Promise<Outcome> {
    let input: JwsInput;
    try {
      input = JSON.parse(raw.toString()) as JwsInput;
    } catch {
      return { status: 'error', headers: {}, body: Buffer.from('input is not a JwsInput') };
    }
    const url = input.endpoint === 'newOrder' ? this.directory.newOrder : this.directory.newAccount;
    const key = this.keys.get('sign' in input && 'key' in input.sign ? input.sign.key : 'P-256');
    const fill = (text: string): string =>
      text.replaceAll('{{nonce}}', nonceValue).replaceAll('{{url}}', url).replaceAll('{{kid}}', this.kid);
    const nonceValue = await this.freshNonce();
    // An empty protected text means: the plain valid header for this key (the account made at open).
    const protectedText =
      input.protected === '' && key !== undefined
        ? JSON.stringify({ alg: 'ES256', jwk: key.jwk, nonce: nonceValue, url })
        : fill(input.protected);
    const protectedB64 = Buffer.from(protectedText, 'latin1').toString('base64url');
    const payloadB64 = Buffer.from(fill(input.payload), 'latin1').toString('base64url');
    let signature: string;
    if ('bytes' in input.sign) signature = input.sign.bytes;
    else {
      const alg = ALG_OF[input.sign.key];
      const signer = this.keys.get(input.sign.key);
      if (signer === undefined) return { status: 'error', headers: {}, body: Buffer.from('unknown key') };
      const data = Buffer.from(`${protectedB64}.${payloadB64}`);
      const hash = alg === 'EdDSA' ? null : alg === 'ES384' ? 'sha384' : 'sha256';
      signature = sign(hash, data, { key: signer.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    }
    const body =
      input.body !== undefined
        ? input.body.replaceAll('{{protected}}', protectedB64).replaceAll('{{payload}}', payloadB64).replaceAll('{{signature}}', signature)
        : JSON.stringify({ protected: protectedB64, payload: payloadB64, signature });
    const outcome = await this.client.send({
      method: 'POST',
      path: new URL(url).pathname,
      headers: { 'content-type': input.contentType ?? 'application/jose+json' },
      body: Buffer.from(body, 'latin1'),
    });
    const next = outcome.headers['replay-nonce'];
    if (typeof next === 'string') this.nonce = next;
    return outcome;
  }

  close(): void {
    this.client.close();
  }
}

/** ACME answers errors as urn:ietf:params:acme:error problem documents; success is 200/201. */
export function checkAcmeRefusal(outcome: Outcome): string | undefined {
  const type = String(outcome.headers['content-type'] ?? '');
  if (outcome.status === 200 || outcome.status === 201) return undefined;
  if (typeof outcome.status === 'number' && outcome.status >= 400 && outcome.status < 500 && type.startsWith('application/problem+json')) {
    return /urn:ietf:params:acme:error:/.test(outcome.body.toString())
      ? undefined
      : `a problem document without an ACME error type: ${outcome.body.toString()}`;
  }
  return `expected an ACME problem document, got ${String(outcome.status)} ${type}`;
}
