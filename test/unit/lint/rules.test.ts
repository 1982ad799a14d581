import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';

/**
 * The lint rule set, run through the ESLint Node API on deliberately wrong code at virtual paths: each
 * mistake must be reported by exactly the rule meant for it, and the right imports must pass. The house
 * rules need no type information, so they run here on their own (the type-aware project service cannot
 * see files that are not on disk); a second check asserts the real eslint.config.js turns them on.
 */

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

interface LayeringPlugin {
  layeringTable(): string;
}

interface Reported {
  readonly ruleId: string | null;
  readonly message: string;
  readonly line: number;
}

let eslint: ESLint;

async function lint(filePath: string, code: string): Promise<Reported[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, filePath) });
  assert.ok(result !== undefined);
  return result.messages.map((m) => ({ ruleId: m.ruleId, message: m.message, line: m.line }));
}

before(async () => {
  const config = (await import(pathToFileURL(join(ROOT, 'eslint.config.js')).href)) as { houseRules: Linter.Config[] };
  eslint = new ESLint({
    cwd: ROOT,
    overrideConfigFile: true,
    overrideConfig: [tseslint.configs.base, ...config.houseRules],
  });
});

describe('the layering rules (tools/eslint/keysmith-plugin.js)', () => {
  it('refuses acme importing ca: values from the CA reach a front end through its ports', async () => {
    assert.deepEqual(
      await lint('src/acme/probe.ts', "import { BACKDATE_MS } from '../ca/index.js';\nexport const backdate = BACKDATE_MS;\n"),
      [
        {
          ruleId: 'keysmith/layering',
          message: 'src/acme may not import src/ca (it may import: shared, domain, x509; node:* always).',
          line: 1,
        },
      ],
    );
  });

  it('refuses tls importing x509, and any npm package: the engine imports node:*, shared and pkix only', async () => {
    assert.deepEqual(
      await lint(
        'src/tls/probe.ts',
        "import { toPem } from '../x509/index.js';\nimport fastify from 'fastify';\nexport const a = [toPem, fastify];\n",
      ),
      [
        { ruleId: 'keysmith/layering', message: 'src/tls may not import src/x509 (it may import: shared, pkix; node:* always).', line: 1 },
        { ruleId: 'keysmith/layering', message: "src/tls may not import the package 'fastify' (allowed: node:* only).", line: 2 },
      ],
    );
  });

  it('refuses pkix importing anything of keysmith but shared', async () => {
    const reported = await lint(
      'src/pkix/probe.ts',
      "import type { CertificateRecord } from '../domain/certificates.js';\nexport type R = CertificateRecord;\n",
    );
    assert.deepEqual(reported, [
      { ruleId: 'keysmith/layering', message: 'src/pkix may not import src/domain (it may import: shared; node:* always).', line: 1 },
    ]);
  });

  it('refuses a front end reaching the ledger (storage only through its ports), type-only imports included', async () => {
    assert.deepEqual(
      await lint('src/svid/probe.ts', "import type { LedgerBackend } from '../ledger/index.js';\nexport type L = LedgerBackend;\n"),
      [
        {
          ruleId: 'keysmith/layering',
          message: 'src/svid may not import src/ledger (it may import: shared, domain, x509; node:* always).',
          line: 1,
        },
      ],
    );
  });

  it('refuses any import of cli, the composition root', async () => {
    assert.deepEqual(await lint('src/http/probe.ts', "import { openCore } from '../cli/compose.js';\nexport const o = openCore;\n"), [
      { ruleId: 'keysmith/layering', message: 'nothing imports src/cli: it is the composition root.', line: 1 },
    ]);
  });

  it('refuses a module missing from the layering table', async () => {
    assert.deepEqual(await lint('src/gadgets/probe.ts', 'export const x = 1;\n'), [
      {
        ruleId: 'keysmith/layering',
        message: 'src/gadgets is not in the layering table (MODULES in tools/eslint/keysmith-plugin.js): add its row.',
        line: 1,
      },
    ]);
  });

  it("refuses reaching past another module's index.ts, and allows the index", async () => {
    assert.deepEqual(
      await lint(
        'src/cli/probe.ts',
        "import { certificateView } from '../http/routes/ops/schemas.js';\nexport const v = certificateView;\n",
      ),
      [
        {
          ruleId: 'keysmith/no-deep-import',
          message: "import src/http through 'src/http/index.ts', not 'src/http/routes/ops/schemas.ts': export what you need from it.",
          line: 1,
        },
      ],
    );
    assert.deepEqual(
      await lint('src/cli/probe.ts', "import { certificateView } from '../http/index.js';\nexport const v = certificateView;\n"),
      [],
    );
  });

  it('passes the imports the table allows', async () => {
    const acme = [
      "import { createHash } from 'node:crypto';",
      "import { z } from 'zod';",
      "import type { AcmeOrderRecord } from '../domain/acme.js';",
      "import { DomainError } from '../shared/errors.js';",
      "import { parseCsr } from '../x509/index.js';",
      'export const all = [createHash, z, DomainError, parseCsr];',
      'export type O = AcmeOrderRecord;',
      '',
    ].join('\n');
    assert.deepEqual(await lint('src/acme/probe.ts', acme), []);
    const tls =
      "import { asBuffer } from '../shared/bytes.js';\nimport { parseDer } from '../pkix/index.js';\nexport const all = [asBuffer, parseDer];\n";
    assert.deepEqual(await lint('src/tls/probe.ts', tls), []);
  });

  it('finds an import cycle made only of type imports', async () => {
    // src/x509/index.ts imports serial.ts; serial.ts importing the index (even for a type) closes a cycle.
    assert.deepEqual(await lint('src/x509/serial.ts', "import type { RandomSource } from './index.js';\nexport type R = RandomSource;\n"), [
      { ruleId: 'keysmith/no-cycle', message: 'import cycle: x509/serial -> x509/index -> x509/serial', line: 1 },
    ]);
  });
});

