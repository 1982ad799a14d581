import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** `host:port`, with IPv6 hosts in brackets. */
const ListenSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8443')
  .transform((value, ctx) => {
    const at = value.lastIndexOf(':');
    const port = Number(value.slice(at + 1));
    if (port < 1 || port > 65535) ctx.addIssue({ code: 'custom', message: `port ${port} is outside 1..65535` });
    return { host: value.slice(0, at).replace(/^\[|\]$/g, ''), port };
  });

/** Durations as operators write them: 90s, 15m, 12h, 7d. */
export const DurationSchema = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, 'expected a duration such as 90s, 15m, 12h or 7d')
  .transform((value) => parseDuration(value));

export function parseDuration(value: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(value);
  if (match === null) throw new RangeError(`not a duration: ${value}`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** The one configuration schema; defaults work on a laptop. */
export const ConfigSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    listen: ListenSchema.default({ host: '127.0.0.1', port: 8443 }),
    trustDomain: z
      .string()
      .regex(/^[a-z0-9._-]+$/, 'expected a lowercase trust domain name (a-z, 0-9, ".", "-", "_")')
      .default('keysmith.local'),
    mtlsMode: z.enum(['standard', 'strict']).default('standard'),
    caPassphrase: z.string().min(8, 'expected at least 8 characters').optional(),
    caAlgorithm: z.enum(['P-256', 'P-384']).default('P-256'),
    /** Base URL clients use to reach this service (AIA OCSP URL); default https://<listen>. */
    publicUrl: z.url().optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Lifetime of the listener's own certificate; renewed at start when a third of it is left. */
    serverCertificateTtl: DurationSchema.default(30 * 86_400_000),
    /** Lifetime of the bootstrap admin certificate made by `init` (the CA allows at most 90 days). */
    adminCertificateTtl: DurationSchema.pipe(z.number().max(90 * 86_400_000, 'expected at most 90d')).default(90 * 86_400_000),
    /** How long SIGTERM waits for in-flight requests. */
    shutdownGraceMs: z.number().int().min(0).max(600_000).default(10_000),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

/** Environment variables and the field each sets. */
const ENVIRONMENT: Readonly<Record<string, keyof Config>> = {
  KEYSMITH_DATA_DIR: 'dataDir',
  KEYSMITH_LISTEN: 'listen',
  KEYSMITH_TRUST_DOMAIN: 'trustDomain',
  KEYSMITH_MTLS_MODE: 'mtlsMode',
  KEYSMITH_CA_PASSPHRASE: 'caPassphrase',
  KEYSMITH_CA_ALGORITHM: 'caAlgorithm',
  KEYSMITH_PUBLIC_URL: 'publicUrl',
  KEYSMITH_LOG_LEVEL: 'logLevel',
  KEYSMITH_SERVER_CERTIFICATE_TTL: 'serverCertificateTtl',
  KEYSMITH_ADMIN_CERTIFICATE_TTL: 'adminCertificateTtl',
  KEYSMITH_SHUTDOWN_GRACE_MS: 'shutdownGraceMs',
};

const NUMERIC_FIELDS = new Set<keyof Config>(['shutdownGraceMs']);

/** A configuration that cannot be used; the message names each field and what was expected. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads the configuration: defaults, then the file (YAML or JSON), then
 * KEYSMITH_* variables. Only the CLI calls this: it is the one reader of the
 * environment.
 */
export function loadConfig(options: { file?: string; env: NodeJS.ProcessEnv }): Config {
  const raw: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  if (options.file !== undefined) {
    let parsed: unknown;
    try {
      const text = readFileSync(options.file, 'utf8');
      parsed = extname(options.file) === '.json' ? JSON.parse(text) : parseYaml(text);
    } catch (err) {
      throw new ConfigError([`${options.file}: ${err instanceof Error ? err.message : String(err)}`]);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([`${options.file}: expected a mapping of settings`]);
      for (const [key, value] of Object.entries(parsed)) {
        raw[key] = value;
        origin.set(key, `${options.file}: ${key}`);
      }
    }
  }
  for (const [variable, field] of Object.entries(ENVIRONMENT)) {
    const value = options.env[variable];
    if (value === undefined || value === '') continue;
    raw[field] = NUMERIC_FIELDS.has(field) && /^\d+$/.test(value) ? Number(value) : value;
    origin.set(field, variable);
  }
  const result = ConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? '');
      const where = origin.get(field) ?? field;
      const secret = field === 'caPassphrase';
      const given = secret || !(field in raw) ? '' : ` (got ${JSON.stringify(raw[field])})`;
      return `${where}${where === field ? '' : ` (${field})`}: ${issue.message}${given}`;
    }),
  );
}
