import { AsnConvert } from '@peculiar/asn1-schema';
import { id_ce_subjectAltName, SubjectAlternativeName } from '@peculiar/asn1-x509';
import { DomainError } from '../shared/errors.js';
import { normalizeIpAddress } from './names.js';
import { parsePemBlocks } from './pem.js';
import { peculiar } from './provider.js';
import { checkPublicKey, type SubjectKeyAlgorithm } from './public-key.js';

/** What a PKCS#10 request asks for, after its signature and key were checked. */
export interface ParsedCsr {
  /** DER SubjectPublicKeyInfo, re-encoded canonically. */
  readonly publicKey: Uint8Array;
  readonly keyAlgorithm: SubjectKeyAlgorithm;
  /** RFC 4514-style string, "" when the subject is empty. */
  readonly subject: string;
  readonly commonName: string | null;
  readonly dnsNames: readonly string[];
  /** Canonical text (dotted quad, RFC 5952). */
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
  readonly emails: readonly string[];
}

// ACME CSRs are a few hundred bytes; this bounds parsing of hostile input.
const MAX_CSR_BYTES = 16 * 1024;
const PEM_LABELS = new Set(['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);

/**
 * Parses a CSR given as PEM, base64/base64url DER (RFC 8555 §7.4 finalize) or
 * raw DER; verifies its self-signature (RFC 2986 §3: proof of possession) and
 * its key. Undecodable input is `malformed`; a bad signature, key or name is `badCSR`.
 */
export async function parseCsr(input: string | Uint8Array): Promise<ParsedCsr> {
  const der = csrBytes(input);
  let csr: peculiar.Pkcs10CertificateRequest;
  try {
    csr = new peculiar.Pkcs10CertificateRequest(der);
  } catch (cause) {
    throw new DomainError('malformed', 'CSR is not a DER PKCS#10 CertificationRequest', { cause });
  }
  const key = checkPublicKey(new Uint8Array(csr.publicKey.rawData));
  let verified: boolean;
  try {
    verified = await csr.verify();
  } catch (cause) {
    throw new DomainError('badCSR', 'CSR signature algorithm is not supported', { cause });
  }
  if (!verified) throw new DomainError('badCSR', 'CSR signature does not verify with its public key');

  const names = requestedNames(csr);
  const [commonName] = csr.subjectName.getField('CN');
  return {
    publicKey: key.spki,
    keyAlgorithm: key.algorithm,
    subject: csr.subject,
    commonName: commonName ?? null,
    ...names,
  };
}

function csrBytes(input: string | Uint8Array): Uint8Array {
  let der: Uint8Array;
  if (typeof input !== 'string') {
    der = input;
  } else if (input.includes('-----BEGIN')) {
    const blocks = parsePemBlocks(input);
    const [block] = blocks;
    if (blocks.length !== 1 || block === undefined || !PEM_LABELS.has(block.label)) {
      throw new DomainError('malformed', 'expected one PEM "CERTIFICATE REQUEST" block');
    }
    der = block.der;
  } else {
    const compact = input.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) throw new DomainError('malformed', 'CSR is neither PEM nor base64');
    der = new Uint8Array(Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64'));
  }
  if (der.byteLength === 0 || der.byteLength > MAX_CSR_BYTES) throw new DomainError('malformed', `CSR must be 1 to ${MAX_CSR_BYTES} bytes`);
  return der;
}

function requestedNames(csr: peculiar.Pkcs10CertificateRequest): Pick<ParsedCsr, 'dnsNames' | 'ipAddresses' | 'uris' | 'emails'> {
  const extensions = csr.getExtensions(id_ce_subjectAltName);
  // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension; a request asking for two is refused.
  if (extensions.length > 1) throw new DomainError('badCSR', 'CSR requests more than one subjectAltName extension');
  const out: { dnsNames: string[]; ipAddresses: string[]; uris: string[]; emails: string[] } = { dnsNames: [], ipAddresses: [], uris: [], emails: [] };
  const [extension] = extensions;
  if (extension === undefined) return out;
  let san: SubjectAlternativeName;
  try {
    san = AsnConvert.parse(extension.value, SubjectAlternativeName);
  } catch (cause) {
    throw new DomainError('badCSR', 'CSR subjectAltName extension does not decode', { cause });
  }
  for (const name of san) {
    if (name.dNSName !== undefined) out.dnsNames.push(name.dNSName);
    else if (name.iPAddress !== undefined) out.ipAddresses.push(normalizeCsrIp(name.iPAddress));
    else if (name.uniformResourceIdentifier !== undefined) out.uris.push(name.uniformResourceIdentifier);
    else if (name.rfc822Name !== undefined) out.emails.push(name.rfc822Name);
    else throw new DomainError('badCSR', 'CSR requests a subjectAltName type other than dNSName, iPAddress, URI or rfc822Name');
  }
  return out;
}

function normalizeCsrIp(value: string): string {
  try {
    return normalizeIpAddress(value);
  } catch (cause) {
    throw new DomainError('badCSR', `CSR requests iPAddress "${value.slice(0, 64)}", which is not an address`, { cause });
  }
}
