/**
 * The console's one client of keysmith's public HTTP API (openapi/openapi.json and the issue-17 contract).
 * Same origin only: the browser presents the admin's client certificate on the TLS connection, so no token
 * is ever held here. Failures arrive as RFC 9457 problem documents and become ApiError with their `detail`.
 */

// The service's own names (src/domain is free of Node imports), so the console's choices cannot drift from what the API accepts.
import { LISTED_STATUSES, PROFILE_NAMES, REVOCABLE_REASONS } from '../../src/domain/certificates.js';
import type { ListedStatus, ProfileName, RevocableReason } from '../../src/domain/certificates.js';
import type { AlertStatus as DomainAlertStatus } from '../../src/domain/alerts.js';

export { PROFILE_NAMES, REVOCABLE_REASONS };
export type { ProfileName, RevocableReason };
export const CERTIFICATE_STATUSES = LISTED_STATUSES;
export type CertificateStatus = ListedStatus;

export const ALERT_STATUSES = ['pending', 'sent', 'failed'] as const satisfies readonly DomainAlertStatus[];
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export interface Page<T> {
  readonly items: readonly T[];
  readonly next_cursor: string | null;
}

export interface Certificate {
  readonly serial: string;
  readonly subject: string;
  readonly issuer: string;
  readonly spiffe_id: string | null;
  readonly dns_names: readonly string[];
  readonly profile: ProfileName;
  readonly requester: string;
  readonly not_before: string;
  readonly not_after: string;
  readonly status: CertificateStatus;
  readonly revoked_at: string | null;
  readonly revocation_reason: string | null;
  readonly fingerprint: string;
}

export interface TimelineBucket {
  readonly date: string;
  readonly total: number;
  readonly counts: Partial<Record<ProfileName, number>>;
}

export interface Timeline {
  readonly from: string;
  readonly now: string;
  readonly days: number;
  readonly profiles: readonly ProfileName[];
  readonly total: number;
  readonly buckets: readonly TimelineBucket[];
  readonly thresholds: readonly { readonly within_days: number; readonly profiles: readonly ProfileName[] | null }[];
  readonly authorities: readonly {
    readonly kind: 'root' | 'intermediate';
    readonly subject: string;
    readonly serial: string;
    readonly not_after: string;
  }[];
}

export interface OcspStatus {
  readonly serial: string;
  readonly cert_status: 'good' | 'revoked' | 'unknown';
  readonly revoked_at: string | null;
  readonly revocation_reason: string | null;
  readonly produced_at: string;
  readonly this_update: string;
  readonly next_update: string | null;
  readonly responder: string;
}

export interface AlertCertificate {
  readonly serial: string;
  readonly subject: string;
  readonly spiffe_id: string | null;
  readonly dns_names: readonly string[];
  readonly not_after: string;
  readonly days_left: number;
  readonly profile: ProfileName;
  readonly requester: string;
}

export interface Alert {
  readonly id: number;
  readonly threshold: string;
  readonly enqueued_at: string;
  readonly status: AlertStatus;
  readonly attempts: number;
  readonly last_error: string | null;
  readonly certificate: AlertCertificate;
  readonly deliveries: readonly {
    readonly channel: 'webhook' | 'mail';
    readonly recipient: string;
    readonly status: AlertStatus;
    readonly attempts: number;
    readonly last_error: string | null;
    readonly sent_at: string | null;
  }[];
}

export interface AlertRun {
  readonly run_id: number;
  readonly enqueued: readonly (AlertCertificate & { readonly id: number; readonly threshold: string })[];
  readonly messages_queued: number;
}

export interface Entry {
  readonly id: string;
  readonly spiffe_id: string;
  readonly parent_id: string;
  readonly x509_ttl: number;
  readonly jwt_ttl: number;
  readonly dns_names: readonly string[];
  readonly admin: boolean;
  readonly expires_at: string | null;
  readonly created_at: string;
  readonly updated_at: string;
  readonly created_by: string;
}

