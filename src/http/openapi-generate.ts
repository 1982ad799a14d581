/**
 * Builds the app on in-memory stubs and renders its OpenAPI document as
 * stable JSON (keys sorted, 2-space indent, trailing newline), the form
 * committed as openapi/openapi.json.
 */
import { DomainError } from '../shared/errors.js';
import { buildApp } from './app.js';
import { KeysmithMetrics } from './metrics.js';
import type { AppDeps } from './ports.js';
import { svidApiStub } from './routes/svid/stub.js';

/** Nothing behind these is ever called: generating the document only registers routes. */
export function stubDeps(): AppDeps {
  return {
    certificates: {
      list: () => ({ items: [], nextCursor: null }),
      findBySerial: () => undefined,
      statusOf: () => undefined,
      expiryTimeline: () => [],
    },
    revoker: {
      revoke: (serial) => {
        throw new DomainError('notFound', `no certificate ${serial}`);
      },
    },
    bundle: { pem: () => '', authorities: () => [], issuers: () => [], sequence: () => 0 },
    health: [],
    trustDomain: 'example.org',
    mtlsMode: 'standard',
    clock: { now: () => 0 },
    metrics: new KeysmithMetrics(),
    ocsp: {
      responder: {
        answer: () => ({ der: new Uint8Array(), status: 'internalError' }),
        answerGet: () => ({ der: new Uint8Array(), status: 'internalError' }),
      },
      crl: () => 'pending',
      issuerCertificate: () => new Uint8Array(),
    },
    logger: false,
    svid: svidApiStub,
    alerts: {
      list: () => ({ items: [], nextCursor: null }),
      runNow: () => Promise.reject(new DomainError('conflict', 'stub')),
    },
  };
}

/** Recursively sorts object keys so the output does not depend on registration order. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const sorted: Record<string, unknown> = {};
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, child] of entries) sorted[key] = sortKeys(child);
  return sorted;
}

export async function generateOpenApi(): Promise<string> {
  const app = await buildApp(stubDeps());
  try {
    // Exactly what GET /openapi.json serves.
    const response = await app.inject({ method: 'GET', url: '/openapi.json' });
    if (response.statusCode !== 200) throw new Error(`GET /openapi.json answered ${response.statusCode}: ${response.body}`);
    const document: unknown = response.json();
    return `${JSON.stringify(sortKeys(document), null, 2)}\n`;
  } finally {
    await app.close();
  }
}
