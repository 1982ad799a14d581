import { DomainError } from '../shared/errors.js';

/** RFC 7468 textual encoding. */

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END ([A-Z0-9 ]+)-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

/** DER to PEM with 64-character lines (RFC 7468 §2). */
export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every PEM block in the text, in order; text between blocks is ignored (RFC 7468 §2 allows explanatory text). */
export function parsePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const [, begin, body, end] = match;
    if (begin === undefined || body === undefined || end === undefined) continue;
    if (begin !== end) throw new DomainError('malformed', `PEM block "BEGIN ${begin}" ends with "END ${end}"`);
    const compact = body.replace(/\s+/g, '');
    if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64_BODY.test(compact)) {
      throw new DomainError('malformed', `PEM block "${begin}" is not valid base64`);
    }
    blocks.push({ label: begin, der: new Uint8Array(Buffer.from(compact, 'base64')) });
  }
  return blocks;
}

/** The DER of the single PEM block with this label. */
export function fromPem(text: string, label = 'CERTIFICATE'): Uint8Array {
  const blocks = parsePemBlocks(text);
  const [block] = blocks;
  if (blocks.length !== 1 || block === undefined) throw new DomainError('malformed', `expected one PEM block, found ${blocks.length}`);
  if (block.label !== label) throw new DomainError('malformed', `expected PEM label "${label}", found "${block.label}"`);
  return block.der;
}

/** The DER of each certificate in a PEM chain, leaf first as written; any other label is refused. */
export function splitPemChain(text: string): Uint8Array[] {
  const blocks = parsePemBlocks(text);
  if (blocks.length === 0) throw new DomainError('malformed', 'no PEM certificate found');
  return blocks.map((block) => {
    if (block.label !== 'CERTIFICATE') throw new DomainError('malformed', `unexpected PEM label "${block.label}" in a certificate chain`);
    return block.der;
  });
}
