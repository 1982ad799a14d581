import { z } from 'zod';

export const OCSP_REQUEST = 'application/ocsp-request';
export const OCSP_RESPONSE = 'application/ocsp-response';
/** RFC 5280 §4.2.1.13 and RFC 2585 §4.1. */
export const PKIX_CRL = 'application/pkix-crl';
/** RFC 2585 §4.1: one DER certificate. */
export const PKIX_CERT = 'application/pkix-cert';

/** A POST body as the OCSP content-type parser hands it over: the raw DER. */
export const OcspRequestBodySchema = z
  .custom<Buffer>((value) => Buffer.isBuffer(value), 'expected a DER OCSPRequest')
  .meta({ type: 'string', format: 'binary', description: 'DER OCSPRequest (RFC 6960 §4.1.1)' });

export const OcspGetParamsSchema = z.object({
  '*': z.string().describe('The DER OCSPRequest, base64 (RFC 6960 Appendix A.1), URL-encoded as clients send it'),
});

/** Binary bodies are sent as Buffers (fastify skips serialization for them); documented as OpenAPI binary strings. */
const binary = (description: string) =>
  z.custom<Buffer>((value) => Buffer.isBuffer(value)).meta({ type: 'string', format: 'binary', description });

const OCSP_OUTCOMES: Readonly<Record<number, string>> = {
  200: 'A signed response (successful), or unauthorized for a certificate of another issuer',
  400: 'malformedRequest: the request could not be decoded',
  401: 'unauthorized: strict mTLS and no client certificate',
  403: 'unauthorized: the client certificate is refused',
  413: 'malformedRequest: the body is over the size limit',
  415: 'malformedRequest: the body is not application/ocsp-request',
  500: 'internalError',
};

/** OCSP answers every outcome, refusals included, with an OCSPResponse (never a problem document). A 304 (GET) has no body and is not listed. */
export function ocspResponses(
  ...statuses: readonly number[]
): Record<number, { description: string; content: Record<string, { schema: z.ZodType }> }> {
  const content = { [OCSP_RESPONSE]: { schema: binary('DER OCSPResponse (RFC 6960 §4.2.1)') } };
  return Object.fromEntries(statuses.map((status) => [status, { description: OCSP_OUTCOMES[status] ?? 'OCSP response', content }]));
}

export const CrlBodySchema = binary('DER CertificateList (RFC 5280 §5)');
/** A shard number as the path names it: decimal, no sign or leading zero (keysmith has at most 256 shards). */
export const CrlShardParamsSchema = z.object({
  shard: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,2})$/, 'expected a shard number')
    .transform((value) => Number(value)),
});
/** A rotated intermediate's serial (lowercase hex, as `keysmith ca status` prints it). */
const IssuerSerialSchema = z.string().regex(/^[0-9a-f]{2,40}$/, 'expected an intermediate serial in lowercase hex');
export const CrlIssuerParamsSchema = z.object({ serial: IssuerSerialSchema });
export const CrlIssuerShardParamsSchema = z.object({ serial: IssuerSerialSchema, shard: CrlShardParamsSchema.shape.shard });
export const CertificateBodySchema = binary('DER certificate of the issuing CA');
