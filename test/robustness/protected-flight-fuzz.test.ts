import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContentType } from '../../src/tls/codec/enums.js';
import { frame, handshakeMessages, onFlight, other, TlsPair, type Direction, type Side } from '../fakes/tls-pair.js';
import { Prng, seedFromEnv } from './flood-tools.js';

/**
 * Hostile content inside the protected handshake flights, which a socket
 * flood cannot reach: the pair opens the server's flight (EncryptedExtensions,
 * CertificateRequest, Certificate, CertificateVerify, Finished) or the
 * client's (Certificate, CertificateVerify, Finished), mutates one message,
 * and seals the record again under the right key. So the hostile bytes reach
 * the message decoders, the X.509 chain parser and the signature checks.
 * The seed is fixed unless KEYSMITH_SEED is set; replay with KEYSMITH_SEED=<seed>.
 */

const RUNS = 400;
const seed = seedFromEnv('protected-flight fuzz');
const prng = new Prng(seed);

function mutate(bytes: Buffer): Buffer {
  let out: Buffer = Buffer.from(bytes);
  for (let n = 1 + prng.int(3); n > 0; n--) {
    if (out.length === 0) {
      out = prng.bytes(1 + prng.int(8));
      continue;
    }
    const at = prng.int(out.length);
    switch (prng.int(5)) {
      case 0:
        out[at] = out[at]! ^ (1 + prng.int(255));
        break;
      case 1:
        out = out.subarray(0, at);
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), prng.bytes(1 + prng.int(8)), out.subarray(at)]);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + prng.int(8))]);
        break;
      default:
        out[at] = prng.pick([0, 0xff, 0x80, 0x7f, 1]);
    }
  }
  return out;
}

/** Alerts a receiver may send for a damaged handshake message (STYLE §4 table). */
const EXPECTED = new Set([
  'decode_error',
  'illegal_parameter',
  'unexpected_message',
  'decrypt_error',
  'bad_certificate',
  'unsupported_certificate',
  'unknown_ca',
  'certificate_expired',
  'certificate_unknown',
  'unsupported_extension',
  'missing_extension',
  'handshake_failure',
  'certificate_required',
]);

describe('Hostile protected handshake messages (resealed in flight)', () => {
  it(`answers ${RUNS} damaged flights with one expected alert, never internal_error, and never completes with a changed message`, (t) => {
    const outcomes = new Map<string, number>();
    const problems: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const direction: Direction = prng.int(2) === 0 ? 'client-to-server' : 'server-to-client';
      const receiver: Side = direction === 'client-to-server' ? 'server' : 'client';
      let changed: { type: number; before: string; after: string } | undefined;
      const pair = new TlsPair({
        seed: `fuzz-${seed}-${i}`,
        tamper: onFlight(direction, direction === 'client-to-server' ? 1 : 0, (_bytes, records) =>
          Buffer.concat(
            records.map((r) => {
              if (!r.isProtected || r.type !== ContentType.handshake || r.generation !== 0) return r.raw;
              const messages = handshakeMessages(r.content!);
              const index = prng.int(messages.length);
              const target = messages[index]!;
              const edited = messages.map((m, j) =>
                j !== index ? m.raw : prng.int(4) === 0 ? mutate(m.raw) : frame(m.type, mutate(m.body)),
              );
              const content = Buffer.concat(edited);
              if (!content.equals(r.content!))
                changed = { type: target.type, before: r.content!.toString('hex'), after: content.toString('hex') };
              return r.reseal(ContentType.handshake, content);
            }),
          ),
        ),
      });
      pair.pump();
      if (changed === undefined) continue;
      const error = pair.errors[receiver];
      const connection = pair.connection(receiver);
      const outcome = `${receiver} on message ${changed.type}: ${error?.alert ?? (connection.isConnected ? 'COMPLETED' : `waits in ${connection.stateName}`)}`;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      const replay = `run ${i} (KEYSMITH_SEED=${seed}): ${changed.before} -> ${changed.after}`;
      if (error === undefined) {
        // A message cut short leaves the receiver waiting for the rest; completing would be a bug.
        if (connection.isConnected) problems.push(`${outcome}; ${replay}`);
        continue;
      }
      if (!EXPECTED.has(error.alert)) problems.push(`${outcome} (${error.message}); ${replay}`);
      if (pair.alertsSent(receiver).length !== 1 || pair.alertsSent(other(receiver)).length !== 0) {
        problems.push(`alerts ${JSON.stringify(pair.alertsSent('client'))} / ${JSON.stringify(pair.alertsSent('server'))}; ${replay}`);
      }
    }
    t.diagnostic(`seed ${seed}: ${JSON.stringify(Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])))}`);
    assert.deepEqual(problems.slice(0, 3), []);
  });
});
