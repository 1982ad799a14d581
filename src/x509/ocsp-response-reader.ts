import * as ocsp from '@peculiar/asn1-ocsp';
import { AsnConvert } from '@peculiar/asn1-schema';
import { DomainError } from '../shared/errors.js';
import { revocationReasonOf } from '../domain/certificates.js';
import {
  bytes,
  checkSingleTlv,
  decodeNonce,
  HASH_BY_OID,
  OcspResponseStatus,
  serialize,
  serialOf,
  type OcspCertStatus,
  type OcspResponseStatusName,
} from './ocsp-der.js';

/*
 * OCSPResponses read back for checks (RFC 6960 §4.2.1): tests, and a TLS
 * client looking at a staple. Nothing here decides whether to trust one.
 */

export interface DescribedSingleResponse {
  readonly hashAlgorithm: string;
  readonly issuerNameHash: Uint8Array;
  readonly issuerKeyHash: Uint8Array;
  readonly serial: string | null;
  readonly status: OcspCertStatus;
  readonly thisUpdate: number;
  readonly nextUpdate: number | null;
}

export interface DescribedOcspResponse {
  readonly status: OcspResponseStatusName | number;
  /** Present when status is successful. */
  readonly basic?: {
    readonly responderKeyHash: Uint8Array | null;
    readonly producedAt: number;
    readonly responses: readonly DescribedSingleResponse[];
    readonly nonce: Uint8Array | undefined;
    readonly certificates: readonly Uint8Array[];
    readonly signatureAlgorithm: string;
    readonly signature: Uint8Array;
    /** The signed ResponseData bytes. */
    readonly tbs: Uint8Array;
  };
}

const STATUS_NAMES: ReadonlyMap<number, OcspResponseStatusName> = new Map(
  Object.entries(OcspResponseStatus).map(([name, code]) => [code, name as OcspResponseStatusName]),
);

/** Decodes an OCSPResponse for checks (tests, a TLS client looking at a staple); DomainError('malformed') when it is not one. */
export function describeOcspResponse(der: Uint8Array): DescribedOcspResponse {
  checkSingleTlv(der, 'OCSPResponse');
  try {
    const response = AsnConvert.parse(der, ocsp.OCSPResponse);
    const status = STATUS_NAMES.get(response.responseStatus) ?? response.responseStatus;
    const bytesOfResponse = response.responseBytes;
    if (bytesOfResponse === undefined) return { status };
    if (bytesOfResponse.responseType !== ocsp.id_pkix_ocsp_basic)
      throw new DomainError('malformed', `response type ${bytesOfResponse.responseType} is not id-pkix-ocsp-basic`);
    const basic = AsnConvert.parse(bytesOfResponse.response.buffer, ocsp.BasicOCSPResponse);
    const data = basic.tbsResponseData;
    const nonce = (data.responseExtensions ?? []).find((e) => e.extnID === ocsp.id_pkix_ocsp_nonce);
    return {
      status,
      basic: {
        responderKeyHash: data.responderID.byKey === undefined ? null : bytes(data.responderID.byKey.buffer),
        producedAt: data.producedAt.getTime(),
        responses: data.responses.map(describeSingle),
        nonce: nonce === undefined ? undefined : decodeNonce(bytes(nonce.extnValue.buffer)),
        certificates: (basic.certs ?? []).map((cert) => serialize(cert)),
        signatureAlgorithm: basic.signatureAlgorithm.algorithm,
        signature: bytes(basic.signature),
        tbs: basic.tbsResponseDataRaw === undefined ? serialize(data) : bytes(basic.tbsResponseDataRaw),
      },
    };
  } catch (cause) {
    if (cause instanceof DomainError) throw cause;
    throw new DomainError('malformed', 'not a DER OCSPResponse', { cause });
  }
}

function describeSingle(single: ocsp.SingleResponse): DescribedSingleResponse {
  const id = single.certID;
  const revoked = single.certStatus.revoked;
  const status: OcspCertStatus =
    revoked !== undefined
      ? {
          kind: 'revoked',
          revokedAt: revoked.revocationTime.getTime(),
          reason: revoked.revocationReason === undefined ? null : (revocationReasonOf(revoked.revocationReason.reason) ?? null),
        }
      : single.certStatus.good !== undefined
        ? { kind: 'good' }
        : { kind: 'unknown' };
  return {
    hashAlgorithm: HASH_BY_OID.get(id.hashAlgorithm.algorithm) ?? id.hashAlgorithm.algorithm,
    issuerNameHash: bytes(id.issuerNameHash.buffer),
    issuerKeyHash: bytes(id.issuerKeyHash.buffer),
    serial: serialOf(bytes(id.serialNumber)),
    status,
    thisUpdate: single.thisUpdate.getTime(),
    nextUpdate: single.nextUpdate === undefined ? null : single.nextUpdate.getTime(),
  };
}
