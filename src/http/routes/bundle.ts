import { X509Certificate } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { negotiate } from '../negotiate.js';
import type { TrustBundleSource } from '../ports.js';
import { problemResponses } from '../problem.js';

export const PEM_FILE = 'application/x-pem-file';
const JSON_TYPE = 'application/json';
/** How often bundle consumers should poll, when the composition root does not say (SPIRE's default is similar). */
export const DEFAULT_REFRESH_HINT_SECONDS = 300;

const X509AuthoritySchema = z
  .object({
    kty: z.string().describe('JWK key type of the authority’s public key'),
    crv: z.string().optional(),
    x: z.string().optional(),
    y: z.string().optional(),
    n: z.string().optional(),
    e: z.string().optional(),
    use: z.literal('x509-svid'),
    x5c: z.array(z.string()).length(1).describe('The authority certificate, base64 DER (RFC 7517 §4.7)'),
  })
  .describe('One X.509 authority as a JWK (SPIFFE Trust Domain and Bundle §4.2.1)');
type X509Authority = z.infer<typeof X509AuthoritySchema>;

/** SPIFFE Trust Domain and Bundle §4.2.2: a JWT authority carries its public key, use jwt-svid and a kid. */
const JwtAuthoritySchema = z
  .object({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: z.string(),
    y: z.string(),
    kid: z.string().describe('Key ID, named in the JWT-SVID header (RFC 7638 thumbprint)'),
    use: z.literal('jwt-svid'),
  })
  .describe('One JWT authority as a JWK (SPIFFE Trust Domain and Bundle §4.2.2)');

export const SpiffeBundleSchema = z
  .object({
    keys: z.array(z.union([X509AuthoritySchema, JwtAuthoritySchema])),
    spiffe_sequence: z.number().int().nonnegative(),
    spiffe_refresh_hint: z.number().int().positive().describe('Seconds'),
  })
  .meta({ id: 'SpiffeBundle', description: 'SPIFFE bundle (a JWK Set) of the trust domain’s X.509 and JWT authorities' });

/** SPIFFE Trust Domain and Bundle §4.2.1: the public key parameters, use x509-svid, exactly one x5c entry, no kid. */
export function x509AuthorityJwk(der: Uint8Array): X509Authority {
  const cert = new X509Certificate(der);
  const jwk = cert.publicKey.export({ format: 'jwk' });
  const params: Partial<Record<'crv' | 'x' | 'y' | 'n' | 'e', string>> = {};
  for (const name of ['crv', 'x', 'y', 'n', 'e'] as const) {
    const value = jwk[name];
    if (typeof value === 'string') params[name] = value;
  }
  return { kty: jwk.kty ?? 'unknown', ...params, use: 'x509-svid', x5c: [cert.raw.toString('base64')] };
}

/** GET /v1/bundle: PEM by default, the SPIFFE bundle for `Accept: application/json`. Any TLS client may read it. */
export function registerBundleRoutes(app: FastifyInstance, bundle: TrustBundleSource, refreshHintSeconds: number): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/bundle',
    {
      config: { access: 'any' },
      schema: {
        tags: ['bundle'],
        summary: 'The trust bundle',
        description: 'PEM certificates by default; `Accept: application/json` returns the SPIFFE bundle (JWKS).',
        operationId: 'getBundle',
        response: {
          200: {
            description: 'The X.509 authorities, root first',
            content: {
              [PEM_FILE]: { schema: z.string() },
              [JSON_TYPE]: { schema: SpiffeBundleSchema },
            },
          },
          ...problemResponses(403),
        },
      },
    },
    async (request, reply) => {
      reply.header('vary', 'accept');
      if (negotiate(request.headers.accept, [PEM_FILE, JSON_TYPE]) === PEM_FILE) {
        return reply.type(PEM_FILE).send(bundle.pem());
      }
      return reply.type(JSON_TYPE).send({
        keys: [...bundle.authorities().map(x509AuthorityJwk), ...(bundle.jwtAuthorities?.() ?? [])],
        spiffe_sequence: bundle.sequence(),
        spiffe_refresh_hint: refreshHintSeconds,
      });
    },
  );
}
