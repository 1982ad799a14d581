import { createECDH, type ECDH } from 'node:crypto';
import { TlsAlertError } from '../alert.js';
import { NamedGroup } from '../codec/enums.js';
import { checkEcPoint, curveByName, type CurveParameters } from '../../shared/ec-point.js';
import type { KeyExchange } from './key-exchange.js';

interface EcdhCurve {
  readonly openssl: 'prime256v1' | 'secp384r1' | 'secp521r1';
  readonly params: CurveParameters;
}

function curve(openssl: EcdhCurve['openssl'], name: 'P-256' | 'P-384' | 'P-521'): EcdhCurve {
  const params = curveByName(name);
  if (params === undefined) throw new Error(`no parameters for ${name}`);
  return { openssl, params };
}

const CURVES: ReadonlyMap<number, EcdhCurve> = new Map<number, EcdhCurve>([
  [NamedGroup.secp256r1, curve('prime256v1', 'P-256')],
  [NamedGroup.secp384r1, curve('secp384r1', 'P-384')],
  [NamedGroup.secp521r1, curve('secp521r1', 'P-521')],
]);

export function isEcdhGroup(group: number): boolean {
  return CURVES.has(group);
}

/** P-256 / P-384 / P-521 ECDHE. Tests may give `scalarSource` for reproducible keys; the engine lets OpenSSL draw them. */
export class EcdhExchange implements KeyExchange {
  readonly publicKey: Buffer;
  private readonly ecdh: ECDH;
  private readonly curve: CurveParameters;

  constructor(
    readonly group: number,
    scalarSource?: (length: number) => Buffer,
  ) {
    const curve = CURVES.get(group);
    if (curve === undefined) throw new TlsAlertError('internal_error', `no ECDH curve for group ${group}`);
    this.curve = curve.params;
    this.ecdh = createECDH(curve.openssl);
    this.publicKey = scalarSource === undefined ? this.ecdh.generateKeys() : this.useScalarFrom(scalarSource, curve.params.fieldBytes);
  }

  private useScalarFrom(source: (length: number) => Buffer, scalarLength: number): Buffer {
    // A scalar at or above the group order is refused; draw again (rare: 2^-32 for P-256, ~1/2 for P-521's 66 bytes, so clear the top bits).
    for (let attempt = 0; ; attempt++) {
      const scalar = source(scalarLength);
      if (this.group === NamedGroup.secp521r1) scalar.writeUInt8(scalar.readUInt8(0) & 0x01, 0);
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
    // RFC 8446 §4.2.8.2: the peer's share MUST be validated: SP 800-56A partial validation, uncompressed form only.
    const verdict = checkEcPoint(this.curve, peerPublicKey);
    if (!verdict.ok) throw new TlsAlertError('illegal_parameter', `key share: ${verdict.problem}`);
    try {
      return this.ecdh.computeSecret(peerPublicKey);
    } catch (cause) {
      throw new TlsAlertError('illegal_parameter', `${this.curve.name} share refused by node:crypto`, { cause });
    }
  }
}
