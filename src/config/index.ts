/**
 * Loading the configuration: the settings file (YAML or JSON) and KEYSMITH_*
 * variables over it, checked against the schema (schema.ts), with
 * errors that name the file or variable and the key, and warnings for
 * variables keysmith does not know.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { closestName, isCloseEnough } from './rules.js';
import { CONFIG_SHAPE, ConfigSchema, type Config } from './schema.js';

export { ConfigSchema, DurationSchema, isCidr, parseAlertThresholds, parseDuration, type AlertThreshold, type Config } from './schema.js';

/** Environment variables and the field each sets. */
const ENVIRONMENT: Readonly<Record<string, keyof Config>> = {
  KEYSMITH_DATA_DIR: 'dataDir',
  KEYSMITH_LISTEN: 'listen',
  KEYSMITH_TRUST_DOMAIN: 'trustDomain',
  KEYSMITH_MTLS_MODE: 'mtlsMode',
  KEYSMITH_CA_PASSPHRASE: 'caPassphrase',
  KEYSMITH_CA_ROTATION_OVERLAP: 'caRotationOverlap',
  KEYSMITH_CA_RENEW_WARNING_PERCENT: 'caRenewWarningPercent',
  KEYSMITH_CA_RELOAD_INTERVAL: 'caReloadInterval',
  KEYSMITH_CA_ALGORITHM: 'caAlgorithm',
  KEYSMITH_PUBLIC_URL: 'publicUrl',
  KEYSMITH_LOG_LEVEL: 'logLevel',
  KEYSMITH_SERVER_CERTIFICATE_TTL: 'serverCertificateTtl',
  KEYSMITH_ADMIN_CERTIFICATE_TTL: 'adminCertificateTtl',
  KEYSMITH_SHUTDOWN_GRACE_MS: 'shutdownGraceMs',
  KEYSMITH_CRYPTO_WORKERS: 'cryptoWorkers',
  KEYSMITH_MAX_CONNECTIONS: 'maxConnections',
  KEYSMITH_PROXY_PROTOCOL_FROM: 'proxyProtocolFrom',
  KEYSMITH_HANDSHAKE_TIMEOUT: 'handshakeTimeout',
  KEYSMITH_TLS_MIN_VERSION: 'tlsMinVersion',
  KEYSMITH_TLS_EARLY_DATA: 'tlsEarlyData',
  KEYSMITH_HEADERS_TIMEOUT: 'headersTimeout',
  KEYSMITH_REQUEST_TIMEOUT: 'requestTimeout',
  KEYSMITH_KEEP_ALIVE_TIMEOUT: 'keepAliveTimeout',
  KEYSMITH_OCSP_VALIDITY: 'ocspValidity',
  KEYSMITH_OCSP_CACHE_SIZE: 'ocspCacheSize',
  KEYSMITH_OCSP_RESPONDER_RENEW_PERCENT: 'ocspResponderRenewPercent',
  KEYSMITH_LEDGER_CHECKPOINT_INTERVAL: 'ledgerCheckpointInterval',
  KEYSMITH_LEDGER_WAL_SIZE_LIMIT: 'ledgerWalSizeLimit',
  KEYSMITH_RETENTION_PERIOD: 'retentionPeriod',
  KEYSMITH_RETENTION_INTERVAL: 'retentionInterval',
  KEYSMITH_CRL_VALIDITY: 'crlValidity',
  KEYSMITH_CRL_REFRESH_INTERVAL: 'crlRefreshInterval',
  KEYSMITH_CRL_SHARDS: 'crlShards',
  KEYSMITH_DATABASE_URL: 'databaseUrl',
  KEYSMITH_DATABASE_POOL_SIZE: 'databasePoolSize',
  KEYSMITH_DATABASE_STATEMENT_TIMEOUT: 'databaseStatementTimeout',
  KEYSMITH_DATABASE_SSL_MODE: 'databaseSslMode',
  KEYSMITH_DATABASE_SSL_CA_FILE: 'databaseSslCaFile',
  KEYSMITH_CRL_REBUILD_DELAY_MS: 'crlRebuildDelayMs',
  KEYSMITH_CRL_REBUILD_MAX_DELAY_MS: 'crlRebuildMaxDelayMs',
  KEYSMITH_OCSP_HTTP_LISTEN: 'ocspHttpListen',
  KEYSMITH_OCSP_HTTP_URL: 'ocspHttpPublicUrl',
  KEYSMITH_ALERTS_SCHEDULE: 'alertsSchedule',
  KEYSMITH_ALERTS_THRESHOLDS: 'alertsThresholds',
  KEYSMITH_ALERTS_MODE: 'alertsMode',
  KEYSMITH_ALERTS_WEBHOOK_URL: 'alertsWebhookUrl',
  KEYSMITH_ALERTS_WEBHOOK_SECRET: 'alertsWebhookSecret',
  KEYSMITH_ALERTS_WEBHOOK_TIMEOUT: 'alertsWebhookTimeout',
  KEYSMITH_ALERTS_SMTP_HOST: 'alertsSmtpHost',
  KEYSMITH_ALERTS_SMTP_PORT: 'alertsSmtpPort',
  KEYSMITH_ALERTS_SMTP_SECURE: 'alertsSmtpSecure',
  KEYSMITH_ALERTS_SMTP_USER: 'alertsSmtpUser',
  KEYSMITH_ALERTS_SMTP_PASSWORD: 'alertsSmtpPassword',
  KEYSMITH_ALERTS_SMTP_TIMEOUT: 'alertsSmtpTimeout',
  KEYSMITH_ALERTS_SMTP_ALLOW_PLAINTEXT_AUTH: 'alertsSmtpAllowPlaintextAuth',
  KEYSMITH_ALERTS_SMTP_CA_FILE: 'alertsSmtpCaFile',
  KEYSMITH_ALERTS_MAIL_FROM: 'alertsMailFrom',
  KEYSMITH_ALERTS_MAIL_TO: 'alertsMailTo',
  KEYSMITH_ALERTS_MAX_PER_RUN: 'alertsMaxPerRun',
  KEYSMITH_ALERTS_MAX_PER_RECIPIENT: 'alertsMaxPerRecipient',
  KEYSMITH_ALERTS_MAX_ATTEMPTS: 'alertsMaxAttempts',
  KEYSMITH_ALERTS_RUN_TIMEOUT: 'alertsRunTimeout',
  KEYSMITH_ACME_VALIDATION_ADDRESS: 'acmeValidationAddress',
  KEYSMITH_ACME_VALIDATION_ROUTABLE_RANGES: 'acmeValidationRoutableRanges',
  KEYSMITH_ACME_HTTP01_PORT: 'acmeHttp01Port',
  KEYSMITH_ACME_TLSALPN01_PORT: 'acmeTlsAlpn01Port',
  KEYSMITH_ACME_DNS_RESOLVER: 'acmeDnsResolver',
  KEYSMITH_ACME_ALLOWED_SUFFIXES: 'acmeAllowedSuffixes',
  KEYSMITH_ACME_ALLOWED_IP_RANGES: 'acmeAllowedIpRanges',
  KEYSMITH_ACME_EAB_REQUIRED: 'acmeEabRequired',
  KEYSMITH_ACME_TERMS_OF_SERVICE: 'acmeTermsOfService',
  KEYSMITH_ACME_WEBSITE: 'acmeWebsite',
  KEYSMITH_ACME_MAX_VALIDATIONS: 'acmeMaxValidations',
  KEYSMITH_ACME_MAX_VALIDATIONS_PER_ACCOUNT: 'acmeMaxValidationsPerAccount',
  KEYSMITH_ACME_MAX_QUEUED_VALIDATIONS: 'acmeMaxQueuedValidations',
  KEYSMITH_ACME_MAX_QUEUED_VALIDATIONS_PER_ACCOUNT: 'acmeMaxQueuedValidationsPerAccount',
  KEYSMITH_SVID_MAX_TTL: 'svidMaxTtl',
  KEYSMITH_JOIN_TOKEN_BURST: 'joinTokenBurst',
  KEYSMITH_JOIN_TOKEN_INTERVAL: 'joinTokenInterval',
  KEYSMITH_JWT_ROTATION_OVERLAP: 'jwtRotationOverlap',
  KEYSMITH_JWT_KEY_CHECK_INTERVAL: 'jwtKeyCheckInterval',
};

