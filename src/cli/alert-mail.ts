/**
 * Mail delivery of expiry alerts: the nodemailer SMTP transport, TLS to the
 * server always verified, STARTTLS required before credentials go out.
 */
import { readFileSync } from 'node:fs';
import { createTransport } from 'nodemailer';
import type { MailTransport } from '../alerts/index.js';
import { ConfigError, type Config } from '../config/index.js';

/**
 * nodemailer's idle timeouts, kept as a first line; the overall deadline per
 * send is ours (alertsSmtpTimeout, src/alerts/deadline.ts). socketCloseTimeout
 * 0: an aborted send destroys its socket at once instead of half-closing it
 * and waiting for a server that may never close its side.
 */
const MAIL_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000, socketCloseTimeout: 0 } as const;

/** True when credentials would go out over a connection that is not TLS from the first byte. */
export function authNeedsStartTls(config: Config): boolean {
  return config.alertsSmtpUser !== undefined && !config.alertsSmtpSecure;
}

/**
 * STARTTLS is mandatory when credentials are set and the connection is not TLS
 * from the start (RFC 4954 §4: a client SHOULD NOT send a plaintext password
 * without a security layer; RFC 3207 §4: an active attacker can strip the
 * STARTTLS keyword, so "when offered" is not enough). nodemailer's requireTLS
 * sends STARTTLS whatever the EHLO says and fails before AUTH when it is refused.
 */
function mustRequireTls(config: Config): boolean {
  return authNeedsStartTls(config) && !config.alertsSmtpAllowPlaintextAuth;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** nodemailer's STARTTLS refusal, said in the operator's terms. */
export class SmtpTlsRequiredError extends Error {
  constructor(host: string, cause: unknown) {
    super(
      `the SMTP server ${host} did not complete STARTTLS (${cause instanceof Error ? cause.message : String(cause)}); ` +
        'credentials are sent only over TLS, so nothing was sent (alertsSmtpSecure for TLS from the first byte, or alertsSmtpAllowPlaintextAuth to opt out)',
      { cause },
    );
    this.name = 'SmtpTlsRequiredError';
  }
}

/** A nodemailer SMTP transport when mail alerts are configured; certificate verification of the server is always on. */
export function createMailTransport(config: Config): MailTransport | undefined {
  const host = config.alertsSmtpHost;
  if (host === undefined) return undefined;
  const requireTLS = mustRequireTls(config);
  const transport = createTransport({
    host,
    port: config.alertsSmtpPort,
    secure: config.alertsSmtpSecure,
    requireTLS,
    ...(config.alertsSmtpUser === undefined ? {} : { auth: { user: config.alertsSmtpUser, pass: config.alertsSmtpPassword ?? '' } }),
    tls: {
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...(config.alertsSmtpCaFile === undefined ? {} : { ca: readSmtpCaFile(config.alertsSmtpCaFile) }),
    },
    ...MAIL_TIMEOUTS,
  });
  const mail: MailTransport = {
    sendMail: async (message) => {
      try {
        return await transport.sendMail(message);
      } catch (error) {
        throw requireTLS && errorCode(error) === 'ETLS' ? new SmtpTlsRequiredError(host, error) : error;
      }
    },
  };
  return mail;
}

function readSmtpCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`alertsSmtpCaFile: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`]);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError([`alertsSmtpCaFile: ${path} holds no PEM certificate`]);
  return pem;
}
