import type { webcrypto } from 'node:crypto';
import { peculiar } from './provider.js';
import { parsePemBlocks } from './pem.js';

/*
 * The request an online node hands to the offline root when it rotates its
 * intermediate (`keysmith ca rotate --csr-out`): a PKCS#10 request (RFC 2986)
 * that proves possession of the new key. Only the key is taken from it; the
 * signer decides the subject and every extension (src/ca/intermediate-ops.ts).
 */

/** A PEM CERTIFICATE REQUEST over `spki`, signed by `privateKey` (ECDSA, the curve's hash: RFC 5758 §3.2). */
export async function buildCaRequestPem(subject: string, privateKey: webcrypto.CryptoKey, publicKey: webcrypto.CryptoKey): Promise<string> {
  const curve = (privateKey.algorithm as webcrypto.EcKeyAlgorithm).namedCurve;
  const hash = curve === 'P-384' ? 'SHA-384' : 'SHA-256';
  const request = await peculiar.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys: { privateKey, publicKey },
    signingAlgorithm: { name: 'ECDSA', hash },
  });
  return request.toString('pem');
}

/** The SubjectPublicKeyInfo of a PEM CERTIFICATE REQUEST whose self-signature verifies; throws otherwise. */
export async function caRequestPublicKey(pem: string): Promise<Uint8Array> {
  const block = parsePemBlocks(pem).find((b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST');
  if (block === undefined) throw new Error('no CERTIFICATE REQUEST block');
  const request = new peculiar.Pkcs10CertificateRequest(block.der);
  if (!(await request.verify())) throw new Error('the certificate request signature does not verify');
  return new Uint8Array(request.publicKey.rawData);
}
