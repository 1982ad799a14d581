import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDiffieHellman, createECDH, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { NamedGroup } from '../../../../src/tls/codec/enums.js';
import { checkEcPoint, curveByName, type CurveParameters } from '../../../../src/shared/ec-point.js';
import { checkFfdheShare, FFDHE_GROUPS, FfdheExchange } from '../../../../src/tls/crypto/ffdhe.js';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import { DEFAULT_CLIENT_GROUPS, DEFAULT_SERVER_GROUPS } from '../../../../src/tls/crypto/provider.js';
import { assertAlert, RUNS } from '../messages/codec-properties.js';

function curveNamed(name: 'P-256' | 'P-384' | 'P-521'): CurveParameters {
  const curve = curveByName(name);
  assert.ok(curve !== undefined, name);
  return curve;
}

const EC_CASES = [
  { group: NamedGroup.secp256r1, curve: curveNamed('P-256'), openssl: 'prime256v1' },
  { group: NamedGroup.secp384r1, curve: curveNamed('P-384'), openssl: 'secp384r1' },
  { group: NamedGroup.secp521r1, curve: curveNamed('P-521'), openssl: 'secp521r1' },
] as const;

function hex(value: bigint, length: number): Buffer {
  return Buffer.from(value.toString(16).padStart(2 * length, '0'), 'hex');
}

describe('ECDHE share validation before node:crypto (RFC 8446 §4.2.8.2, SP 800-56A §5.6.2.3.4)', () => {
  for (const { group, curve, openssl } of EC_CASES) {
    describe(curve.name, () => {
      it('accepts points node:crypto makes, and the two sides agree', () => {
        for (let i = 0; i < 8; i++) {
          const ours = nodeCryptoProvider.generateKeyExchange(group);
          const theirs = createECDH(openssl);
          const theirPoint = theirs.generateKeys();
          assert.ok(checkEcPoint(curve, ours.publicKey).ok);
          assert.ok(ours.computeSharedSecret(theirPoint).equals(theirs.computeSecret(ours.publicKey)));
        }
      });

      const good = createECDH(openssl).generateKeys();
      const n = curve.fieldBytes;
      const cases: readonly [string, Buffer][] = [
        ['the point at infinity (a single 0x00)', Buffer.of(0)],
        ['the point at infinity written as (0, 0)', Buffer.concat([Buffer.of(4), Buffer.alloc(2 * n)])],
        ['a compressed point', Buffer.concat([Buffer.of(2 + (good.at(-1)! & 1)), good.subarray(1, 1 + n)])],
        ['a hybrid point (0x06)', Buffer.concat([Buffer.of(6), good.subarray(1)])],
        ['one byte short', good.subarray(0, good.length - 1)],
        ['one byte long', Buffer.concat([good, Buffer.of(0)])],
        ['off the curve (last byte of Y changed)', Buffer.concat([good.subarray(0, -1), Buffer.of(good.at(-1)! ^ 1)])],
        ['X equal to p', Buffer.concat([Buffer.of(4), hex(curve.p, n), good.subarray(1 + n)])],
        ['Y equal to p', Buffer.concat([good.subarray(0, 1 + n), hex(curve.p, n)])],
      ];
      for (const [what, share] of cases) {
        it(`sends illegal_parameter for ${what}`, () => {
          assert.equal(checkEcPoint(curve, share).ok, false, what);
          assertAlert(() => nodeCryptoProvider.generateKeyExchange(group).computeSharedSecret(share), 'illegal_parameter', what);
        });
      }

      it('refuses random bytes of the right length with illegal_parameter, never anything else', () => {
        const exchange = nodeCryptoProvider.generateKeyExchange(group);
        fc.assert(
          fc.property(fc.uint8Array({ minLength: 2 * n, maxLength: 2 * n }), (coordinates) => {
            const share = Buffer.concat([Buffer.of(4), Buffer.from(coordinates)]);
            assertAlert(() => exchange.computeSharedSecret(share), 'illegal_parameter');
          }),
          { numRuns: RUNS },
        );
      });
    });
  }
});

