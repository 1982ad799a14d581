/**
 * The one PEM codec (RFC 7468): writing with 64-character lines, and
 * reading with bounds (text size, block count) and strict base64, so a
 * damaged block fails loudly instead of decoding to garbage (Buffer's
 * base64 decoder skips junk silently). Failures are PemError, a TypeError:
 * callers map it to their own kind (x509: DomainError 'malformed').
 */
import { asBuffer } from '../shared/bytes.js';

export class PemError extends TypeError {
  override readonly name = 'PemError';
}

export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

export interface PemLimits {
  /** Characters of PEM text read at most (default 16 MiB: a large trust bundle is well under 1 MiB). */
  readonly maxChars?: number;
  /** Blocks read at most (default 4096). */
  readonly maxBlocks?: number;
}

const DEFAULT_MAX_CHARS = 16 * 1024 * 1024;
const DEFAULT_MAX_BLOCKS = 4096;
/** RFC 7468 §2: labels are upper-case letters, digits and spaces; the body is everything up to END. */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
/** RFC 7468 §3 strict base64 (RFC 4648 §4), whitespace removed first. */
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/** DER to PEM with 64-character lines (RFC 7468 §2). */
export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

interface RawBlock {
  readonly label: string;
  readonly body: string;
}

/** Every block's label and body, in order; text between blocks is ignored (RFC 7468 §2 allows explanatory text). */
function scanBlocks(text: string, limits: PemLimits): RawBlock[] {
  const maxChars = limits.maxChars ?? DEFAULT_MAX_CHARS;
  const maxBlocks = limits.maxBlocks ?? DEFAULT_MAX_BLOCKS;
  if (text.length > maxChars) throw new PemError(`PEM text of ${text.length} characters exceeds the limit of ${maxChars}`);
  const blocks: RawBlock[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const [, begin = '', body = '', end = ''] = match;
    // RFC 7468 §2: the END label MUST match the BEGIN label.
    if (begin !== end) throw new PemError(`PEM block "BEGIN ${begin}" ends with "END ${end}"`);
    if (blocks.length >= maxBlocks) throw new PemError(`more than ${maxBlocks} PEM blocks`);
    blocks.push({ label: begin, body });
  }
  return blocks;
}

function decodeBody(block: RawBlock): Buffer {
  const compact = block.body.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64_BODY.test(compact)) {
    throw new PemError(`PEM block "${block.label}" is not valid base64`);
  }
  return Buffer.from(compact, 'base64');
}

/** Every PEM block in the text, in order. Throws PemError on a damaged block or past the limits. */
export function parsePemBlocks(text: string, limits: PemLimits = {}): PemBlock[] {
  return scanBlocks(text, limits).map((block) => ({ label: block.label, der: new Uint8Array(decodeBody(block)) }));
}

/** The DER of the single PEM block with this label. */
export function fromPem(text: string, label = 'CERTIFICATE'): Uint8Array {
  const blocks = parsePemBlocks(text);
  const [block] = blocks;
  if (blocks.length !== 1 || block === undefined) throw new PemError(`expected one PEM block, found ${blocks.length}`);
  if (block.label !== label) throw new PemError(`expected PEM label "${label}", found "${block.label}"`);
  return block.der;
}

/** The DER of each certificate in a PEM chain, leaf first as written; any other label is refused. */
export function splitPemChain(text: string): Uint8Array[] {
  const blocks = parsePemBlocks(text);
  if (blocks.length === 0) throw new PemError('no PEM certificate found');
  return blocks.map((block) => {
    if (block.label !== 'CERTIFICATE') throw new PemError(`unexpected PEM label "${block.label}" in a certificate chain`);
    return block.der;
  });
}

/**
 * DER of every CERTIFICATE block, in order, other blocks skipped (a key
 * beside its certificate is fine). Uint8Array inputs are PEM text, as in node:tls.
 */
export function parsePemCertificates(pem: string | Uint8Array | readonly (string | Uint8Array)[], limits: PemLimits = {}): Buffer[] {
  const inputs = typeof pem === 'string' || pem instanceof Uint8Array ? [pem] : pem;
  const out: Buffer[] = [];
  for (const input of inputs) {
    const text = typeof input === 'string' ? input : asBuffer(input).toString('latin1');
    for (const block of scanBlocks(text, limits)) if (block.label === 'CERTIFICATE') out.push(decodeBody(block));
  }
  if (out.length === 0) throw new PemError('no CERTIFICATE block found');
  return out;
}
