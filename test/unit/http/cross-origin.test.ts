import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { crossOriginRefusal } from '../../../src/http/plugins/cross-origin.js';

/** The cross-origin rule of the console contract, request by request (the live refusals are in test/integration/http/console-api). */
function verdict(method: string, headers: IncomingHttpHeaders): string | undefined {
  return crossOriginRefusal({ method, headers });
}

describe('crossOriginRefusal', () => {
  const host = '127.0.0.1:8443';

  it('never refuses a safe method (RFC 9110 §9.2.1), whatever the headers say', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      assert.equal(verdict(method, { host, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }), undefined);
    }
  });

  it('refuses every other method when Sec-Fetch-Site is neither same-origin nor none', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      assert.equal(verdict(method, { host, 'sec-fetch-site': 'cross-site' }), 'Sec-Fetch-Site is cross-site');
      assert.equal(verdict(method, { host, 'sec-fetch-site': 'same-site' }), 'Sec-Fetch-Site is same-site');
      assert.equal(verdict(method, { host, 'sec-fetch-site': 'same-origin' }), undefined);
      assert.equal(verdict(method, { host, 'sec-fetch-site': 'none' }), undefined);
    }
    assert.equal(verdict('POST', { host, 'sec-fetch-site': 'Same-Origin' }), undefined);
    assert.equal(verdict('POST', { host, 'sec-fetch-site': '' }), 'Sec-Fetch-Site is empty');
  });

  it('decides by Sec-Fetch-Site when present, and by Origin against Host only without it', () => {
    assert.equal(verdict('POST', { host, 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' }), undefined);
    assert.equal(verdict('POST', { host, origin: `https://${host}` }), undefined);
    assert.equal(verdict('POST', { host: 'Keysmith.Example:8443', origin: 'https://keysmith.example:8443' }), undefined);
    // The scheme's default port is left out of a serialized origin and of Host alike.
    assert.equal(verdict('POST', { host: 'keysmith.example', origin: 'https://keysmith.example' }), undefined);
    assert.equal(
      verdict('POST', { host, origin: 'https://127.0.0.1:9443' }),
      'Origin https://127.0.0.1:9443 is not this service (127.0.0.1:8443)',
    );
    assert.equal(verdict('POST', { host, origin: 'null' }), 'Origin null is not this service (127.0.0.1:8443)');
    assert.equal(verdict('POST', { origin: `https://${host}` }), `Origin https://${host} is not this service (no Host)`);
  });

  it('lets a request with neither header through (curl, SDKs, certbot, lego, the CLI)', () => {
    assert.equal(verdict('POST', { host }), undefined);
    assert.equal(verdict('DELETE', {}), undefined);
  });
});
