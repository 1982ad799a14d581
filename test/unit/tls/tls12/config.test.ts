import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolveServerConfig } from '../../../../src/tls/config.js';
import { CipherSuite, Tls12CipherSuite } from '../../../../src/tls/codec/enums.js';
import { DEFAULT_SUITE_ORDER, DEFAULT_TLS12_SUITE_ORDER } from '../../../../src/tls/crypto/suites.js';

const FIXTURES = fileURLToPath(new URL('../../../../../test/fixtures/', import.meta.url));
const key = readFileSync(`${FIXTURES}server.key`);
const cert = readFileSync(`${FIXTURES}server-chain.pem`);

describe('minVersion/maxVersion and TLS 1.2 suites in the resolved config', () => {
  it('defaults to TLSv1.2..TLSv1.3 as node:tls does, with both default suite orders', () => {
    const config = resolveServerConfig({ key, cert });
    assert.equal(config.minVersion, 'TLSv1.2');
    assert.equal(config.maxVersion, 'TLSv1.3');
    assert.deepEqual(config.suites, DEFAULT_SUITE_ORDER);
    assert.deepEqual(config.suites12, DEFAULT_TLS12_SUITE_ORDER);
  });

  it('splits cipherSuites by version; a version with none named keeps its default order', () => {
    const both = resolveServerConfig({
      key,
      cert,
      cipherSuites: ['TLS_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'],
    });
    assert.deepEqual(both.suites, [CipherSuite.TLS_CHACHA20_POLY1305_SHA256]);
    assert.deepEqual(both.suites12, [Tls12CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]);
    const only13 = resolveServerConfig({ key, cert, cipherSuites: ['TLS_AES_256_GCM_SHA384'] });
    assert.deepEqual(only13.suites, [CipherSuite.TLS_AES_256_GCM_SHA384]);
    assert.deepEqual(only13.suites12, DEFAULT_TLS12_SUITE_ORDER);
  });

  it('takes TLSv1.3-only and TLSv1.2-only and refuses min above max or an unknown version', () => {
    assert.equal(resolveServerConfig({ key, cert, minVersion: 'TLSv1.3' }).minVersion, 'TLSv1.3');
    assert.equal(resolveServerConfig({ key, cert, maxVersion: 'TLSv1.2' }).maxVersion, 'TLSv1.2');
    assert.throws(() => resolveServerConfig({ key, cert, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }), /minVersion is above maxVersion/);
    assert.throws(() => resolveServerConfig({ key, cert, cipherSuites: [] }), /cipherSuites and groups may not be empty/);
    assert.throws(() => resolveServerConfig({ key, cert, minVersion: 'TLSv1.1' as 'TLSv1.2' }), /unsupported TLS version TLSv1.1/);
  });
});
