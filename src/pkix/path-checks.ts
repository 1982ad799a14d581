/**
 * The RFC 5280 §6.1 checks on one complete candidate path (leaf first,
 * anchor last), and the TLS leaf rules (RFC 8446 §4.4.2.2, RFC 6125 §6).
 * Each returns the refusal, or undefined when the check passes.
 */
import { KeyUsageBit, Oid } from './extensions.js';
import { refuse, type CertificateError } from './errors.js';
import { parseIpAddress } from './ip.js';
import { constraintViolation, type NameConstraints, type NameOfForm } from './name-constraints.js';
import { matchesDnsName } from './names.js';
import type { ParsedCertificate } from './parsed-certificate.js';

/** The role of the PEER being verified. */
export type PeerRole = 'client' | 'server';

export interface VerifyExpectation {
  readonly role: PeerRole;
  /** Checked against the server's SAN; ignored for clients. */
  readonly servername?: string;
}

/**
 * Name chaining (§6.1.3(a)(4)) by exact DER, as Go and webpki do: the
 * anchor index is keyed by those bytes. Key identifiers, when both sides
 * have them, must agree too (they tell re-keyed CAs apart).
 */
export function issuedBy(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  const aki = child.fields.extensions.authorityKeyId;
  const ski = issuer.fields.extensions.subjectKeyId;
  if (aki !== undefined && ski !== undefined && !aki.equals(ski)) return false;
  return child.fields.issuer.der.equals(issuer.fields.subject.der);
}

/** RFC 5280 §4.2: an unrecognised critical extension MUST make the certificate unacceptable. */
export function checkCriticalExtensions(cert: ParsedCertificate): CertificateError | undefined {
  const unknown = cert.fields.extensions.unknownCritical;
  if (unknown.length === 0) return undefined;
  return refuse('unsupported_certificate', `${cert.label} has unknown critical extension ${unknown.join(', ')}`);
}

/** Every name of `cert` a name constraint can apply to: SANs, and the subject when not empty (§4.2.1.10). */
function constrainedNames(cert: ParsedCertificate): NameOfForm[] {
  const san = cert.fields.extensions.subjectAltName;
  const names: NameOfForm[] = [];
  for (const value of san?.dnsNames ?? []) names.push({ kind: 'dNSName', value });
  for (const value of san?.uris ?? []) names.push({ kind: 'uniformResourceIdentifier', value });
  for (const value of san?.ipAddresses ?? []) names.push({ kind: 'iPAddress', value });
  for (const value of san?.directoryNames ?? []) names.push({ kind: 'directoryName', value });
  if (cert.fields.subject.rdns.length > 0) names.push({ kind: 'directoryName', value: cert.fields.subject });
  return names;
}

function checkNameConstraints(cert: ParsedCertificate, constraints: NameConstraints, by: ParsedCertificate): CertificateError | undefined {
  const otherTags = cert.fields.extensions.subjectAltName?.otherTags ?? [];
  const problem = constraintViolation(constrainedNames(cert), otherTags, constraints);
  if (problem === undefined) return undefined;
  return refuse('bad_certificate', `${cert.label} under the name constraints of ${by.label}: ${problem}`);
}

/** §6.1.4(l),(m): non-self-issued intermediates below `i` may not exceed its pathLenConstraint. */
function intermediatesBelow(path: readonly ParsedCertificate[], i: number): number {
  let below = 0;
  for (let j = 1; j < i; j++) if (path[j]?.isSelfIssued === false) below++;
  return below;
}

/** §6.1.4: the certificate at `i` (an intermediate or the anchor) may issue what lies below it. */
export function checkIssuer(path: readonly ParsedCertificate[], i: number): CertificateError | undefined {
  const cert = path[i];
  if (cert === undefined) return refuse('internal_error', `no certificate at position ${i}`);
  const ext = cert.fields.extensions;
  const role = i === path.length - 1 ? 'trust anchor' : 'intermediate';
  // §6.1.4(k): basicConstraints MUST be present with cA TRUE.
  if (ext.basicConstraints?.isCA !== true) return refuse('bad_certificate', `${role} ${cert.label} is not a CA`);
  // §6.1.4(n): if keyUsage is present, keyCertSign MUST be set.
  if (ext.keyUsage !== undefined && (ext.keyUsage & (1 << KeyUsageBit.keyCertSign)) === 0) {
    return refuse('bad_certificate', `${role} ${cert.label} lacks keyCertSign`);
  }
  const pathLen = ext.basicConstraints.pathLen;
  const below = pathLen === undefined ? 0 : intermediatesBelow(path, i);
  if (pathLen !== undefined && below > pathLen) {
    return refuse('bad_certificate', `${role} ${cert.label} allows ${pathLen} intermediates below it, path has ${below}`);
  }
  // §6.1.4(g): constraints apply to every certificate below, except self-issued intermediates (§6.1.3(b)).
  const constraints = ext.nameConstraints;
  if (constraints === undefined) return undefined;
  for (let j = 0; j < i; j++) {
    const under = path[j];
    if (under === undefined || (j > 0 && under.isSelfIssued)) continue;
    const problem = checkNameConstraints(under, constraints, cert);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** RFC 6125 §6.2.1, §6.4: the server's name against its SAN (no Common Name fallback, §6.4.4). */
function checkServerName(leaf: ParsedCertificate, servername: string): CertificateError | undefined {
  const san = leaf.fields.extensions.subjectAltName;
  const ip = parseIpAddress(servername);
  if (ip !== undefined) {
    // RFC 6125 §6.2.1 / RFC 5280 §4.2.1.6: an IP reference matches only iPAddress SANs.
    if (san?.ipAddresses.some((a) => a.equals(ip)) === true) return undefined;
    return refuse('bad_certificate', `certificate has no IP SAN ${servername}`);
  }
  let reference = servername.toLowerCase();
  if (reference.endsWith('.')) reference = reference.slice(0, -1);
  if (reference !== '' && !reference.includes('*') && san?.dnsNames.some((n) => matchesDnsName(n, reference)) === true) {
    return undefined;
  }
  return refuse('bad_certificate', `certificate is not valid for ${servername}`);
}

export function checkLeaf(leaf: ParsedCertificate, expect: VerifyExpectation): CertificateError | undefined {
  const ext = leaf.fields.extensions;
  if (ext.basicConstraints?.isCA === true) return refuse('bad_certificate', `leaf ${leaf.label} is a CA certificate`);
  // RFC 8446 §4.4.2.2: the key signs CertificateVerify, so keyUsage (if present) needs digitalSignature.
  if (ext.keyUsage !== undefined && (ext.keyUsage & (1 << KeyUsageBit.digitalSignature)) === 0) {
    return refuse('bad_certificate', `leaf ${leaf.label} keyUsage lacks digitalSignature`);
  }
  // RFC 5280 §4.2.1.12: if extKeyUsage is present, the certificate MUST only be used for a listed purpose.
  const purpose = expect.role === 'client' ? Oid.clientAuth : Oid.serverAuth;
  const eku = ext.extKeyUsage;
  if (eku !== undefined && !eku.includes(purpose) && !eku.includes(Oid.anyExtendedKeyUsage)) {
    return refuse('unsupported_certificate', `leaf ${leaf.label} is not for ${expect.role === 'client' ? 'clientAuth' : 'serverAuth'}`);
  }
  if (leaf.leafKeyType === undefined) {
    return refuse('unsupported_certificate', `leaf key ${leaf.keyDescription} cannot sign TLS 1.3 CertificateVerify here`);
  }
  if (expect.role === 'server' && expect.servername !== undefined) return checkServerName(leaf, expect.servername);
  return undefined;
}