export interface NewEntry {
  readonly spiffe_id: string;
  readonly parent_id: string;
  readonly x509_ttl?: number;
  readonly dns_names?: readonly string[];
  readonly admin?: boolean;
}

export interface JoinToken {
  readonly id: string;
  readonly spiffe_id: string;
  readonly status: 'unused' | 'used' | 'expired' | 'revoked';
  readonly created_at: string;
  readonly created_by: string;
  readonly expires_at: string;
  readonly used_at: string | null;
  readonly used_by_serial: string | null;
  readonly revoked_at: string | null;
}

/** A refusal or failure, carrying the problem document's detail (or what went wrong on the way). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

/** The text the console shows for any failure. */
/** Input the console refuses before asking the API; its message is shown as it is. */
export class InputError extends Error {}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.detail;
  if (error instanceof InputError) return error.message;
  if (error instanceof Error) return `The request failed: ${error.message}`;
  return 'The request failed.';
}

type Query = Readonly<Record<string, string | number | undefined>>;

function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

async function failure(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && typeof body['detail'] === 'string') return new ApiError(response.status, body['detail']);
  } catch {
    // Not a problem document (a proxy's error page): the status line says what we know.
  }
  return new ApiError(response.status, `The server answered ${response.status} ${response.statusText}.`.replace(' .', '.'));
}

async function send(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<Response> {
  const headers: Record<string, string> = { accept };
  const init: RequestInit = { method, credentials: 'same-origin', headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response;
}

async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await send(method, path, body);
  // The shapes are the API's (openapi/openapi.json); the console trusts its own server's documents.
  const parsed: unknown = await response.json();
  return parsed as T;
}

export const api = {
  timeline: (days = 90) => json<Timeline>('GET', withQuery('/v1/certificates/timeline', { days })),

  certificates: (query: {
    spiffe_id?: string;
    dns_name?: string;
    profile?: string;
    status?: string;
    expires_after?: string;
    expires_before?: string;
    cursor?: string;
    limit?: number;
  }) => json<Page<Certificate>>('GET', withQuery('/v1/certificates', query)),

  certificate: (serial: string) => json<Certificate>('GET', `/v1/certificates/${encodeURIComponent(serial)}`),

  /** The chain as PEM (leaf first, up to the root's child), as `Accept: application/pem-certificate-chain` asks. */
  chainPem: async (serial: string) =>
    (await send('GET', `/v1/certificates/${encodeURIComponent(serial)}`, undefined, 'application/pem-certificate-chain')).text(),

  ocsp: (serial: string) => json<OcspStatus>('GET', `/v1/certificates/${encodeURIComponent(serial)}/ocsp`),

  revoke: (serial: string, reason: RevocableReason) =>
    json<Certificate>('POST', `/v1/certificates/${encodeURIComponent(serial)}/revoke`, { reason }),

  alerts: (query: { status?: string; serial?: string; cursor?: string; limit?: number }) =>
    json<Page<Alert>>('GET', withQuery('/v1/alerts', query)),

  runAlerts: () => json<AlertRun>('POST', '/v1/alerts/run', {}),

  entries: (query: { cursor?: string; limit?: number }) => json<Page<Entry>>('GET', withQuery('/v1/entries', query)),

  createEntry: (entry: NewEntry) => json<Entry>('POST', '/v1/entries', entry),

  deleteEntry: async (id: string) => {
    await send('DELETE', `/v1/entries/${encodeURIComponent(id)}`);
  },

  joinTokens: (query: { status?: string; cursor?: string; limit?: number }) =>
    json<Page<JoinToken>>('GET', withQuery('/v1/join-tokens', query)),

  createJoinToken: (spiffeId: string, ttl: string) =>
    json<JoinToken & { readonly token: string }>('POST', '/v1/join-tokens', { spiffe_id: spiffeId, ttl }),

  revokeJoinToken: async (id: string) => {
    await send('DELETE', `/v1/join-tokens/${encodeURIComponent(id)}`);
  },
};
