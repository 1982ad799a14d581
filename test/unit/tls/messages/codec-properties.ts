import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TlsAlertError, type AlertName } from '../../../../src/tls/alert.js';
import { Rfc8448Trace } from '../../../helpers/vectors.js';

/**
 * The four codec properties of STYLE §5, after Go's
 * handshake_messages_test.go: random values round-trip, no strict prefix of
 * an encoding decodes, trailing bytes are refused, and hostile input only
 * ever ends in a TlsAlertError. A fifth, after rustls' message_test.rs: what
 * decodes re-encodes to the very same bytes (one encoding per value).
 */

/** fast-check runs per property: enough to find shallow bugs, small enough for the suite to stay quick. */
export const RUNS = 200;

export function buffer(minLength: number, maxLength: number): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a));
}

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });

export interface RawExtensionValue {
  readonly type: number;
  readonly data: Buffer;
}

/** An extensions block with distinct types (RFC 8446 §4.2 forbids repeats), optionally without some types. */
export function extensionBlock(
  options: { minLength?: number; maxLength?: number; without?: readonly number[] } = {},
): fc.Arbitrary<RawExtensionValue[]> {
  const without = new Set(options.without ?? []);
  return fc
    .uniqueArray(fc.record({ type: u16.filter((t) => !without.has(t)), data: buffer(0, 24) }), {
      selector: (e) => e.type,
      minLength: options.minLength ?? 0,
      maxLength: options.maxLength ?? 5,
    })
    .map((list) => list.map((e) => ({ type: e.type, data: e.data })));
}

/** Asserts `fn` throws a TlsAlertError carrying `alert`. */
export function assertAlert(fn: () => unknown, alert: AlertName, message?: string): void {
  assert.throws(
    fn,
    (err: unknown) => {
      assert.ok(err instanceof TlsAlertError, `expected a TlsAlertError, got ${String(err)}`);
      assert.equal(err.alert, alert, message ?? err.message);
      return true;
    },
    message,
  );
}

export interface CodecCase<T> {
  readonly arbitrary: fc.Arbitrary<T>;
  encode(value: T): Buffer;
  decode(bytes: Buffer): T;
  /** Alerts hostile input may raise; decode_error and illegal_parameter unless the codec says more. */
  readonly hostileAlerts?: readonly AlertName[];
  /**
   * Prefix lengths that are themselves a complete encoding by design (a
   * ClientHello without extensions); everything shorter must fail.
   */
  decodablePrefixes?(value: T, encoded: Buffer): readonly number[];
  /** Whether a decodable input may re-encode differently (only the designed exceptions). */
  isNonCanonical?(bytes: Buffer, decoded: T): boolean;
}

const DEFAULT_HOSTILE: readonly AlertName[] = ['decode_error', 'illegal_parameter'];

export function checkRoundTrip<T>(c: CodecCase<T>): void {
  fc.assert(
    fc.property(c.arbitrary, (value) => {
      const encoded = c.encode(value);
      const decoded = c.decode(encoded);
      assert.deepStrictEqual(decoded, value);
      assert.ok(c.encode(decoded).equals(encoded), 're-encoding differs');
    }),
    { numRuns: RUNS },
  );
}

export function checkNoStrictPrefix<T>(c: CodecCase<T>): void {
  fc.assert(
    fc.property(c.arbitrary, (value) => {
      const encoded = c.encode(value);
      const allowed = new Set(c.decodablePrefixes?.(value, encoded) ?? []);
      for (let j = 0; j < encoded.length; j++) {
        if (allowed.has(j)) continue;
        assertAlert(
          () => c.decode(encoded.subarray(0, j)),
          'decode_error',
          `prefix of ${j} of ${encoded.length} bytes: ${encoded.toString('hex')}`,
        );
      }
    }),
    { numRuns: RUNS / 2 },
  );
}

export function checkTrailingRejected<T>(c: CodecCase<T>): void {
  fc.assert(
    fc.property(c.arbitrary, buffer(1, 8), (value, extra) => {
      const encoded = Buffer.concat([c.encode(value), extra]);
      assertAlert(() => c.decode(encoded), 'decode_error', `with ${extra.length} trailing bytes: ${encoded.toString('hex')}`);
    }),
    { numRuns: RUNS },
  );
}

function checkHostile<T>(c: CodecCase<T>, bytes: Buffer): void {
  const allowed = c.hostileAlerts ?? DEFAULT_HOSTILE;
  let decoded: T;
  try {
    decoded = c.decode(bytes);
  } catch (err) {
    if (!(err instanceof TlsAlertError)) assert.fail(`input ${bytes.toString('hex')} threw ${String(err)}, not a TlsAlertError`);
    assert.ok(allowed.includes(err.alert), `input ${bytes.toString('hex')} gave ${err.alert} (${err.message})`);
    return;
  }
  // Accepted input has one encoding: decoding then encoding gives the input back.
  if (c.isNonCanonical?.(bytes, decoded) === true) return;
  assert.ok(
    c.encode(decoded).equals(bytes),
    `input ${bytes.toString('hex')} decoded but re-encodes as ${c.encode(decoded).toString('hex')}`,
  );
}

export function checkRandomInput<T>(c: CodecCase<T>): void {
  fc.assert(
    fc.property(buffer(0, 300), (bytes) => checkHostile(c, bytes)),
    { numRuns: RUNS * 2 },
  );
}

/** A few byte-level edits: flip, overwrite, insert, delete, truncate. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: u8 }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: u8 }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

export function mutate(bytes: Buffer, edits: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of edits) {
    if (out.length === 0 && m.kind !== 'insert') continue;
    const at = m.at % Math.max(1, out.length);
    switch (m.kind) {
      case 'flip':
        out[at] = out[at]! ^ m.mask;
        break;
      case 'set':
        out[at] = m.value;
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), Buffer.of(m.value), out.subarray(at)]);
        break;
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
    }
  }
  return out;
}

export const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

/** Valid encodings with a few edits: reaches deeper than uniform random bytes. */
export function checkMutatedInput<T>(c: CodecCase<T>): void {
  fc.assert(
    fc.property(c.arbitrary, mutations, (value, edits) => checkHostile(c, mutate(c.encode(value), edits))),
    { numRuns: RUNS * 2 },
  );
}

/** RFC 8448 traces, loaded once per test process. */
export const simple1rtt = Rfc8448Trace.load('rfc8448-simple-1rtt.txt');
export const resumed0rtt = Rfc8448Trace.load('rfc8448-resumed-0rtt.txt');

/** A handshake message from an RFC 8448 trace, split into its 4-byte header and body. */
export function traceMessage(
  trace: Rfc8448Trace,
  heading: string,
  label: string,
  occurrence = 0,
): { type: number; body: Buffer; raw: Buffer } {
  const raw = trace.bytes(heading, label, occurrence);
  const length = (raw[1]! << 16) | raw.readUInt16BE(2);
  assert.equal(raw.length, 4 + length, `${label}: handshake length`);
  return { type: raw[0]!, body: raw.subarray(4), raw };
}
