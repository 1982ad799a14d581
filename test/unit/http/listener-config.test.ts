import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../../src/config/index.js';

/** The listener's settings (README, Connections, timeouts and memory per connection). */
describe('listener settings', () => {
  it('defaults: 4096 connections, 10 s handshake, 20 s headers, 30 s request, 72 s keep-alive', () => {
    const config = loadConfig({ env: {} });
    assert.deepEqual(
      [config.maxConnections, config.handshakeTimeout, config.headersTimeout, config.requestTimeout, config.keepAliveTimeout],
      [4096, 10_000, 20_000, 30_000, 72_000],
    );
  });

  it('reads KEYSMITH_MAX_CONNECTIONS and the KEYSMITH_*_TIMEOUT durations', () => {
    const config = loadConfig({
      env: {
        KEYSMITH_MAX_CONNECTIONS: '100',
        KEYSMITH_HANDSHAKE_TIMEOUT: '5s',
        KEYSMITH_HEADERS_TIMEOUT: '15s',
        KEYSMITH_REQUEST_TIMEOUT: '1m',
        KEYSMITH_KEEP_ALIVE_TIMEOUT: '2m',
      },
    });
    assert.deepEqual(
      [config.maxConnections, config.handshakeTimeout, config.headersTimeout, config.requestTimeout, config.keepAliveTimeout],
      [100, 5_000, 15_000, 60_000, 120_000],
    );
  });

  it('refuses a header timeout longer than the request timeout, naming both', () => {
    assert.throws(
      () => loadConfig({ env: { KEYSMITH_HEADERS_TIMEOUT: '40s', KEYSMITH_REQUEST_TIMEOUT: '30s' } }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 1 &&
        /KEYSMITH_HEADERS_TIMEOUT \(headersTimeout\): expected at most requestTimeout/.test(err.problems[0] ?? ''),
    );
  });

  it('refuses 0 connections and a bare number of seconds', () => {
    assert.throws(
      () => loadConfig({ env: { KEYSMITH_MAX_CONNECTIONS: '0', KEYSMITH_KEEP_ALIVE_TIMEOUT: '72' } }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some((p) => p.startsWith('KEYSMITH_MAX_CONNECTIONS (maxConnections): expected at least 1')) &&
        err.problems.some((p) => p.startsWith('KEYSMITH_KEEP_ALIVE_TIMEOUT (keepAliveTimeout): expected a duration')),
    );
  });
  it('KEYSMITH_TLS_MIN_VERSION: 1.2 by default, 1.3 when set, anything else refused naming the variable', () => {
    assert.equal(loadConfig({ env: {} }).tlsMinVersion, '1.2');
    assert.equal(loadConfig({ env: { KEYSMITH_TLS_MIN_VERSION: '1.3' } }).tlsMinVersion, '1.3');
    assert.throws(
      () => loadConfig({ env: { KEYSMITH_TLS_MIN_VERSION: '1.1' } }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 1 &&
        /KEYSMITH_TLS_MIN_VERSION \(tlsMinVersion\): expected '1\.2' or '1\.3'/.test(err.problems[0] ?? ''),
    );
  });
});
