/**
 * A PKCS#12 (RFC 7292) writer for one identity: a private key and its
 * certificate chain, protected by a passphrase, the file browsers import
 * (Chromium and Firefox through NSS) and node:tls loads as `pfx`.
 *
 * Layout (the one OpenSSL 3 and NSS write): PFX { authSafe: data(AuthenticatedSafe [
 *   encryptedData(PBES2: SafeContents [ CertBag leaf, CertBag intermediate... ]),
 *   data(SafeContents [ PKCS8ShroudedKeyBag(PBES2) ]) ]), MacData(HMAC-SHA256) }.
 * The leaf's CertBag and the key bag carry the same friendlyName and
 * localKeyId (PKCS#9 §5.5.1-5.5.2), which is how importers pair them.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import {
  AuthenticatedSafe,
  CertBag,
  id_certBag,
  id_pkcs8ShroudedKeyBag,
  id_x509Certificate,
  MacData,
  PFX,
  PKCS12Attribute,
  SafeBag,
  SafeContents,
} from '@peculiar/asn1-pfx';
import { EncryptedData, EncryptedPrivateKeyInfo } from '@peculiar/asn1-pkcs8';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { pooledRandom } from '../shared/random.js';
import { contextTag, derSequence, encodeOid, Tag, tlv } from '../pkix/index.js';
import { bmpPassword, pkcs12Kdf, Pkcs12KdfId } from './pkcs12-kdf.js';
import { derUnsigned, PBES2_OID, pbes2Encrypt } from './pbes2.js';
import type { RandomSource } from './serial.js';

/**
 * PBKDF2 and MAC iteration count. NSS (3.87, pk12util and the browsers' own
 * export) writes 600,000 for both, the OWASP figure for PBKDF2-HMAC-SHA256;
 * OpenSSL 3.0 still writes 2,048 (PKCS12_DEFAULT_ITER, unchanged since 2013).
 * The file is an admin credential that may sit in a download folder, so it
 * gets NSS's count: it costs about a quarter second each time node:tls loads
 * it, once per browser context. The MAC uses the same count, because the MAC
 * alone is enough to test a guessed passphrase: a cheaper MAC would be the
 * attacker's shortcut around the PBKDF2 cost.
 */
export const PKCS12_ITERATIONS = 600_000;
/** Salts of 128 bits (NIST SP 800-132 §5.1), as NSS writes them (OpenSSL writes 64). */
const SALT_OCTETS = 16;

const ID_DATA = '1.2.840.113549.1.7.1';
const ID_ENCRYPTED_DATA = '1.2.840.113549.1.7.6';
const ID_FRIENDLY_NAME = '1.2.840.113549.1.9.20';
const ID_LOCAL_KEY_ID = '1.2.840.113549.1.9.21';
const ID_SHA256 = '2.16.840.1.101.3.4.2.1';
const BMP_STRING_TAG = 0x1e;

export interface Pkcs12Identity {
  /** The private key as an unencrypted PKCS#8 PrivateKeyInfo, DER. */
  readonly privateKey: Uint8Array;
  /** DER certificates: the key's certificate first, then its chain up to (not including) the root. */
  readonly certificates: readonly Uint8Array[];
  /** What importers show and NSS uses as the nickname (the SPIFFE ID, for an admin). */
  readonly friendlyName: string;
  readonly passphrase: string;
}

export interface Pkcs12Options {
  /** Defaults to PKCS12_ITERATIONS; tests lower it to stay fast. */
  readonly iterations?: number;
  /** Salts and IVs, drawn in this order: key salt, key IV, certificates' salt and IV, MAC salt (16 octets each). */
  readonly random?: RandomSource;
}

const defaultRandom: RandomSource = pooledRandom();

