import { createECDH, type ECDH } from 'node:crypto';
import { TlsAlertError } from '../alert.js';
import { NamedGroup } from '../codec/enums.js';
import { checkUncompressedPoint, P256, P384, P521, type PrimeCurve } from './ec-point.js';
import type { KeyExchange } from './provider.js';

interface EcdhCurve {
  readonly openssl: 'prime256v1' | 'secp384r1' | 'secp521r1';
  readonly params: PrimeCurve;
}

const CURVES: ReadonlyMap<number, EcdhCurve> = new Map<number, EcdhCurve>([
  [NamedGroup.secp256r1, { openssl: 'prime256v1', params: P256 }],
  [NamedGroup.secp384r1, { openssl: 'secp384r1', params: P384 }],
  [NamedGroup.secp521r1, { openssl: 'secp521r1', params: P521 }],
]);

export function isEcdhGroup(group: number): boolean {
  return CURVES.has(group);
}

/** P-256 / P-384 / P-521 ECDHE. Tests may give `scalarSource` for reproducible keys; the engine lets OpenSSL draw them. */
export class EcdhExchange implements KeyExchange {
  readonly publicKey: Buffer;
  private readonly ecdh: ECDH;
  private readonly curve: PrimeCurve;

  constructor(
    readonly group: number,
    scalarSource?: (length: number) => Buffer,
  ) {
    const curve = CURVES.get(group);
    if (curve === undefined) throw new TlsAlertError('internal_error', `no ECDH curve for group ${group}`);
    this.curve = curve.params;
    this.ecdh = createECDH(curve.openssl);
    this.publicKey = scalarSource === undefined ? this.ecdh.generateKeys() : this.useScalarFrom(scalarSource, curve.params.coordinateLength);
  }

  private useScalarFrom(source: (length: number) => Buffer, scalarLength: number): Buffer {
    // A scalar at or above the group order is refused; draw again (rare: 2^-32 for P-256, ~1/2 for P-521's 66 bytes, so clear the top bits).
    for (let attempt = 0; ; attempt++) {
      const scalar = source(scalarLength);
      if (this.group === NamedGroup.secp521r1) scalar[0] = scalar[0]! & 0x01;
      try {
        this.ecdh.setPrivateKey(scalar);
        return this.ecdh.getPublicKey();
      } catch (err) {
        if (attempt >= 8) throw err;
      }
    }
  }

  computeSharedSecret(peerPublicKey: Buffer): Buffer {
    // §4.2.8.2: validated by our own bounded code first; node:crypto only sees a point on the curve.
    checkUncompressedPoint(this.curve, peerPublicKey);
    try {
      return this.ecdh.computeSecret(peerPublicKey);
    } catch (cause) {
      throw new TlsAlertError('illegal_parameter', `${this.curve.name} share refused by node:crypto`, { cause });
    }
  }
}
