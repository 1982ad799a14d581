import { createPrivateKey, hkdfSync, type KeyObject } from 'node:crypto';
import { exportPrivateKey } from './key-files.js';

/**
 * How the delegated OCSP responder's key is kept in the shared ledger
 * (src/ca/ocsp-signer.ts): an encrypted PKCS#8 PEM, as the CA keys are on
 * disk, whose passphrase is derived from the intermediate's private key
 * (HKDF-SHA256 over its PKCS#8 encoding, RFC 5869, with a label of its own).
 * Every node has that key (its copy of `<dataDir>/ca/`), with or without a
 * CA passphrase, and whoever can unwrap the responder key could sign as the
 * intermediate already: storing it in the database gives a database reader
 * nothing. A derived secret rather than the CA passphrase, because the
 * passphrase is optional and an unencrypted responder key in the database
 * would let anyone who reads it sign OCSP answers for the CA.
 */
export interface ResponderKeyWrap {
  /** Encrypted PKCS#8 PEM of `key`. */
  wrap(key: KeyObject): string;
  /** The key back; throws when the PEM was wrapped under another intermediate's key or is damaged. */
  unwrap(pem: string): KeyObject;
}

const HKDF_SALT = 'keysmith';
const HKDF_INFO = 'keysmith ocsp responder key wrap v1';

export function responderKeyWrap(intermediateKey: KeyObject): ResponderKeyWrap {
  const keyDer = intermediateKey.export({ type: 'pkcs8', format: 'der' });
  const secret = Buffer.from(hkdfSync('sha256', keyDer, HKDF_SALT, HKDF_INFO, 32)).toString('base64url');
  keyDer.fill(0);
  return {
    wrap: (key) => exportPrivateKey(key, secret),
    unwrap: (pem) => {
      try {
        return createPrivateKey({ key: pem, format: 'pem', passphrase: secret });
      } catch (cause) {
        throw new Error(
          "cannot decrypt the shared OCSP responder key: it was stored by a node with another intermediate key (does this node's <dataDir>/ca/ match the cluster's?)",
          { cause },
        );
      }
    },
  };
}