const NUMERIC_FIELDS = new Set<keyof Config>([
  'caRenewWarningPercent',
  'databasePoolSize',
  'shutdownGraceMs',
  'cryptoWorkers',
  'maxConnections',
  'tlsEarlyData',
  'crlShards',
  'crlRebuildDelayMs',
  'crlRebuildMaxDelayMs',
  'ocspCacheSize',
  'ocspResponderRenewPercent',
  'ledgerWalSizeLimit',
  'alertsSmtpPort',
  'alertsMaxPerRun',
  'alertsMaxPerRecipient',
  'alertsMaxAttempts',
  'acmeHttp01Port',
  'acmeTlsAlpn01Port',
  'acmeMaxValidations',
  'acmeMaxValidationsPerAccount',
  'acmeMaxQueuedValidations',
  'acmeMaxQueuedValidationsPerAccount',
  'joinTokenBurst',
]);
/** Never echoed in error messages (a webhook URL may carry a token). */
const SECRET_FIELDS = new Set<string>(['caPassphrase', 'alertsWebhookSecret', 'alertsWebhookUrl', 'alertsSmtpUser', 'alertsSmtpPassword']);

/** A configuration that cannot be used; the message names each field and what was expected. */
export class ConfigError extends Error {
  /** `warnings`: what readConfig would have returned beside a usable configuration (unknown KEYSMITH_* variables), shown too. */
  constructor(
    readonly problems: readonly string[],
    readonly warnings: readonly string[] = [],
  ) {
    const also = warnings.length === 0 ? '' : `\nwarnings:\n  - ${warnings.join('\n  - ')}`;
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}${also}`);
    this.name = 'ConfigError';
  }
}

/** Where the configuration comes from. */
export interface ConfigSources {
  readonly file?: string;
  readonly env: NodeJS.ProcessEnv;
}

/** A usable configuration and what is worth telling the operator about it (unknown KEYSMITH_* variables). */
export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: readonly string[];
}

/**
 * KEYSMITH_* variables that are not settings but are read by the project's own
 * tooling (tests, docker-compose.yml): never reported as unknown.
 */
const TOOLING_VARIABLES = /^KEYSMITH_(?:TEST_\w+|HA_\w+|SEED|REQUIRE_INTEROP|PG_BIN|DB_PASSWORD)$/;

/**
 * Reads the configuration: defaults, then the file (YAML or JSON), then
 * KEYSMITH_* variables. Only the CLI calls this: it is the one reader of the
 * environment. A problem with the settings is a ConfigError naming the file
 * and key (or the variable) of each one; an unknown KEYSMITH_* variable is a
 * warning, returned for the caller to print or log.
 */
export function readConfig(options: ConfigSources): LoadedConfig {
  const raw: Record<string, unknown> = {};
  /** How each field is named in messages: `file: key`, or `VARIABLE (key)`. */
  const origin = new Map<string, string>();
  const problems: string[] = [];
  if (options.file !== undefined) {
    for (const [key, value] of Object.entries(readConfigFile(options.file))) {
      if (!KNOWN_KEYS.includes(key)) {
        problems.push(
          `${options.file}: ${key}: unknown key${suggestion(key, [...KNOWN_KEYS, ...Object.keys(ENVIRONMENT)], (name) => ENVIRONMENT[name] ?? name)}`,
        );
        continue;
      }
      raw[key] = value;
      origin.set(key, `${options.file}: ${key}`);
    }
  }
  for (const [variable, field] of Object.entries(ENVIRONMENT)) {
    const value = options.env[variable];
    if (value === undefined || value === '') continue;
    raw[field] = NUMERIC_FIELDS.has(field) && /^\d+$/.test(value) ? Number(value) : value;
    origin.set(field, `${variable} (${field})`);
  }
  const warnings = unknownVariables(options.env);
  const result = ConfigSchema.safeParse(raw);
  for (const issue of result.success ? [] : result.error.issues) problems.push(describeIssue(issue, raw, origin));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems, warnings);
  return { config: result.data, warnings };
}

/** readConfig, handing each warning to `onWarning` (the CLI prints them on stderr; dropped when absent). */
export function loadConfig(options: ConfigSources & { readonly onWarning?: (message: string) => void }): Config {
  const { config, warnings } = readConfig(options);
  for (const warning of warnings) options.onWarning?.(warning);
  return config;
}

const KNOWN_KEYS: readonly string[] = Object.keys(CONFIG_SHAPE);

function readConfigFile(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    parsed = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${file}: ${err instanceof Error ? err.message : String(err)}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([`${file}: expected a mapping of settings`]);
  return { ...parsed };
}

/** One schema issue as `file: key: message (got ...)` or `VARIABLE (key): message (got ...)`; secrets never echoed. */
function describeIssue(issue: z.core.$ZodIssue, raw: Record<string, unknown>, origin: ReadonlyMap<string, string>): string {
  const field = String(issue.path[0] ?? '');
  const item =
    issue.path.length > 1
      ? issue.path
          .slice(1)
          .map((part) => `[${String(part)}]`)
          .join('')
      : '';
  const where = `${origin.get(field) ?? field}${item}`;
  const given = SECRET_FIELDS.has(field) || !(field in raw) ? '' : ` (got ${JSON.stringify(raw[field])})`;
  return `${where}: ${issue.message}${given}`;
}

/** Each KEYSMITH_* variable that sets nothing, with the known variable closest to it. */
function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = Object.keys(ENVIRONMENT);
  const warnings: string[] = [];
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith('KEYSMITH_') || variable in ENVIRONMENT || TOOLING_VARIABLES.test(variable)) continue;
    const closest = closestName(
      variable.slice('KEYSMITH_'.length),
      known.map((name) => name.slice('KEYSMITH_'.length)),
    );
    const hint =
      closest === undefined
        ? ''
        : isCloseEnough(variable, closest.distance)
          ? ` (did you mean KEYSMITH_${closest.name}?)`
          : ` (the closest known one is KEYSMITH_${closest.name})`;
    warnings.push(`${variable} is not a keysmith setting and is ignored${hint}`);
  }
  return warnings;
}

/** " (did you mean X?)" when a candidate is close; `display` maps the candidate found to the name to suggest. */
function suggestion(input: string, candidates: readonly string[], display: (name: string) => string): string {
  const closest = closestName(input, candidates);
  if (closest === undefined || !isCloseEnough(input, closest.distance)) return '';
  return ` (did you mean ${display(closest.name)}?)`;
}
