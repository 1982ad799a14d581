import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CLI_REVOCATION_REASONS } from '../../../src/cli/commands.js';
import { runProcess } from '../../helpers/processes.js';
import { MAIN } from './cli-fixtures.js';

/**
 * The revocation reasons `keysmith revoke` accepts and the ones the HTTP
 * API's schema (the committed openapi/openapi.json) accepts are the same set.
 */

async function apiReasons(): Promise<string[]> {
  const spec: unknown = JSON.parse(await readFile(fileURLToPath(new URL('../../../../openapi/openapi.json', import.meta.url)), 'utf8'));
  const operation = (
    spec as {
      paths: Record<
        string,
        Record<
          string,
          { operationId?: string; requestBody?: { content: Record<string, { schema: { properties: { reason: { enum: string[] } } } }> } }
        >
      >;
    }
  ).paths['/v1/certificates/{serial}/revoke']?.['post'];
  assert.equal(operation?.operationId, 'revokeCertificate');
  const reasons = operation?.requestBody?.content['application/json']?.schema.properties.reason.enum;
  assert.ok(Array.isArray(reasons), 'the revoke body lists its reasons');
  return reasons;
}

describe('revocation reasons: one set for the CLI and the API', () => {
  it('the openapi enum of the revoke body equals the reasons keysmith revoke accepts', async () => {
    assert.deepEqual(new Set(await apiReasons()), new Set(CLI_REVOCATION_REASONS));
    assert.equal(CLI_REVOCATION_REASONS.length, 9);
  });

  it('keysmith revoke refuses a reason the API refuses (removeFromCRL) before opening anything, and names the set', async () => {
    const result = await runProcess(process.execPath, [MAIN, 'revoke', '0a1b', '--reason', 'removeFromCRL'], {
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], KEYSMITH_DATA_DIR: '/nonexistent/keysmith-reasons' },
      timeoutMs: 30_000,
    });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      new RegExp(`^keysmith revoke: --reason: expected one of ${(await apiReasons()).join(', ')}, got 'removeFromCRL'$`, 'm'),
    );
  });
});