/** Encodes the identity as a PKCS#12 PFX (DER). */
export function encodePkcs12(identity: Pkcs12Identity, options: Pkcs12Options = {}): Uint8Array {
  const iterations = options.iterations ?? PKCS12_ITERATIONS;
  const random = options.random ?? defaultRandom;
  const [leaf] = identity.certificates;
  if (leaf === undefined) throw new RangeError('a PKCS#12 identity needs its certificate');
  if (identity.passphrase === '') throw new RangeError('a PKCS#12 file needs a passphrase');
  checkKeyMatches(identity.privateKey, leaf);

  // localKeyId only has to be equal on the key and its certificate; a hash of the certificate is what OpenSSL and NSS use too.
  const localKeyId = createHash('sha256').update(leaf).digest();
  const attributes = bagAttributes(identity.friendlyName, localKeyId);

  const key = pbes2Encrypt(identity.privateKey, identity.passphrase, { salt: random(SALT_OCTETS), iv: random(16), iterations });
  const keyBag = new SafeBag({
    bagId: id_pkcs8ShroudedKeyBag,
    bagValue: AsnConvert.serialize(
      new EncryptedPrivateKeyInfo({
        encryptionAlgorithm: new AlgorithmIdentifier({ algorithm: PBES2_OID, parameters: bufferOf(key.parameters) }),
        encryptedData: new EncryptedData(key.ciphertext),
      }),
    ),
    bagAttributes: attributes,
  });

  const certBags = identity.certificates.map(
    (der, index) =>
      new SafeBag({
        bagId: id_certBag,
        bagValue: AsnConvert.serialize(new CertBag({ certId: id_x509Certificate, certValue: AsnConvert.serialize(new OctetString(der)) })),
        ...(index === 0 ? { bagAttributes: attributes } : {}),
      }),
  );
  const certContents = new Uint8Array(AsnConvert.serialize(new SafeContents(certBags)));
  const certs = pbes2Encrypt(certContents, identity.passphrase, { salt: random(SALT_OCTETS), iv: random(16), iterations });

  const authenticatedSafe = new Uint8Array(
    AsnConvert.serialize(
      new AuthenticatedSafe([
        contentInfo(ID_ENCRYPTED_DATA, encryptedData(certs.parameters, certs.ciphertext)),
        contentInfo(ID_DATA, octetString(new Uint8Array(AsnConvert.serialize(new SafeContents([keyBag]))))),
      ]),
    ),
  );

  // RFC 7292 §5.1 step 4 and Appendix B.4: the MAC key comes from the PKCS#12 KDF (ID 3) over the BMPString passphrase,
  // and the MAC covers the contents octets of authSafe's OCTET STRING (§4).
  const macSalt = random(SALT_OCTETS);
  const macKey = pkcs12Kdf({
    hash: 'sha256',
    password: bmpPassword(identity.passphrase),
    salt: macSalt,
    id: Pkcs12KdfId.mac,
    iterations,
    length: 32,
  });
  const mac = createHmac('sha256', macKey).update(authenticatedSafe).digest();
  macKey.fill(0);

  const pfx = new PFX({ version: 3 });
  pfx.authSafe.contentType = ID_DATA;
  pfx.authSafe.content = bufferOf(octetString(authenticatedSafe));
  const macData = new MacData({ macSalt: new OctetString(macSalt), iterations });
  macData.mac.digestAlgorithm = new AlgorithmIdentifier({ algorithm: ID_SHA256, parameters: null });
  macData.mac.digest = new OctetString(mac);
  pfx.macData = macData;
  return new Uint8Array(AsnConvert.serialize(pfx));
}

/** The certificate must certify this key: a mismatched pair imports, then fails at the first handshake. */
function checkKeyMatches(privateKey: Uint8Array, leaf: Uint8Array): void {
  const fromKey = createPublicKey(createPrivateKey({ key: Buffer.from(privateKey), format: 'der', type: 'pkcs8' })).export({
    type: 'spki',
    format: 'der',
  });
  const fromCertificate = new X509Certificate(leaf).publicKey.export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(fromCertificate)) throw new RangeError('the private key does not belong to the certificate');
}

/**
 * friendlyName (a BMPString, PKCS#9 §5.5.1) and localKeyId (an OCTET STRING, §5.5.2),
 * in DER order: a SET OF is sorted by its elements' encodings (X.690 §11.6).
 */
function bagAttributes(friendlyName: string, localKeyId: Uint8Array): PKCS12Attribute[] {
  const name = bmpPassword(friendlyName).subarray(0, -2); // the BMPString without the KDF's terminator
  const attributes = [attribute(ID_FRIENDLY_NAME, tlv(BMP_STRING_TAG, name)), attribute(ID_LOCAL_KEY_ID, octetString(localKeyId))];
  const encoded = attributes.map((attribute) => ({ attribute, der: Buffer.from(AsnConvert.serialize(attribute)) }));
  return encoded.sort((a, b) => Buffer.compare(a.der, b.der)).map(({ attribute }) => attribute);
}

/** One attribute with one value. Set field by field: PKCS12Attribute's constructor (asn1-pfx 2.11.1) drops its argument. */
function attribute(attrId: string, value: Uint8Array): PKCS12Attribute {
  const made = new PKCS12Attribute();
  made.attrId = attrId;
  made.attrValues = [bufferOf(value)];
  return made;
}

/**
 * A ContentInfo (RFC 5652 §3). The asn1-cms class is not a dependency of
 * keysmith's, but a fresh PFX holds a fresh instance of it: that is the one
 * AuthenticatedSafe's schema knows how to serialize.
 */
function contentInfo(contentType: string, content: Uint8Array): PFX['authSafe'] {
  const info = new PFX().authSafe;
  info.contentType = contentType;
  info.content = bufferOf(content);
  return info;
}

/**
 * RFC 5652 §8 EncryptedData ::= SEQUENCE { version 0 (no unprotectedAttrs),
 * EncryptedContentInfo { contentType data, contentEncryptionAlgorithm PBES2,
 * encryptedContent [0] IMPLICIT OCTET STRING } }.
 */
function encryptedData(parameters: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const algorithm = new Uint8Array(
    AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: PBES2_OID, parameters: bufferOf(parameters) })),
  );
  const encryptedContentInfo = derSequence([encodeOid(ID_DATA), algorithm, tlv(contextTag(0, false), ciphertext)]);
  return derSequence([derUnsigned(0), encryptedContentInfo]);
}

function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(Tag.octetString, bytes);
}

/** A fresh ArrayBuffer holding exactly these bytes (asn1-schema wants ArrayBuffers). */
function bufferOf(bytes: Uint8Array): ArrayBuffer {
  return Uint8Array.from(bytes).buffer;
}
