/**
 * Path building (RFC 5280 §6, RFC 4158 in spirit): depth-first from the
 * leaf towards a trust anchor, anchors first, then the presented
 * certificates in any order, each issuer checked by name and signature.
 * Every complete path goes to the caller's checks; the first that passes wins.
 */
import { refuse, type CertificateError } from './errors.js';
import type { ParsedCertificate } from './parsed-certificate.js';
import { issuedBy, type VerifyExpectation } from './path-checks.js';

/** Certificates in a path, leaf and anchor included. */
export const MAX_PATH_LENGTH = 8;
/**
 * Issuer candidates one search may try. Counts cached signatures too: a
 * peer with its own CAs that share a name could otherwise make the search
 * walk every ordering of its chain once those signatures are cached.
 */
const MAX_CANDIDATES = 32;

/** Signature algorithms accepted on certificates; SHA-1 and MD5 are refused. */
const CERT_SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set([
  '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4', // ecdsa-with-SHA512
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13', // sha512WithRSAEncryption
  '1.2.840.113549.1.1.10', // RSASSA-PSS
  '1.3.101.112', // Ed25519
  '1.3.101.113', // Ed448
]);

export type PathCheck = (path: readonly ParsedCertificate[], expect: VerifyExpectation, nowMs: number) => CertificateError | undefined;

interface SearchState {
  readonly presented: readonly ParsedCertificate[];
  readonly expect: VerifyExpectation;
  readonly nowMs: number;
  candidates: number;
  /** A complete path to an anchor that failed a check: the most useful verdict. */
  pathProblem: CertificateError | undefined;
  signatureProblem: CertificateError | undefined;
  isTooDeep: boolean;
}

export class PathSearch {
  /** DER of the anchors' subject Names, one per distinct subject. */
  readonly anchorSubjects: readonly Uint8Array[];
  signatureChecks = 0;

  private readonly anchors: ReadonlySet<ParsedCertificate>;
  private readonly anchorsBySubject = new Map<string, ParsedCertificate[]>();
  /** child → fingerprints of issuers whose signature on it verified; pure in the bytes, so safe to remember. */
  private readonly verifiedIssuers = new WeakMap<ParsedCertificate, Set<string>>();

  constructor(
    anchors: readonly ParsedCertificate[],
    private readonly checkPath: PathCheck,
  ) {
    this.anchors = new Set(anchors);
    const subjects: Uint8Array[] = [];
    for (const anchor of anchors) {
      const subjectKey = anchor.fields.subject.der.toString('latin1');
      const bucket = this.anchorsBySubject.get(subjectKey);
      if (bucket === undefined) {
        this.anchorsBySubject.set(subjectKey, [anchor]);
        subjects.push(new Uint8Array(anchor.fields.subject.der));
      } else {
        bucket.push(anchor);
      }
    }
    this.anchorSubjects = Object.freeze(subjects);
  }

  /** A path from `leaf` to an anchor that passes the checks; throws the most useful refusal when there is none. */
  find(leaf: ParsedCertificate, presented: readonly ParsedCertificate[], expect: VerifyExpectation, nowMs: number): ParsedCertificate[] {
    const state: SearchState = {
      presented,
      expect,
      nowMs,
      candidates: 0,
      pathProblem: undefined,
      signatureProblem: undefined,
      isTooDeep: false,
    };
    const path = this.extend([leaf], state);
    if (path !== undefined) return path;
    // A complete path that failed a check says most, then a bad signature, then depth.
    if (state.pathProblem !== undefined) throw state.pathProblem;
    if (state.signatureProblem !== undefined) throw state.signatureProblem;
    if (state.isTooDeep) throw refuse('bad_certificate', `no path to a trust anchor within ${MAX_PATH_LENGTH} certificates`);
    throw refuse('unknown_ca', `no path from ${leaf.label} to a trust anchor`);
  }

  /** Depth-first from `path`'s last certificate: anchors first, then presented certificates. */
  private extend(path: readonly ParsedCertificate[], state: SearchState): ParsedCertificate[] | undefined {
    const child = path[path.length - 1];
    if (child === undefined) return undefined;
    for (const anchor of this.anchorsBySubject.get(child.fields.issuer.der.toString('latin1')) ?? []) {
      if (!issuedBy(child, anchor) || !this.isSignedBy(child, anchor, state)) continue;
      const full = [...path, anchor];
      const problem = this.checkPath(full, state.expect, state.nowMs);
      if (problem === undefined) return full;
      state.pathProblem ??= problem;
    }
    for (const candidate of state.presented) {
      // Anchors were tried above; a presented self-signed non-anchor can only lead to anchors by name.
      if (path.includes(candidate) || this.anchors.has(candidate) || !issuedBy(child, candidate)) continue;
      // Room for this intermediate and an anchor above it.
      if (path.length + 2 > MAX_PATH_LENGTH) {
        state.isTooDeep = true;
        continue;
      }
      if (!this.isSignedBy(child, candidate, state)) continue;
      const found = this.extend([...path, candidate], state);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** RFC 5280 §6.1.3(a)(1): the signature on `child` MUST verify with `issuer`'s key. Cached per pair. */
  private isSignedBy(child: ParsedCertificate, issuer: ParsedCertificate, state: SearchState): boolean {
    if (++state.candidates > MAX_CANDIDATES) {
      state.signatureProblem ??= refuse('bad_certificate', `more than ${MAX_CANDIDATES} issuer candidates`);
      return false;
    }
    const known = this.verifiedIssuers.get(child);
    if (known?.has(issuer.view.fingerprint256) === true) return true;
    const problem = this.checkSignature(child, issuer);
    if (problem !== undefined) {
      state.signatureProblem ??= problem;
      return false;
    }
    if (known === undefined) {
      this.verifiedIssuers.set(child, new Set([issuer.view.fingerprint256]));
    } else if (known.size < 8) {
      known.add(issuer.view.fingerprint256);
    }
    return true;
  }

  private checkSignature(child: ParsedCertificate, issuer: ParsedCertificate): CertificateError | undefined {
    if (!CERT_SIGNATURE_ALGORITHMS.has(child.fields.signatureAlgorithm)) {
      return refuse('bad_certificate', `${child.label} is signed with refused algorithm ${child.fields.signatureAlgorithm}`);
    }
    if (issuer.publicKey === undefined) return refuse('bad_certificate', `issuer ${issuer.label} has an unreadable key`);
    this.signatureChecks++;
    let isValid: boolean;
    try {
      isValid = child.x509.verify(issuer.publicKey);
    } catch {
      isValid = false;
    }
    return isValid ? undefined : refuse('bad_certificate', `signature on ${child.label} does not verify with the key of ${issuer.label}`);
  }
}
