import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TlsConnectOptions, TlsServerOptions } from '../../src/tls/index.js';

/** test/fixtures, found from the working directory (how the runner starts) or from this file's place in dist/. */
function fixturesDir(): string {
  const fromCwd = join(process.cwd(), 'test', 'fixtures');
  if (existsSync(join(fromCwd, 'ca.pem'))) return fromCwd;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'test', 'fixtures');
    if (existsSync(join(candidate, 'ca.pem'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('test/fixtures not found; run the tests from the repository root');
}

const cache = new Map<string, string>();

/** A fixture file's text (PEM), read once. */
export function fixture(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(join(fixturesDir(), name), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/** The server of test/fixtures/make-fixtures.sh: CN=localhost (DNS:localhost, IP:127.0.0.1) under the test intermediate. */
export function serverOptions(overrides: Partial<TlsServerOptions> = {}): TlsServerOptions {
  return {
    key: fixture('server.key'),
    cert: fixture('server-chain.pem'),
    ca: fixture('ca.pem'),
    clientAuth: 'request',
    ...overrides,
  };
}

/** A client that trusts the test root and presents the P-256 test client certificate (mTLS). */
export function clientOptions(overrides: Partial<TlsConnectOptions> = {}): TlsConnectOptions {
  return {
    key: fixture('client.key'),
    cert: fixture('client-chain.pem'),
    ca: fixture('ca.pem'),
    servername: 'localhost',
    ...overrides,
  };
}
