/**
 * RFC 8555 §6.2 request authentication, as small checks (Boulder's
 * wfe2/verify.go): decode the flattened JWS, check its protected header,
 * turn a JWK into a key that fits the algorithm, verify the signature with
 * one synchronous node:crypto call (RFC 7515 §5.2; the algorithms of RFC 7518
 * §3 and RFC 8037 §3.1). jose's verify turned every KeyObject back into a JWK
 * and a WebCrypto key and ran the check as a thread-pool job: about half of
 * a request's authentication cost (bench/acme).
 */
import { createHash, createPublicKey, verify as verifyWithKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { z } from 'zod';
import { checkJwkPolicy, type PolicyKey } from '../x509/index.js';
import { parseFlattenedJws, parseProtectedHeader, type FlattenedJws, type ProtectedHeader } from './jws-shape.js';
import { AcmeProblemError } from './problems.js';

export type { FlattenedJws, ProtectedHeader } from './jws-shape.js';

/** RFC 8555 §6.2 requires ES256 and RS256 (RFC 7518); EdDSA (RFC 8037) and ES384 are what modern clients add. */
export const SUPPORTED_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'EdDSA'] as const;
export type JwsAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];

/** Bodies are a few KiB at most (a key-change holds two JWKs, finalize one CSR). */
export const MAX_JWS_BYTES = 64 * 1024;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

export interface DecodedJws {
  readonly jws: FlattenedJws;
  readonly header: ProtectedHeader;
  readonly alg: JwsAlgorithm;
}

/** Content type, size, JSON and schema (malformed), then the algorithm (badSignatureAlgorithm). */
export function decodeJwsBody(contentType: string | undefined, body: Buffer | undefined): DecodedJws {
  // RFC 8555 §6.2: requests carry Content-Type application/jose+json.
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/jose+json') {
    throw new AcmeProblemError('malformed', 'Content-Type must be application/jose+json', { status: 415 });
  }
  if (body === undefined || body.length === 0) throw new AcmeProblemError('malformed', 'the request has no body');
  if (body.length > MAX_JWS_BYTES)
    throw new AcmeProblemError('malformed', `the request body exceeds ${MAX_JWS_BYTES} bytes`, { status: 413 });
  const jws = parseFlattenedJws(body.toString('utf8'));
  const header = parseProtectedHeader(Buffer.from(jws.protected, 'base64url').toString('utf8'));
  return { jws, header, alg: checkAlgorithm(header.alg) };
}

export function checkAlgorithm(alg: string): JwsAlgorithm {
  const found = SUPPORTED_ALGORITHMS.find((known) => known === alg);
  if (found === undefined) {
    throw new AcmeProblemError('badSignatureAlgorithm', `JWS algorithm '${alg.slice(0, 32)}' is not supported`, {
      extra: { algorithms: [...SUPPORTED_ALGORITHMS] },
    });
  }
  return found;
}

/** An account key as stored: only the RFC 7638 required members, so the thumbprint and the stored JWK agree. */
export interface AccountKey {
  readonly jwk: JsonWebKey;
  readonly thumbprint: string;
  readonly key: KeyObject;
  /** The one JWS algorithm this key signs with (its type and curve decide). */
  readonly alg: JwsAlgorithm;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function member(raw: Readonly<Record<string, unknown>>, name: string): string {
  const value = raw[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048 || !BASE64URL.test(value)) {
    throw new AcmeProblemError('malformed', `JWK member '${name}' must be a base64url string`);
  }
  return value;
}

/** A public JWK reduced to its required members; private or unknown key types are malformed. */
export function canonicalJwk(raw: Readonly<Record<string, unknown>>): JsonWebKey {
  if (PRIVATE_MEMBERS.some((name) => name in raw)) throw new AcmeProblemError('malformed', 'the JWK holds private key material');
  switch (raw['kty']) {
    case 'EC':
      return { kty: 'EC', crv: typeof raw['crv'] === 'string' ? raw['crv'] : '', x: member(raw, 'x'), y: member(raw, 'y') };
    case 'RSA':
      return { kty: 'RSA', e: member(raw, 'e'), n: member(raw, 'n') };
    case 'OKP':
      return { kty: 'OKP', crv: typeof raw['crv'] === 'string' ? raw['crv'] : '', x: member(raw, 'x') };
    default:
      throw new AcmeProblemError('badPublicKey', 'JWK kty must be EC, RSA or OKP');
  }
}

/**
 * Checks a public JWK against the key policy (src/x509 key-policy.ts: the
 * EC point validated, RSA per CA/Browser Forum BR §6.1.5-6.1.6) in our own
 * code before node:crypto imports it, then checks it fits `alg`. A refused
 * key is badPublicKey (RFC 8555 §6.7) naming the rule broken.
 */
export async function importAccountKey(raw: Readonly<Record<string, unknown>>, alg: JwsAlgorithm | undefined): Promise<AccountKey> {
  const jwk = canonicalJwk(raw);
  const verdict = checkJwkPolicy(jwk);
  if (!verdict.ok) throw new AcmeProblemError('badPublicKey', verdict.problem);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk, format: 'jwk' });
  } catch (cause) {
    throw new AcmeProblemError('badPublicKey', 'the JWK is not a usable public key', { cause });
  }
  const family = keyFamily(verdict.key);
  const imported: AccountKey = { jwk, thumbprint: jwkThumbprint(jwk), key, alg: family };
  if (alg !== undefined) requireAlgorithmFits(imported, alg);
  return imported;
}

