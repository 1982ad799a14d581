import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import { generateOpenApi } from '../../../src/http/index.js';
import { runProcess } from '../../helpers/processes.js';

/** From dist/test/integration/http/ up to the repository root. */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const REDOCLY = join(ROOT, 'node_modules', '.bin', 'redocly');
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface LintProblem {
  readonly ruleId: string;
  readonly severity: string;
  readonly message: string;
  readonly location?: ReadonlyArray<{ readonly pointer?: string }>;
}

interface LintReport {
  readonly totals: { readonly errors: number; readonly warnings: number; readonly ignored: number };
  readonly problems: readonly LintProblem[];
}

function isLintReport(value: unknown): value is LintReport {
  return typeof value === 'object' && value !== null && 'totals' in value && 'problems' in value && Array.isArray(value.problems);
}

/**
 * The ecosystem's checks on the generated document (ISSUE-13, "Standards the
 * ecosystem checks"): @redocly/cli's recommended rules (redocly.yaml) as the
 * CLI runs them, and @apidevtools/swagger-parser's OpenAPI 3.1 validation.
 */
describe('OpenAPI document: redocly lint and swagger-parser', () => {
  let dir: string;
  let file: string;
  let document: Record<string, unknown>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keysmith-openapi-lint-'));
    file = join(dir, 'openapi.json');
    const generated = await generateOpenApi();
    document = JSON.parse(generated) as Record<string, unknown>;
    await writeFile(file, generated);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has no problem under redocly recommended (no error, no warning, nothing ignored)', async () => {
    const result = await runProcess(REDOCLY, ['lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format=json'], {
      cwd: dir,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      timeoutMs: 60_000,
      lifetimeMs: 90_000,
    });
    const report: unknown = JSON.parse(result.stdout);
    assert.ok(isLintReport(report), `redocly printed no JSON report: ${result.stdout.slice(0, 500)} ${result.stderr.slice(-500)}`);
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location?.[0]?.pointer ?? '?'}: ${p.message}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(report.totals, { errors: 0, warnings: 0, ignored: 0 });
    assert.equal(result.code, 0);
  });

  it('is a valid OpenAPI 3.1 document for @apidevtools/swagger-parser', async () => {
    const api = await SwaggerParser.validate(file);
    assert.equal(api.info.version, PACKAGE_VERSION);
  });

  it('states the package version, a server, and names the OCSP GET path parameter', () => {
    assert.equal((document['info'] as Record<string, unknown>)['version'], PACKAGE_VERSION);
    assert.deepEqual(document['servers'], [
      {
        url: 'https://{host}:{port}',
        description:
          'A keysmith node or its load balancer (KEYSMITH_PUBLIC_URL): host, a name the listener certificate carries; port, the listen port. TLS 1.3, and TLS 1.2 (ECDHE with AEAD) unless KEYSMITH_TLS_MIN_VERSION is 1.3.',
        variables: { host: { default: 'localhost' }, port: { default: '8443' } },
      },
    ]);
    const paths = document['paths'] as Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
    assert.equal(paths['/ocsp/{*}'], undefined);
    assert.deepEqual(
      paths['/ocsp/{request}']?.['get']?.parameters?.map((p) => `${p.in}:${p.name}`),
      ['path:request'],
    );
  });
});
