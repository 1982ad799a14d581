import { AsnConvert, BitString, OctetString } from '@peculiar/asn1-schema';
import * as ocsp from '@peculiar/asn1-ocsp';
import * as asn from '@peculiar/asn1-x509';
import { REVOCATION_REASONS } from '../domain/certificates.js';
import { SIGNATURE, type IssuerCurve } from './certificate.js';
import { derSequence } from '../pkix/index.js';
import {
  nonceExtension,
  OcspResponseStatus,
  parsedCertIds,
  serialize,
  wholeSeconds,
  type OcspCertStatus,
  type OcspResponseContent,
  type OcspResponseStatusName,
  type OcspSigningIdentity,
} from './ocsp-der.js';

/*
 * OCSPResponses as the responder sends them (RFC 6960 §4.2): error statuses,
 * and successful BasicOCSPResponses signed by the delegated responder (the
 * key stays in src/ca, which hands in `sign`).
 */

/** [n] EXPLICIT around already-encoded contents: the constructed context tag 0xa0 + n (X.690 §8.14). */
function derExplicit(tagNumber: number, contents: Uint8Array): Uint8Array {
  const out = derSequence([contents]);
  out[0] = 0xa0 + tagNumber;
  return out;
}

/** The signatureAlgorithm of a response, encoded once per curve. */
const SIGNATURE_ALGORITHM_DER: Readonly<Record<IssuerCurve, Uint8Array>> = {
  'P-256': serialize(new asn.AlgorithmIdentifier({ algorithm: SIGNATURE['P-256'].oid })),
  'P-384': serialize(new asn.AlgorithmIdentifier({ algorithm: SIGNATURE['P-384'].oid })),
};

/** An OCSPResponse with no responseBytes: every status but successful (RFC 6960 §4.2.1). */
export function encodeOcspStatusResponse(status: Exclude<OcspResponseStatusName, 'successful'>): Uint8Array {
  return serialize(new ocsp.OCSPResponse({ responseStatus: OcspResponseStatus[status] }));
}

function encodeCertStatus(status: OcspCertStatus): ocsp.CertStatus {
  switch (status.kind) {
    case 'good':
      return new ocsp.CertStatus({ good: null });
    case 'unknown':
      return new ocsp.CertStatus({ unknown: null });
    case 'revoked': {
      // RFC 5280 §5.3.1 asks CRLs to leave out reasonCode unspecified; the OCSP answer says the same thing the same way.
      const reason =
        status.reason === null || status.reason === 'unspecified' ? undefined : new asn.CRLReason(REVOCATION_REASONS[status.reason]);
      return new ocsp.CertStatus({
        revoked: new ocsp.RevokedInfo({
          revocationTime: wholeSeconds(status.revokedAt),
          ...(reason === undefined ? {} : { revocationReason: reason }),
        }),
      });
    }
    default: {
      const never: never = status;
      throw new Error(`unknown certificate status ${String(never)}`);
    }
  }
}

/**
 * A successful OCSPResponse holding a BasicOCSPResponse (RFC 6960 §4.2.1)
 * signed by the delegated responder, its certificate included. The
 * ResponseData is encoded by the schema; the signed bytes are then joined
 * into the outer structures unchanged, so what was signed is what is sent.
 */
export function encodeOcspResponse(content: OcspResponseContent, signer: OcspSigningIdentity): Uint8Array {
  const responses = content.responses.map(
    (single) =>
      new ocsp.SingleResponse({
        certID: parsedCertIds.get(single.certId) ?? AsnConvert.parse(single.certId, ocsp.CertID),
        certStatus: encodeCertStatus(single.status),
        thisUpdate: wholeSeconds(single.thisUpdate),
        nextUpdate: wholeSeconds(single.nextUpdate),
      }),
  );
  const responseData = new ocsp.ResponseData({
    responderID: new ocsp.ResponderID({ byKey: new ocsp.KeyHash(signer.keyHash) }),
    producedAt: wholeSeconds(content.producedAt),
    responses,
    ...(content.nonce === undefined ? {} : { responseExtensions: [nonceExtension(content.nonce)] }),
  });
  const tbs = serialize(responseData);
  const signature = signer.sign(tbs);
  // RFC 6960 §4.2.1: BasicOCSPResponse ::= SEQUENCE { tbsResponseData, signatureAlgorithm, signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate }.
  const basic = derSequence([
    tbs,
    SIGNATURE_ALGORITHM_DER[signer.curve],
    serialize(new BitString(signature)),
    derExplicit(0, derSequence([signer.certificateDer])),
  ]);
  return serialize(
    new ocsp.OCSPResponse({
      responseStatus: OcspResponseStatus.successful,
      responseBytes: new ocsp.ResponseBytes({ responseType: ocsp.id_pkix_ocsp_basic, response: new OctetString(basic) }),
    }),
  );
}