/** The JWS algorithm must be the key's own (RFC 7518 §3.1: ES256 is P-256, ES384 P-384, ...). */
export function requireAlgorithmFits(key: AccountKey, alg: JwsAlgorithm): void {
  if (key.alg !== alg) throw new AcmeProblemError('malformed', `JWS algorithm ${alg} does not fit the key (${key.alg} key)`);
}

/**
 * RFC 7638 §3: SHA-256 over the required members (canonicalJwk keeps only
 * those) in lexicographic order, no whitespace, each value as JSON.stringify
 * writes it (as jose's calculateJwkThumbprint did).
 */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members = Object.keys(jwk)
    .sort()
    .map((name) => `${JSON.stringify(name)}:${JSON.stringify(jwk[name as keyof JsonWebKey])}`);
  return createHash('sha256')
    .update(`{${members.join(',')}}`)
    .digest('base64url');
}

/** The one algorithm each accepted key type signs with (from the checked key: KeyObject details are never read). */
function keyFamily(key: PolicyKey): JwsAlgorithm {
  switch (key.kind) {
    case 'ec':
      return key.curve === 'P-256' ? 'ES256' : 'ES384';
    case 'rsa':
      return 'RS256';
    case 'ed25519':
      return 'EdDSA';
    default: {
      const never: never = key;
      return never;
    }
  }
}

/** The signature scheme behind each JWS algorithm, and its exact signature length where it has one. */
const SCHEMES: Readonly<Record<JwsAlgorithm, { readonly hash: string | null; readonly signatureBytes?: number; readonly ecdsa: boolean }>> =
  {
    // RFC 7518 §3.4: ECDSA signatures are R || S, each the curve's size: 64 bytes for P-256, 96 for P-384.
    ES256: { hash: 'sha256', signatureBytes: 64, ecdsa: true },
    ES384: { hash: 'sha384', signatureBytes: 96, ecdsa: true },
    // RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256 (node:crypto's default padding for an RSA key).
    RS256: { hash: 'sha256', ecdsa: false },
    // RFC 8037 §3.1: Ed25519 signs the message itself; the signature is 64 bytes.
    EdDSA: { hash: null, signatureBytes: 64, ecdsa: false },
  };

/**
 * Verifies the signature over `protected || '.' || payload` (RFC 7515 §5.2)
 * with the key, for the header's algorithm (the caller has checked the key
 * fits it). A signature that does not verify is malformed (Boulder's "JWS
 * verification error"). Returns the decoded payload.
 */
export function verifySignature(decoded: DecodedJws, key: KeyObject): Uint8Array {
  // RFC 7515 §4.1.11: a recipient MUST reject a JWS whose crit names extensions it does not understand; we understand none.
  if (decoded.header.crit !== undefined)
    throw new AcmeProblemError('malformed', 'the JWS protected header may not carry crit: no JWS extension is understood here');
  if (!signatureVerifies(decoded, key)) throw signatureRefused();
  return new Uint8Array(Buffer.from(decoded.jws.payload, 'base64url'));
}

/** The problem for a signature that does not verify. */
export function signatureRefused(): AcmeProblemError {
  return new AcmeProblemError('malformed', 'JWS verification error: the signature does not verify');
}

/** Whether the signature verifies under the key (no other check: verifySignature is the whole one). */
export function signatureVerifies(decoded: DecodedJws, key: KeyObject): boolean {
  const scheme = SCHEMES[decoded.alg];
  const signature = Buffer.from(decoded.jws.signature, 'base64url');
  if (scheme.signatureBytes !== undefined && signature.length !== scheme.signatureBytes) return false;
  const signingInput = Buffer.from(`${decoded.jws.protected}.${decoded.jws.payload}`, 'ascii');
  try {
    return verifyWithKey(scheme.hash, signingInput, scheme.ecdsa ? { key, dsaEncoding: 'ieee-p1363' } : key, signature);
  } catch {
    return false;
  }
}

/** A JSON payload checked against a schema; POST-as-GET ("") is refused here. */
export function parsePayload<T>(payload: Uint8Array, schema: z.ZodType<T>): T {
  return parseJson(Buffer.from(payload).toString('utf8'), schema, 'the JWS payload does not match what this resource accepts');
}

export function parseJson<T>(text: string, schema: z.ZodType<T>, detail: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AcmeProblemError('malformed', `${detail}: not JSON`);
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue === undefined ? '' : `: ${issue.path.join('.') || '(root)'} ${issue.message}`;
    throw new AcmeProblemError('malformed', `${detail}${where}`);
  }
  return result.data;
}
