import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generateOpenApi } from '../../../src/http/index.js';
import { stubDeps } from '../../../src/http/openapi-generate.js';
import { asRecord, send, serve } from './harness.js';

const COMMITTED = fileURLToPath(new URL('../../../../openapi/openapi.json', import.meta.url));

describe('OpenAPI document (STYLE §5: golden)', () => {
  it('equals the committed openapi/openapi.json (regenerate deliberately: node dist/src/http/openapi-cli.js)', async () => {
    const generated = await generateOpenApi();
    const committed = await readFile(COMMITTED, 'utf8');
    assert.equal(generated, committed);
  });

  it('is what GET /openapi.json serves', async () => {
    // Optional route groups (OCSP, ...) are registered only when their ports are given: serve them as the generator does.
    const { certificates, revoker, bundle, health, trustDomain, mtlsMode, clock, metrics, logger, ...optional } = stubDeps();
    const served = await serve({ deps: optional });
    try {
      const reply = await send(served.port, { path: '/openapi.json' });
      assert.equal(reply.status, 200);
      const generated: unknown = JSON.parse(await generateOpenApi());
      assert.deepEqual(reply.json(), generated);
    } finally {
      await served.close();
    }
  });

  it('documents every route with its access policy', async () => {
    const document = asRecord(JSON.parse(await generateOpenApi()));
    assert.equal(document['openapi'], '3.1.0');
    const paths = asRecord(document['paths']);
    const operations = Object.entries(paths).flatMap(([path, item]) =>
      Object.entries(asRecord(item)).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op: asRecord(op) })),
    );
    assert.deepEqual(operations.map((o) => o.route).sort(), [
      'DELETE /v1/entries/{id}',
      'DELETE /v1/join-tokens/{id}',
      'GET /ca.crt',
      'GET /crl',
      'GET /crl/issuer/{serial}',
      'GET /crl/issuer/{serial}/{shard}',
      'GET /crl/root',
      'GET /crl/{shard}',
      'GET /healthz',
      'GET /metrics',
      'GET /ocsp/{request}',
      'GET /openapi.json',
      'GET /v1/alerts',
      'GET /v1/bundle',
      'GET /v1/certificates',
      'GET /v1/certificates/timeline',
      'GET /v1/certificates/{serial}',
      'GET /v1/certificates/{serial}/ocsp',
      'GET /v1/entries',
      'GET /v1/entries/{id}',
      'GET /v1/join-tokens',
      'PATCH /v1/entries/{id}',
      'POST /ocsp',
      'POST /v1/alerts/run',
      'POST /v1/attest/join-token',
      'POST /v1/certificates/{serial}/revoke',
      'POST /v1/entries',
      'POST /v1/join-tokens',
      'POST /v1/svid/jwt',
      'POST /v1/svid/x509',
      'POST /v1/svid/x509:batch',
    ]);
    for (const { route, op } of operations) {
      const access = op['x-keysmith-access'];
      assert.ok(access === 'any' || access === 'workload' || access === 'admin', route);
      // Public routes say so (security: []); the others require the client certificate (mutualTLS).
      assert.deepEqual(
        op['security'],
        access === 'any' ? [] : [{ mutualTLS: [] }],
        `${route} declares mutualTLS exactly when it needs a certificate`,
      );
    }
  });

  it('documents 425 Too Early on every operation that is not served from TLS early data (RFC 8470 §5.2)', async () => {
    const paths = asRecord(asRecord(JSON.parse(await generateOpenApi()))['paths']);
    const withTooEarly = Object.entries(paths)
      .flatMap(([path, item]) =>
        Object.entries(asRecord(item)).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op: asRecord(op) })),
      )
      .filter(({ op }) => asRecord(op['responses'])['425'] !== undefined)
      .map(({ route }) => route);
    // The public reads (GET /healthz, /v1/bundle, /ca.crt, /crl..., /ocsp/...) are the only ones without it.
    assert.deepEqual(withTooEarly.sort(), [
      'DELETE /v1/entries/{id}',
      'DELETE /v1/join-tokens/{id}',
      'GET /metrics',
      'GET /openapi.json',
      'GET /v1/alerts',
      'GET /v1/certificates',
      'GET /v1/certificates/timeline',
      'GET /v1/certificates/{serial}',
      'GET /v1/certificates/{serial}/ocsp',
      'GET /v1/entries',
      'GET /v1/entries/{id}',
      'GET /v1/join-tokens',
      'PATCH /v1/entries/{id}',
      'POST /ocsp',
      'POST /v1/alerts/run',
      'POST /v1/attest/join-token',
      'POST /v1/certificates/{serial}/revoke',
      'POST /v1/entries',
      'POST /v1/join-tokens',
      'POST /v1/svid/jwt',
      'POST /v1/svid/x509',
      'POST /v1/svid/x509:batch',
    ]);
  });
});
