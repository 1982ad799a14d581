/**
 * The engine's side of src/pkix: the default peer-chain verifier built from
 * the `ca` option, and certificate descriptions, with pkix's refusals turned
 * into the alerts they name (RFC 8446 §6.2). pkix knows nothing of TLS; this
 * is the one place its errors become TlsAlertErrors.
 */
import {
  CertificateError,
  ChainVerifier,
  describeCertificate as describeParsed,
  type ChainVerifierOptions,
  type ParsedCertificate,
  type VerifiedChain,
  type VerifierStats,
  type VerifyExpectation,
} from '../pkix/index.js';
import { TlsAlertError } from './alert.js';

export type { VerifiedChain, VerifyExpectation };

function asAlert(error: unknown): unknown {
  return error instanceof CertificateError ? new TlsAlertError(error.alert, error.reason, { cause: error }) : error;
}

/** ChainVerifier whose refusals are TlsAlertErrors. */
export class PeerChainVerifier {
  private readonly chains: ChainVerifier;

  constructor(options: ChainVerifierOptions) {
    this.chains = new ChainVerifier(options);
  }

  /** DER of the anchors' subject Names, for the certificate_authorities extension (RFC 8446 §4.2.4). */
  get anchorSubjects(): readonly Uint8Array[] {
    return this.chains.anchorSubjects;
  }

  get stats(): VerifierStats {
    return this.chains.stats;
  }

  /** chainDer: as received, leaf first. Throws TlsAlertError. */
  verify(chainDer: readonly Uint8Array[], expect: VerifyExpectation): VerifiedChain {
    try {
      return this.chains.verify(chainDer, expect);
    } catch (error) {
      throw asAlert(error);
    }
  }
}

/** Parse without verifying (cached); a malformed certificate is TlsAlertError(bad_certificate). */
export function describeCertificate(der: Uint8Array): ParsedCertificate {
  try {
    return describeParsed(der);
  } catch (error) {
    throw asAlert(error);
  }
}
