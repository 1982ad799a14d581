/**
 * The shape checks of an ACME request body (RFC 8555 §6.2, RFC 7515 §7.2.2),
 * written out by hand: every POST passes them, and a zod parse of the body
 * and of its protected header cost ~15 µs a request (bench/acme) for what
 * a few typeof checks say. The rules are those the zod schemas held: the
 * flattened JWS has protected, payload and signature only, each whole
 * unpadded base64url; the header is an object with alg and url, and nonce,
 * jwk, kid and crit when present. Unknown header members are ignored.
 */
import { AcmeProblemError } from './problems.js';

export interface FlattenedJws {
  readonly protected: string;
  readonly payload: string;
  readonly signature: string;
}

export interface ProtectedHeader {
  readonly alg: string;
  readonly nonce?: string;
  readonly url: string;
  readonly jwk?: Record<string, unknown>;
  readonly kid?: string;
  /** Kept only to be refused (verifySignature). */
  readonly crit?: unknown;
}

/** RFC 7515 §2: unpadded base64url; a length of 4n+1 is no encoding of any bytes (Buffer would quietly drop the last character). */
const WHOLE_BASE64URL = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$/;
const JWS_MEMBERS: ReadonlySet<string> = new Set(['protected', 'payload', 'signature']);

const JWS_DETAIL = 'the body is not a flattened JWS (RFC 7515 §7.2.2) with protected, payload and signature only';
const HEADER_DETAIL = 'the JWS protected header is not JSON with alg and url';

function refuse(detail: string, where: string): never {
  throw new AcmeProblemError('malformed', `${detail}: ${where}`);
}

function parseObject(text: string, detail: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AcmeProblemError('malformed', `${detail}: not JSON`);
  }
  if (!isRecord(value)) refuse(detail, '(root) must be an object');
  return value;
}

/** A JSON object (JSON.parse gives plain objects only, so its members are its own enumerable keys). */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function base64urlMember(record: Record<string, unknown>, name: string, minLength: number): string {
  const value = record[name];
  if (typeof value !== 'string') refuse(JWS_DETAIL, `${name} must be a string`);
  if (value.length < minLength) refuse(JWS_DETAIL, `${name} must not be empty`);
  if (!WHOLE_BASE64URL.test(value)) refuse(JWS_DETAIL, `${name} must be base64url without padding`);
  return value;
}

/** RFC 8555 §6.2: the JWS Unprotected Header MUST NOT be used, so only these three members. */
export function parseFlattenedJws(text: string): FlattenedJws {
  const record = parseObject(text, JWS_DETAIL);
  for (const name in record) if (!JWS_MEMBERS.has(name)) refuse(JWS_DETAIL, `(root) has an unknown member "${name.slice(0, 32)}"`);
  return {
    protected: base64urlMember(record, 'protected', 1),
    payload: base64urlMember(record, 'payload', 0),
    signature: base64urlMember(record, 'signature', 1),
  };
}

function optionalString(record: Record<string, unknown>, name: string, minLength: number, maxLength: number): string | undefined {
  const value = record[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') refuse(HEADER_DETAIL, `${name} must be a string`);
  if (value.length < minLength || value.length > maxLength) refuse(HEADER_DETAIL, `${name} must be ${minLength}-${maxLength} characters`);
  return value;
}

function requiredString(record: Record<string, unknown>, name: string, maxLength: number): string {
  const value = optionalString(record, name, 1, maxLength);
  if (value === undefined) refuse(HEADER_DETAIL, `${name} is required`);
  return value;
}

/** The protected header's members ACME reads; their types and lengths checked. */
export function parseProtectedHeader(text: string): ProtectedHeader {
  const record = parseObject(text, HEADER_DETAIL);
  const alg = requiredString(record, 'alg', 32);
  const url = requiredString(record, 'url', 2048);
  const nonce = optionalString(record, 'nonce', 0, 256);
  const kid = optionalString(record, 'kid', 1, 2048);
  const jwk = record['jwk'];
  if (jwk !== undefined && !isRecord(jwk)) refuse(HEADER_DETAIL, 'jwk must be an object');
  const crit = record['crit'];
  return {
    alg,
    url,
    ...(nonce === undefined ? {} : { nonce }),
    ...(kid === undefined ? {} : { kid }),
    ...(jwk === undefined ? {} : { jwk }),
    ...(crit === undefined ? {} : { crit }),
  };
}
