/**
 * A JWT-SVID signing key's public half as the SPIFFE bundle carries it
 * (SPIFFE Trust Domain and Bundle §4.2.2: use jwt-svid, with kid): made by
 * the CA's key ring, published by the SVID front end.
 */
export interface JwtAuthorityJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly kid: string;
  readonly use: 'jwt-svid';
}
