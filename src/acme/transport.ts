/**
 * The seam between the ACME protocol (src/acme) and the HTTP layer
 * (src/http/routes/acme): fastify hands each /acme request over as plain
 * data and writes back what it gets. Everything ACME-specific (JWS, nonces,
 * Link and Location headers, problem documents) lives on this side.
 */

export interface AcmeHttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST';
  /** The path below the ACME root, with its query, e.g. '/directory', '/order/abc/finalize', '/renewal-info/<id>'. */
  readonly path: string;
  /** The Content-Type header as sent, if any. */
  readonly contentType: string | undefined;
  /** The raw request body (POST), unparsed. */
  readonly body: Buffer | undefined;
  /** The peer's IP address, for per-address rate limits. */
  readonly clientAddress: string;
  /** The SPIFFE ID or serial of a verified client certificate, when one was presented (recorded, not required). */
  readonly clientCertificate: string | undefined;
}

export interface AcmeHttpResponse {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  /** A string or Buffer goes out as is; anything else is serialized as JSON. */
  readonly body?: string | Buffer | object;
}

/** What the HTTP layer calls; never throws: every failure is a problem-document response. */
export interface AcmeHandler {
  handle(request: AcmeHttpRequest): Promise<AcmeHttpResponse>;
}