describe('the house rules', () => {
  it('reads the time only in src/shared/clock.ts', async () => {
    const code = 'export const now = (): number => Date.now();\n';
    assert.deepEqual(await lint('src/x509/probe.ts', code), [
      {
        ruleId: 'keysmith/clock-only',
        message: 'read the time from a Clock (src/shared/clock.ts), not Date.now(): tests pin the clock.',
        line: 1,
      },
    ]);
    assert.deepEqual(await lint('src/shared/clock.ts', code), []);
  });

  it('refuses a non-null assertion in src/tls and src/pkix, not elsewhere', async () => {
    const code = 'export function first(values: readonly string[]): string {\n  return values[0]!;\n}\n';
    const expected = [{ ruleId: '@typescript-eslint/no-non-null-assertion', message: 'Forbidden non-null assertion.', line: 2 }];
    assert.deepEqual(await lint('src/tls/probe.ts', code), expected);
    assert.deepEqual(await lint('src/pkix/probe.ts', code), expected);
    assert.deepEqual(await lint('src/acme/probe.ts', code), []);
  });

  it('refuses ECMAScript #private members and passes the TypeScript private keyword', async () => {
    const hash = 'export class Counter {\n  #count = 0;\n  #bump(): void {\n    this.#count++;\n  }\n}\n';
    const message = "use the TypeScript 'private' keyword, not an ECMAScript #private member (one style in keysmith).";
    assert.deepEqual(await lint('src/ocsp/probe.ts', hash), [
      { ruleId: 'no-restricted-syntax', message, line: 2 },
      { ruleId: 'no-restricted-syntax', message, line: 3 },
    ]);
    const keyword = 'export class Counter {\n  private count = 0;\n  private bump(): void {\n    this.count++;\n  }\n}\n';
    assert.deepEqual(await lint('src/ocsp/probe.ts', keyword), []);
  });
});

describe('eslint.config.js', () => {
  it('turns the house rules on for src, with type information, and no-non-null-assertion only in tls and pkix', async () => {
    const real = new ESLint({ cwd: ROOT });
    const tls = (await real.calculateConfigForFile(join(ROOT, 'src/tls/index.ts'))) as Linter.Config;
    const acme = (await real.calculateConfigForFile(join(ROOT, 'src/acme/index.ts'))) as Linter.Config;
    for (const rule of [
      'keysmith/layering',
      'keysmith/no-deep-import',
      'keysmith/clock-only',
      'keysmith/no-cycle',
      'no-restricted-syntax',
    ]) {
      assert.equal(JSON.stringify(tls.rules?.[rule]).startsWith('[2'), true, rule);
      assert.equal(JSON.stringify(acme.rules?.[rule]).startsWith('[2'), true, rule);
    }
    assert.deepEqual(tls.rules?.['@typescript-eslint/no-non-null-assertion'], [2]);
    assert.equal(acme.rules?.['@typescript-eslint/no-non-null-assertion'], undefined);
    assert.equal((acme.languageOptions?.parserOptions as { projectService?: unknown } | undefined)?.projectService, true);
  });

  it('docs/architecture.md carries the layering table the rules enforce', async () => {
    const plugin = (await import(pathToFileURL(join(ROOT, 'tools/eslint/keysmith-plugin.js')).href)) as LayeringPlugin;
    const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    const start = '<!-- layering-table: generated by layeringTable() in tools/eslint/keysmith-plugin.js -->\n';
    const end = '\n<!-- /layering-table -->';
    const from = doc.indexOf(start);
    const to = doc.indexOf(end);
    assert.ok(from !== -1 && to > from, 'the layering-table markers are in docs/architecture.md');
    assert.equal(doc.slice(from + start.length, to), plugin.layeringTable());
  });
});
