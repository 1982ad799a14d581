import { X509Certificate, type KeyObject } from 'node:crypto';
import {
  describeCertificate,
  encodeOcspResponse,
  responderKeyHash,
  type OcspResponseContent,
  type OcspSigningIdentity,
} from '../x509/index.js';
import { curveOfKey } from './issuer.js';
import { ecdsaSigner } from './ocsp-signer.js';

/**
 * OCSP responses signed by the CA itself (RFC 6960 §4.2.2.2: the CA that
 * issued the certificate in question may sign). Used for an intermediate
 * that no longer signs leaves (retiring after a rotation): its delegated
 * responder would have to be issued by it, and it issues nothing any more.
 */
export class DirectOcspSigner {
  readonly notAfter: number;
  private readonly identity: OcspSigningIdentity;

  constructor(certificateDer: Uint8Array, key: KeyObject) {
    const curve = curveOfKey(key);
    if (!new X509Certificate(certificateDer).checkPrivateKey(key)) throw new Error('the key does not belong to the CA certificate');
    this.identity = { certificateDer, keyHash: responderKeyHash(certificateDer), curve, sign: ecdsaSigner(key, curve) };
    this.notAfter = describeCertificate(certificateDer).notAfter;
  }

  signResponse(content: OcspResponseContent): Uint8Array {
    return encodeOcspResponse(content, this.identity);
  }
}