describe('X25519 and X448 shares (RFC 7748, RFC 8446 §7.4.2)', () => {
  for (const [name, group, length] of [
    ['X25519', NamedGroup.x25519, 32],
    ['X448', NamedGroup.x448, 56],
  ] as const) {
    it(`${name}: two keys agree, and each public key is ${length} bytes`, () => {
      const a = nodeCryptoProvider.generateKeyExchange(group);
      const b = nodeCryptoProvider.generateKeyExchange(group);
      assert.equal(a.publicKey.length, length);
      assert.ok(a.computeSharedSecret(b.publicKey).equals(b.computeSharedSecret(a.publicKey)));
    });

    it(`${name}: sends illegal_parameter for a share of the wrong length (§4.2.8.2)`, () => {
      assertAlert(
        () => nodeCryptoProvider.generateKeyExchange(group).computeSharedSecret(Buffer.alloc(length - 1, 9)),
        'illegal_parameter',
      );
      assertAlert(
        () => nodeCryptoProvider.generateKeyExchange(group).computeSharedSecret(Buffer.alloc(length + 1, 9)),
        'illegal_parameter',
      );
    });

    it(`${name}: sends illegal_parameter for low-order shares, whose shared secret is all zeros (RFC 7748 §6, RFC 8446 §7.4.2)`, () => {
      const zero = Buffer.alloc(length);
      const one = Buffer.alloc(length);
      one[0] = 1;
      assertAlert(() => nodeCryptoProvider.generateKeyExchange(group).computeSharedSecret(zero), 'illegal_parameter', 'u = 0');
      assertAlert(() => nodeCryptoProvider.generateKeyExchange(group).computeSharedSecret(one), 'illegal_parameter', 'u = 1');
    });
  }
});

/** floor(2^shift * e), from the series e = sum 1/k! with 64 guard bits: RFC 7919 Appendix A builds each prime on it. */
function floorTwoPowTimesE(shift: number): bigint {
  const guard = 64n;
  let term = 1n << (BigInt(shift) + guard);
  let sum = 0n;
  for (let k = 1n; term > 0n; k++) {
    sum += term;
    term /= k;
  }
  return sum >> guard;
}

