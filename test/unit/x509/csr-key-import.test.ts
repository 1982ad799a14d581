import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sign, verify, type KeyObject } from 'node:crypto';
import { isDomainError } from '../../../src/shared/errors.js';
import { checkSpkiPolicy, checkSubjectPublicKey, parseCsr, type PolicyKey } from '../../../src/x509/index.js';
import { contextTag, encodeOid, Tag, tlv } from '../../../src/pkix/index.js';
import { importSubjectKey } from '../../../src/x509/subject-key.js';
import { importEcPoint, importPolicyKey, KeyImportError } from '../../../src/x509/subject-key-import.js';
import { keyPair, type KeyKind } from '../ca/helpers.js';

/*
 * The CSR check's key import (subject-key-import.ts): each accepted key type
 * imports to the key it was, EC points by their raw encoding; what node:crypto
 * must refuse (a point off the curve) is refused with a clear error and the
 * process goes on; and CSRs carrying truncated, over-long, mistagged or
 * off-curve keys get their exact refusal from parseCsr.
 */

const SIGNATURE: Readonly<Record<string, { readonly oid: string; readonly digest: 'sha256' | 'sha384' | null }>> = {
  p256: { oid: '1.2.840.10045.4.3.2', digest: 'sha256' },
  p384: { oid: '1.2.840.10045.4.3.3', digest: 'sha384' },
  ed25519: { oid: '1.3.101.112', digest: null },
  rsa2048: { oid: '1.2.840.113549.1.1.11', digest: 'sha256' },
};

function policyKeyOf(spki: Uint8Array): PolicyKey {
  const verdict = checkSpkiPolicy(spki);
  assert.ok(verdict.ok, verdict.ok ? '' : verdict.problem);
  return verdict.key;
}

/** A PKCS#10 request (RFC 2986 §4) for this SPKI, signed by `privateKey`, in our own DER. */
function csrDer(kind: string, spki: Uint8Array, privateKey: KeyObject): Uint8Array {
  const algorithm = SIGNATURE[kind];
  assert.ok(algorithm !== undefined);
  const info = tlv(Tag.sequence, tlv(Tag.integer, Uint8Array.of(0)), tlv(Tag.sequence), spki, tlv(contextTag(0, true)));
  const signature = sign(algorithm.digest, info, kind === 'p256' || kind === 'p384' ? { key: privateKey, dsaEncoding: 'der' } : privateKey);
  const signatureAlgorithm =
    kind === 'rsa2048' ? tlv(Tag.sequence, encodeOid(algorithm.oid), tlv(Tag.null)) : tlv(Tag.sequence, encodeOid(algorithm.oid));
  return tlv(Tag.sequence, info, signatureAlgorithm, tlv(Tag.bitString, Uint8Array.of(0), signature));
}

/** A P-256 SPKI with the given subjectPublicKey BIT STRING contents (after the unused-bits octet). */
function p256Spki(point: Uint8Array, bitStringTag: number = Tag.bitString): Uint8Array {
  const algorithm = tlv(Tag.sequence, encodeOid('1.2.840.10045.2.1'), encodeOid('1.2.840.10045.3.1.7'));
  return tlv(Tag.sequence, algorithm, tlv(bitStringTag, Uint8Array.of(0), point));
}

function offCurve(point: Uint8Array): Uint8Array {
  const out = Uint8Array.from(point);
  out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 1;
  return out;
}

async function rejectsWith(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof KeyImportError, String(err));
    assert.equal(err.message, message);
    return true;
  });
}

