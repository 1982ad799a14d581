/**
 * PEM for x509's callers: pkix's one codec (RFC 7468), with its refusals
 * as DomainError('malformed') so a bad upload is a 400, never a 500.
 */
import * as pkix from '../pkix/index.js';
import { DomainError } from '../shared/errors.js';

export { toPem, type PemBlock } from '../pkix/index.js';

function malformed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (cause) {
    if (cause instanceof pkix.PemError) throw new DomainError('malformed', cause.message, { cause });
    throw cause;
  }
}

/** Every PEM block in the text, in order; text between blocks is ignored (RFC 7468 §2 allows explanatory text). */
export function parsePemBlocks(text: string): pkix.PemBlock[] {
  return malformed(() => pkix.parsePemBlocks(text));
}

/** The DER of the single PEM block with this label. */
export function fromPem(text: string, label = 'CERTIFICATE'): Uint8Array {
  return malformed(() => pkix.fromPem(text, label));
}

/** The DER of each certificate in a PEM chain, leaf first as written; any other label is refused. */
export function splitPemChain(text: string): Uint8Array[] {
  return malformed(() => pkix.splitPemChain(text));
}