/** Square-and-multiply in BigInt: a modular exponentiation that shares no code with node:crypto. */
function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if ((e & 1n) === 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

/** RFC 7919 Appendix A.1-A.5: the X of p = 2^b - 2^{b-64} + {[2^(b-130) e] + X} * 2^64 - 1, the smallest giving a safe prime. */
const RFC7919_X: Readonly<Record<string, bigint>> = {
  ffdhe2048: 560316n,
  ffdhe3072: 2625351n,
  ffdhe4096: 5736041n,
  ffdhe6144: 15705020n,
  ffdhe8192: 10965728n,
};

describe('FFDHE (RFC 7919, RFC 8446 §4.2.8.1)', () => {
  it('implements all five RFC 7919 groups', () => {
    assert.deepEqual(
      [...FFDHE_GROUPS.keys()],
      [NamedGroup.ffdhe2048, NamedGroup.ffdhe3072, NamedGroup.ffdhe4096, NamedGroup.ffdhe6144, NamedGroup.ffdhe8192],
    );
  });

  for (const [code, g] of FFDHE_GROUPS) {
    describe(g.name, () => {
      it('has the prime RFC 7919 Appendix A constructs from e and its X (independent of the hex copied in)', () => {
        const b = g.prime.length * 8;
        const x = RFC7919_X[g.name];
        assert.ok(x !== undefined);
        const constructed = (1n << BigInt(b)) - (1n << BigInt(b - 64)) + (floorTwoPowTimesE(b - 130) + x) * (1n << 64n) - 1n;
        assert.equal(g.primeValue, constructed);
      });

      it('agrees on the shared secret both ways, and with a BigInt g^(xy) mod p', () => {
        const a = new FfdheExchange(code, randomBytes);
        let exponentB = Buffer.alloc(0);
        const b = new FfdheExchange(code, (length) => {
          exponentB = randomBytes(length);
          return exponentB;
        });
        const secret = a.computeSharedSecret(b.publicKey);
        assert.deepEqual(b.computeSharedSecret(a.publicKey), secret);
        const y = BigInt(`0x${exponentB.toString('hex')}`);
        assert.equal(BigInt(`0x${b.publicKey.toString('hex')}`), modPow(2n, y, g.primeValue));
        assert.equal(BigInt(`0x${secret.toString('hex')}`), modPow(BigInt(`0x${a.publicKey.toString('hex')}`), y, g.primeValue));
      });

      it('has a prime with 64 one bits at each end whose generator 2 lies in the subgroup of order q = (p-1)/2', () => {
        const bits = g.prime.length * 8;
        assert.equal(g.primeValue >> BigInt(bits - 64), (1n << 64n) - 1n);
        assert.equal(g.primeValue & ((1n << 64n) - 1n), (1n << 64n) - 1n);
        // 2^q mod p = 1 iff 2 is a quadratic residue, as RFC 7919 §5.2's short exponents assume; a mistyped prime fails this.
        const dh = createDiffieHellman(g.prime, 2);
        dh.setPrivateKey(hex((g.primeValue - 1n) / 2n, g.prime.length));
        assert.equal(BigInt(`0x${dh.generateKeys().toString('hex')}`), 1n);
      });

      it('pads our public key and the secret to the prime length, and agrees with node:crypto on the full-size exponent side', () => {
        const ours = new FfdheExchange(code, randomBytes);
        assert.equal(ours.publicKey.length, g.prime.length);
        checkFfdheShare(g, ours.publicKey);
        const theirs = createDiffieHellman(g.prime, 2);
        theirs.generateKeys();
        // node:crypto drops leading zero bytes (1 key in 256); a TLS peer sends the share left-padded to the prime's length (RFC 8446 §4.2.8.1).
        const theirShare = theirs.getPublicKey();
        const secret = ours.computeSharedSecret(Buffer.concat([Buffer.alloc(g.prime.length - theirShare.length), theirShare]));
        assert.equal(secret.length, g.prime.length);
        assert.equal(BigInt(`0x${secret.toString('hex')}`), BigInt(`0x${theirs.computeSecret(ours.publicKey).toString('hex')}`));
      });

      it('keeps each exchange’s secret when exchanges interleave on the shared node:crypto object', () => {
        const a = new FfdheExchange(code, randomBytes);
        const b = new FfdheExchange(code, randomBytes);
        const c = new FfdheExchange(code, randomBytes);
        assert.ok(a.computeSharedSecret(b.publicKey).equals(b.computeSharedSecret(a.publicKey)));
        assert.ok(c.computeSharedSecret(a.publicKey).equals(a.computeSharedSecret(c.publicKey)));
      });

      const p = g.primeValue;
      const len = g.prime.length;
      const cases: readonly [string, Buffer][] = [
        ['Y = 0', Buffer.alloc(len)],
        ['Y = 1', hex(1n, len)],
        ['Y = p - 1', hex(p - 1n, len)],
        ['Y = p', hex(p, len)],
        ['Y = 2^bits - 1 (above p)', Buffer.alloc(len, 0xff)],
        ['a share not zero-padded to the prime length', hex(2n, len).subarray(len - 1)],
        ['a share one byte longer than the prime', Buffer.concat([Buffer.of(0), hex(2n, len)])],
      ];
      for (const [what, share] of cases) {
        it(`sends illegal_parameter for ${what} (RFC 7919 §5.1, RFC 8446 §4.2.8.1)`, () => {
          assertAlert(() => new FfdheExchange(code, randomBytes).computeSharedSecret(share), 'illegal_parameter', what);
        });
      }

      it('accepts a prime-length share exactly when 1 < Y < p-1, and refuses every other with illegal_parameter', () => {
        fc.assert(
          fc.property(fc.uint8Array({ minLength: len, maxLength: len }), fc.integer({ min: 0, max: 3 }), (bytes, top) => {
            const share = Buffer.from(bytes);
            // Bias a quarter of the cases to the top of the range, where p-1 and p live.
            if (top === 0) share.fill(0xff, 0, len - 9);
            const y = BigInt(`0x${share.toString('hex')}`);
            if (y > 1n && y < p - 1n) checkFfdheShare(g, share);
            else assertAlert(() => checkFfdheShare(g, share), 'illegal_parameter');
          }),
          { numRuns: 50 },
        );
      });

      it('accepts Y = 2 and Y = p - 2, the ends of the allowed range', () => {
        checkFfdheShare(g, hex(2n, len));
        checkFfdheShare(g, hex(p - 2n, len));
      });
    });
  }
});

describe('Group defaults', () => {
  it('prefers X25519 then P-256 on both sides; the server adds FFDHE last, the client leaves it out', () => {
    assert.deepEqual(DEFAULT_CLIENT_GROUPS.slice(0, 2), [NamedGroup.x25519, NamedGroup.secp256r1]);
    assert.deepEqual(DEFAULT_SERVER_GROUPS.slice(0, 2), [NamedGroup.x25519, NamedGroup.secp256r1]);
    assert.deepEqual(DEFAULT_SERVER_GROUPS.slice(-3), [NamedGroup.ffdhe2048, NamedGroup.ffdhe3072, NamedGroup.ffdhe4096]);
    assert.ok(!DEFAULT_CLIENT_GROUPS.some((g) => FFDHE_GROUPS.has(g)));
  });
});