describe('importPolicyKey', () => {
  for (const kind of ['p256', 'p384', 'ed25519', 'rsa2048'] as const satisfies readonly KeyKind[]) {
    it(`imports a ${kind} key to the same key: same SPKI, and it verifies the key's signature`, async () => {
      const { spki, privateKey } = keyPair(kind);
      const imported = await importPolicyKey(policyKeyOf(spki));
      assert.deepEqual(new Uint8Array(imported.export({ type: 'spki', format: 'der' })), spki);
      const data = Buffer.from(`signed by ${kind}`);
      const digest = SIGNATURE[kind]?.digest ?? null;
      assert.equal(verify(digest, data, imported, sign(digest, data, privateKey)), true);
      assert.equal(verify(digest, Buffer.from('something else'), imported, sign(digest, data, privateKey)), false);
    });
  }

  it('refuses an off-curve point the policy never saw, on each EC path, with a clear error and no abort', async () => {
    for (const [kind, message, causeName] of [
      ['p256', 'node:crypto refused the P-256 public key', 'TypeError'],
      ['p384', 'P-384 point is not on the curve: node:crypto refused it', 'DataError'],
    ] as const) {
      const key = policyKeyOf(keyPair(kind).spki);
      assert.equal(key.kind, 'ec');
      if (key.kind !== 'ec') return;
      await assert.rejects(
        async () => importPolicyKey({ ...key, y: offCurve(key.y) }),
        (err: unknown) => {
          assert.ok(err instanceof KeyImportError, String(err));
          assert.equal(err.message, message);
          assert.equal((err.cause as { name?: unknown } | undefined)?.name, causeName);
          return true;
        },
      );
      // The process goes on, and the good key still imports.
      assert.equal((await importPolicyKey(key)).asymmetricKeyType, 'ec');
    }
  });
});

describe('importEcPoint', () => {
  const p256Point = (): Uint8Array => keyPair('p256').spki.subarray(-65);
  const p384Point = (): Uint8Array => keyPair('p384').spki.subarray(-97);

  it('refuses truncated, over-long and non-uncompressed encodings before node:crypto sees them', async () => {
    const point = p256Point();
    await rejectsWith(
      importEcPoint('P-256', point.subarray(0, 64)),
      'P-256 point is 64 octets, not the 65 of an uncompressed point (SEC 1 §2.3.3)',
    );
    await rejectsWith(
      importEcPoint('P-256', Uint8Array.from([...point, 0])),
      'P-256 point is 66 octets, not the 65 of an uncompressed point (SEC 1 §2.3.3)',
    );
    await rejectsWith(importEcPoint('P-384', point), 'P-384 point is 65 octets, not the 97 of an uncompressed point (SEC 1 §2.3.3)');
    // The point at infinity (SEC 1 §2.3.4), which would abort Node when read: refused by its length.
    await rejectsWith(
      importEcPoint('P-256', Uint8Array.of(0)),
      'P-256 point is 1 octets, not the 65 of an uncompressed point (SEC 1 §2.3.3)',
    );
    for (const first of [0x00, 0x02, 0x03, 0x06]) {
      const wrong = Uint8Array.from(point);
      wrong[0] = first;
      await rejectsWith(importEcPoint('P-256', wrong), 'P-256 point does not start with 04, the uncompressed form (SEC 1 §2.3.3)');
    }
  });

  it('leaves the on-curve check to node:crypto, which refuses an off-curve point with a clear error; the process goes on', async () => {
    for (const [curve, point] of [
      ['P-256', p256Point()],
      ['P-384', p384Point()],
    ] as const) {
      await assert.rejects(importEcPoint(curve, offCurve(point)), (err: unknown) => {
        assert.ok(err instanceof KeyImportError, String(err));
        assert.equal(err.message, `${curve} point is not on the curve: node:crypto refused it`);
        assert.equal((err.cause as { name?: unknown } | undefined)?.name, 'DataError');
        return true;
      });
      // x = y = p - 1 is no point either (and the coordinates are in range); x = p is out of range.
      const size = (point.byteLength - 1) / 2;
      await rejectsWith(
        importEcPoint(curve, Uint8Array.from([4, ...new Uint8Array(2 * size).fill(0xff)])),
        `${curve} point is not on the curve: node:crypto refused it`,
      );
      // Still alive and still importing.
      const good = await importEcPoint(curve, point);
      assert.equal(good.asymmetricKeyType, 'ec');
      assert.equal(good.asymmetricKeyDetails?.namedCurve, curve === 'P-256' ? 'prime256v1' : 'secp384r1');
    }
  });

  it('reaches the CSR check as badCSR if node:crypto refuses a key the policy let through', async () => {
    const checked = checkSubjectPublicKey(keyPair('p256').spki);
    const key = checked.policyKey;
    assert.equal(key.kind, 'ec');
    if (key.kind !== 'ec') return;
    const forged = { ...checked, policyKey: { ...key, y: offCurve(key.y) } };
    await assert.rejects(
      async () => importSubjectKey(forged),
      (err: unknown) => {
        assert.ok(isDomainError(err, 'badCSR'), String(err));
        assert.equal(err.detail, 'public key is not a valid SubjectPublicKeyInfo');
        assert.ok(err.cause instanceof KeyImportError);
        return true;
      },
    );
  });
});

