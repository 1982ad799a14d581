import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { LISTED_STATUSES, PROFILE_NAMES, REVOCATION_REASONS, type NewCertificateRecord } from '../../../src/domain/certificates.js';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { startServer, type RunningServer } from '../../../src/cli/serve.js';
import { loadConfig } from '../../../src/config/index.js';
import { exchange } from '../../helpers/exchange.js';
import { freePort, runProcess, type ProcessResult } from '../../helpers/processes.js';

/** Shared by the CLI tests: the built `keysmith`, records to seed, the JSON schemas its output must follow. */

export const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export function keysmithRunner(env: NodeJS.ProcessEnv): (args: readonly string[]) => Promise<ProcessResult> {
  return (args) => runProcess(process.execPath, [MAIN, ...args], { env, timeoutMs: 60_000, lifetimeMs: 60_000 });
}

/** Base environment of a child keysmith on one data directory. */
export function cliEnv(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    USER: 'tester',
    KEYSMITH_DATA_DIR: dataDir,
    KEYSMITH_LOG_LEVEL: 'silent',
    ...extra,
  };
}

let nextSerial = 0x70_0000;

/** A tls-server certificate row (random DER: listings never parse it). */
export function tlsRecord(dnsName: string, issuedAt: number, notAfter: number): NewCertificateRecord {
  nextSerial += 1;
  const der = randomBytes(200);
  const serial = `${nextSerial.toString(16)}${randomBytes(6).toString('hex')}`;
  return {
    serial,
    issuer: 'O=keysmith, CN=test intermediate',
    subject: `CN=${dnsName}`,
    sans: [{ type: 'dns', value: dnsName }],
    spiffeId: null,
    profile: 'tls-server',
    requester: 'cli:seed',
    notBefore: issuedAt - MINUTE,
    notAfter,
    issuedAt,
    der,
    fingerprint: createHash('sha256').update(der).digest('hex'),
  };
}

const Timestamp = z.iso.datetime();

/** A certificate as `--json` prints it: the HTTP API's Certificate, nothing more. */
export const CertificateJson = z.strictObject({
  serial: z.string().regex(/^[0-9a-f]+$/),
  subject: z.string(),
  issuer: z.string(),
  spiffe_id: z.string().nullable(),
  dns_names: z.array(z.string()),
  profile: z.enum(PROFILE_NAMES),
  requester: z.string(),
  not_before: Timestamp,
  not_after: Timestamp,
  status: z.enum(LISTED_STATUSES),
  revoked_at: Timestamp.nullable(),
  revocation_reason: z.enum(Object.keys(REVOCATION_REASONS) as [string, ...string[]]).nullable(),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
});
export type CertificateJson = z.infer<typeof CertificateJson>;

export const CertificateListJson = z.strictObject({ certificates: z.array(CertificateJson), next_cursor: z.string().nullable() });

/** Parses stdout as exactly one JSON document of `schema` (a second document or trailing text fails). */
export function oneDocument<T>(schema: z.ZodType<T>, result: ProcessResult): T {
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.stdout.endsWith('}\n'), 'one document, one trailing newline');
  assert.equal(result.stdout.trimEnd().split('\n').length, 1, 'one line');
  return schema.parse(JSON.parse(result.stdout));
}

export interface HttpsClient {
  get(path: string): Promise<{ status: number; body: string }>;
}

export function httpsClient(port: number, tls: { cert: string; key: string; ca: string }): HttpsClient {
  return {
    get: (path) => exchange(request, { host: '127.0.0.1', port, path, ...tls, servername: 'localhost' }),
  };
}

/** keysmith served from a fresh data directory, an admin client of its API, and the CLI on the same directory. */
export interface CliStack {
  readonly dataDir: string;
  readonly core: Core;
  readonly server: RunningServer & { readonly port: number };
  readonly api: HttpsClient;
  readonly keysmith: (args: readonly string[]) => Promise<ProcessResult>;
  close(): Promise<void>;
}

export async function startCliStack(prefix: string): Promise<CliStack> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  const port = await freePort();
  const env = {
    KEYSMITH_DATA_DIR: dataDir,
    KEYSMITH_LISTEN: `127.0.0.1:${port}`,
    KEYSMITH_LOG_LEVEL: 'silent',
    KEYSMITH_ALERTS_SCHEDULE: 'off',
  };
  const core = await openCore(loadConfig({ env }));
  const server = await startServer(core);
  const api = httpsClient(server.port, {
    cert: await readFile(core.paths.adminCert, 'utf8'),
    key: await readFile(core.paths.adminKey, 'utf8'),
    ca: await readFile(core.paths.bundle, 'utf8'),
  });
  return {
    dataDir,
    core,
    server,
    api,
    keysmith: keysmithRunner(cliEnv(dataDir, { KEYSMITH_LISTEN: `127.0.0.1:${port}` })),
    close: async () => {
      await server.close(0);
      await core.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
