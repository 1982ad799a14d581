import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { Authority, IssuedCertificate } from '../ca/index.js';
import type { ProfileName } from '../domain/certificates.js';
import { encodePkcs12, splitPemChain } from '../x509/index.js';
import { writeFileAtomic, writeSecretFileAtomic } from './files.js';

export interface IdentityRequest {
  readonly profile: ProfileName;
  readonly spiffeId?: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly ttlMs?: number;
  readonly requester: string;
}

export interface IssuedIdentity {
  readonly issued: IssuedCertificate;
  /** PKCS#8 PEM of the new key; written only with mode 0600. */
  readonly keyPem: string;
}

/**
 * Makes a key pair here and has the Authority certify it: the private key
 * never leaves this process except into a 0600 file. P-256, exported as
 * PEM/DER only (a JWK export of a generateKeyPairSync key can hang Node 20).
 */
export async function issueIdentity(authority: Authority, request: IdentityRequest): Promise<IssuedIdentity> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issued = await authority.issue(
    {
      publicKey: publicKey.export({ type: 'spki', format: 'der' }),
      requester: request.requester,
      ...(request.spiffeId === undefined ? {} : { spiffeId: request.spiffeId }),
      ...(request.dnsNames === undefined ? {} : { dnsNames: request.dnsNames }),
      ...(request.ipAddresses === undefined ? {} : { ipAddresses: request.ipAddresses }),
      ...(request.ttlMs === undefined ? {} : { ttlMs: request.ttlMs }),
    },
    request.profile,
  );
  return { issued, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export function writeIdentity(identity: IssuedIdentity, certPath: string, keyPath: string): void {
  writeFileAtomic(keyPath, identity.keyPem, 0o600);
  writeFileAtomic(certPath, identity.issued.chainPem, 0o644);
}

/**
 * The identity as a PKCS#12 file (mode 0600) for a browser or any other
 * client that imports one: the key, the certificate and its chain below the
 * root (a self-issued certificate, the root, is left out: the server already
 * holds it, and a browser must not be taught to trust it from this file).
 */
export function writeIdentityP12(identity: IssuedIdentity, path: string, passphrase: string, friendlyName: string): void {
  const [leaf, ...chain] = splitPemChain(identity.issued.chainPem);
  if (leaf === undefined) throw new Error(`certificate ${identity.issued.serial} came without its PEM`);
  const belowRoot = chain.filter((der) => {
    const certificate = new X509Certificate(der);
    return !certificate.checkIssued(certificate);
  });
  const privateKey = createPrivateKey(identity.keyPem).export({ type: 'pkcs8', format: 'der' });
  writeSecretFileAtomic(path, encodePkcs12({ privateKey, certificates: [leaf, ...belowRoot], friendlyName, passphrase }));
}