describe('parseCsr with keys built by hand', () => {
  async function refusal(der: Uint8Array): Promise<{ kind: string; detail: string }> {
    try {
      await parseCsr(der);
    } catch (err) {
      assert.ok(isDomainError(err), String(err));
      return { kind: err.kind, detail: err.detail };
    }
    throw new Error('parseCsr accepted the request');
  }

  it('accepts each key type signed with its own key, and verifies the signature over the exact info', async () => {
    for (const kind of ['p256', 'p384', 'ed25519', 'rsa2048'] as const) {
      const { spki, privateKey } = keyPair(kind);
      const parsed = await parseCsr(csrDer(kind, spki, privateKey));
      assert.deepEqual(parsed.publicKey, spki, kind);
      // Signed by another key of the same type: the one verify says no.
      const other = keyPair(kind).privateKey;
      assert.deepEqual(
        await refusal(csrDer(kind, spki, other)),
        { kind: 'badCSR', detail: 'CSR signature does not verify with its public key' },
        kind,
      );
    }
  });

  it('refuses truncated, over-long, mistagged and off-curve subject keys, each with its rule', async () => {
    const { spki, privateKey } = keyPair('p256');
    const point = spki.subarray(-65);
    const cases: readonly [string, Uint8Array, { kind: string; detail: string }][] = [
      [
        'off the curve',
        p256Spki(offCurve(point)),
        { kind: 'badCSR', detail: 'P-256 public key point is not on the curve (SP 800-56A Rev. 3 §5.6.2.3.3 step 3)' },
      ],
      [
        'truncated point',
        p256Spki(point.subarray(0, 64)),
        { kind: 'badCSR', detail: 'P-256 public key point is 64 octets, not the 65 of an uncompressed point (SEC 1 §2.3.3)' },
      ],
      [
        'over-long point',
        p256Spki(Uint8Array.from([...point, 0])),
        { kind: 'badCSR', detail: 'P-256 public key point is 66 octets, not the 65 of an uncompressed point (SEC 1 §2.3.3)' },
      ],
      [
        'point at infinity',
        p256Spki(Uint8Array.of(0)),
        { kind: 'badCSR', detail: 'P-256 public key is the point at infinity (SP 800-56A Rev. 3 §5.6.2.3.3 step 1)' },
      ],
      [
        'OCTET STRING for BIT STRING',
        p256Spki(point, Tag.octetString),
        { kind: 'badCSR', detail: 'public key is not a DER SubjectPublicKeyInfo (RFC 5280 §4.1): expected tag 0x3, found 0x4' },
      ],
    ];
    for (const [name, badSpki, expected] of cases) {
      assert.deepEqual(await refusal(csrDer('p256', badSpki, privateKey)), expected, name);
    }
    // Lengths that run past their element or the request: the DER reader refuses them before anything is read.
    const good = csrDer('p256', spki, privateKey);
    const malformed = { kind: 'malformed', detail: 'CSR is not a DER PKCS#10 CertificationRequest' };
    assert.deepEqual(await refusal(good.subarray(0, good.byteLength - 1)), malformed, 'truncated request');
    const longer = Uint8Array.from(good);
    longer[1] = (longer[1] ?? 0) + 1;
    assert.deepEqual(await refusal(longer), malformed, 'outer length one past the end');
    const wrongTag = Uint8Array.from(good);
    wrongTag[0] = Tag.set;
    assert.deepEqual(await refusal(wrongTag), malformed, 'SET for SEQUENCE');
  });
});
