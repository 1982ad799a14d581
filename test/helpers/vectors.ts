import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reads RFC 8448 trace text (test/vectors/rfc8448-*.txt) the way Go's
 * key_schedule_test.go reads its pasted vectors: find a step heading such as
 * `{server}  derive secret "tls13 s hs traffic":`, then a field inside that
 * step such as `PRK (32 octets):`, and strip the label and the whitespace.
 *
 * The declared octet count is checked against the bytes read, so a hex run
 * cut short (say at a page break) fails loudly instead of yielding a shorter
 * vector.
 */

export interface TraceField {
  /** The label without its size: `PRK`, `key expanded`, `complete record`. */
  readonly label: string;
  /** The `(N octets)` the RFC declares, when it declares one. */
  readonly declaredOctets: number | undefined;
  readonly bytes: Buffer;
}

export interface TraceStep {
  /** `{server}  derive secret "tls13 s hs traffic"`, wrapped lines joined, trailing colon dropped. */
  readonly heading: string;
  readonly fields: readonly TraceField[];
}

const STEP = /^ {3}(\{(?:client|server)\} {2}.*)$/;
const FIELD = /^ {6}(\S[^:]*):(?: {2}(.*))?$/;
const CONTINUATION = /^ {9}(\S.*)$/;
const TITLE_CONTINUATION = /^ {6}(\S.*)$/;
const SECTION = /^\d+\.\s{2}\S/;
/** Page furniture of the RFC text format, in case a page break is pasted too. */
const PAGE_FURNITURE = /^(RFC 8448 .*January 2019|Thomson .*\[Page \d+\])\s*$/;
const DECLARED = /^(.*\S) \((\d+) octets\)$/;

/** Collapses runs of spaces so `{server}  derive` and `{server} derive` compare equal. */
function normalize(text: string): string {
  return text.trim().replace(/\s+/g, ' ').replace(/:$/, '');
}

function decodeValue(label: string, value: string): Buffer {
  const trimmed = value.trim();
  if (trimmed === '(empty)' || trimmed === '0 (all zero octets)') return Buffer.alloc(0);
  const compact = trimmed.replace(/\s+/g, '');
  if (!/^(?:[0-9a-f]{2})*$/.test(compact)) throw new Error(`RFC 8448 field "${label}" is not hex: ${trimmed.slice(0, 40)}`);
  return Buffer.from(compact, 'hex');
}

interface PendingField {
  label: string;
  declaredOctets: number | undefined;
  value: string;
}

interface MutableStep {
  heading: string;
  fields: TraceField[];
}

/** Splits RFC 8448 trace text into its `{client}`/`{server}` steps. */
export function parseTrace(text: string): TraceStep[] {
  const steps: MutableStep[] = [];
  let step: MutableStep | undefined;
  let pending: PendingField | undefined;

  const flush = (): void => {
    if (pending === undefined) return;
    const { label, declaredOctets, value } = pending;
    pending = undefined;
    if (step === undefined) throw new Error(`RFC 8448 field "${label}" outside any step`);
    const bytes = decodeValue(label, value);
    if (declaredOctets !== undefined && declaredOctets !== bytes.length) {
      throw new Error(`RFC 8448 field "${label}" declares ${declaredOctets} octets but holds ${bytes.length}`);
    }
    step.fields.push({ label, declaredOctets, bytes });
  };

  for (const rawLine of text.replace(/\r\n/g, '\n').split('\n')) {
    const line = rawLine.replace(/\f/g, '');
    if (line.trim() === '' || PAGE_FURNITURE.test(line)) continue;

    const continuation = CONTINUATION.exec(line);
    if (continuation !== null && pending !== undefined) {
      pending.value += ' ' + (continuation[1] ?? '');
      continue;
    }
    flush();

    if (SECTION.test(line)) {
      step = undefined;
      continue;
    }
    const heading = STEP.exec(line);
    if (heading !== null) {
      step = { heading: normalize(heading[1] ?? ''), fields: [] };
      steps.push(step);
      continue;
    }
    const field = FIELD.exec(line);
    if (field !== null && step !== undefined) {
      const rawLabel = field[1] ?? '';
      const declared = DECLARED.exec(rawLabel);
      pending = {
        label: declared?.[1] ?? rawLabel,
        declaredOctets: declared?.[2] === undefined ? undefined : Number.parseInt(declared[2], 10),
        value: field[2] ?? '',
      };
      continue;
    }
    // A heading too long for one line continues at six spaces, without a colon.
    const titleContinuation = TITLE_CONTINUATION.exec(line);
    if (titleContinuation !== null && step !== undefined && step.fields.length === 0) {
      step.heading = normalize(`${step.heading} ${titleContinuation[1] ?? ''}`);
    }
    // Anything else is prose between steps.
  }
  flush();
  return steps;
}

/** One parsed RFC 8448 section, with look-ups that fail loudly. */
export class Rfc8448Trace {
  readonly steps: readonly TraceStep[];

  constructor(text: string) {
    this.steps = parseTrace(text);
  }

  /** Loads `test/vectors/<fileName>` relative to the repository root (process.cwd()). */
  static load(fileName: string): Rfc8448Trace {
    return new Rfc8448Trace(readFileSync(join(process.cwd(), 'test', 'vectors', fileName), 'latin1'));
  }

  /** Every step with this heading, in document order (`send handshake record` occurs several times). */
  stepsNamed(heading: string): TraceStep[] {
    const wanted = normalize(heading);
    return this.steps.filter((s) => s.heading === wanted);
  }

  step(heading: string, occurrence = 0): TraceStep {
    const found = this.stepsNamed(heading)[occurrence];
    if (found === undefined) throw new Error(`RFC 8448 trace has no step "${heading}" (occurrence ${occurrence})`);
    return found;
  }

  /**
   * The bytes of `label` in the `occurrence`-th step headed `heading`.
   * `label` may carry its size (`PRK (32 octets):`), which must then match.
   */
  bytes(heading: string, label: string, occurrence = 0): Buffer {
    const step = this.step(heading, occurrence);
    const wanted = label.trim().replace(/:$/, '');
    const declared = DECLARED.exec(wanted);
    const name = declared?.[1] ?? wanted;
    const size = declared?.[2] === undefined ? undefined : Number.parseInt(declared[2], 10);
    const field = step.fields.find((f) => f.label === name);
    if (field === undefined) throw new Error(`RFC 8448 step "${step.heading}" has no field "${name}"`);
    if (size !== undefined && field.declaredOctets !== size) {
      throw new Error(`RFC 8448 field "${name}" in "${step.heading}" is ${String(field.declaredOctets)} octets, not ${size}`);
    }
    return Buffer.from(field.bytes);
  }
}

/**
 * Finds `label` after the first step headed `heading` in raw RFC text: the
 * one-call form of `new Rfc8448Trace(text).bytes(heading, label)`.
 */
export function vectorBytes(text: string, heading: string, label: string, occurrence = 0): Buffer {
  return new Rfc8448Trace(text).bytes(heading, label, occurrence);
}
