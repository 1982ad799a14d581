/**
 * In-memory stand-ins for the ports http declares (STYLE §5 fakes): a
 * ledger that reads real certificates, a bundle from the test CA, health
 * checks with settable results and a clock that tests move.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { DomainError } from '../../../src/shared/errors.js';
import type {
  CertificatePage,
  CertificateQuery,
  CertificateRecord,
  ExpiryTimelineCount,
  ExpiryTimelineQuery,
  ProfileName,
  RevocationReason,
  SubjectAltName,
} from '../../../src/domain/certificates.js';
import type {
  CertificateReader,
  CertificateRevoker,
  CertificateStatusView,
  HealthCheck,
  HealthCheckResult,
  TrustBundleSource,
} from '../../../src/http/ports.js';
import type { Clock } from '../../../src/shared/clock.js';

export class FakeClock implements Clock {
  constructor(public ms: number = Date.parse('2030-01-01T00:00:00Z')) {}
  now(): number {
    return this.ms;
  }
}

/** First PEM block of a (chain) file, parsed. */
export function firstCertificate(pem: string | Buffer): X509Certificate {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  const match = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (match === null) throw new Error('no certificate in PEM');
  return new X509Certificate(match[0]);
}

/** The engine's serial form: lowercase hex without leading zero octets. */
export function serialOf(cert: X509Certificate): string {
  let hex = cert.serialNumber.toLowerCase();
  while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
  return hex;
}

function sansOf(cert: X509Certificate): SubjectAltName[] {
  const sans: SubjectAltName[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    const colon = entry.indexOf(':');
    if (colon === -1) continue;
    const kind = entry.slice(0, colon);
    const value = entry.slice(colon + 1);
    if (kind === 'DNS') sans.push({ type: 'dns', value });
    else if (kind === 'IP Address') sans.push({ type: 'ip', value });
    else if (kind === 'URI') sans.push({ type: 'uri', value });
  }
  return sans;
}

export interface RecordOptions {
  readonly profile?: ProfileName;
  readonly requester?: string;
  readonly notAfter?: number;
}

/** A ledger row for a real certificate, the way the issuance pipeline would record it. */
export function recordOf(cert: X509Certificate, options: RecordOptions = {}): CertificateRecord {
  const sans = sansOf(cert);
  const spiffe = sans.find((san) => san.type === 'uri' && san.value.startsWith('spiffe://'));
  return {
    serial: serialOf(cert),
    issuer: cert.issuer,
    subject: cert.subject,
    sans,
    spiffeId: spiffe?.value ?? null,
    profile: options.profile ?? 'svid',
    requester: options.requester ?? 'system',
    notBefore: Date.parse(cert.validFrom),
    notAfter: options.notAfter ?? Date.parse(cert.validTo),
    status: 'valid',
    revokedAt: null,
    revocationReason: null,
    der: new Uint8Array(cert.raw),
    fingerprint: createHash('sha256').update(cert.raw).digest('hex'),
    issuedAt: Date.parse(cert.validFrom),
  };
}

/** The ledger and the Authority's revocation in one map; it records the queries it was asked. */
export class FakeLedger implements CertificateReader, CertificateRevoker {
  readonly records = new Map<string, CertificateRecord>();
  readonly queries: CertificateQuery[] = [];
  /** Set to make list() fail, e.g. with a plain Error (internal) or a DomainError. */
  listFailure: Error | undefined;
  /** Set to make statusOf() (the per-request client-certificate check) fail, e.g. with DomainError('unavailable'). */
  statusFailure: Error | undefined;

  constructor(private readonly clock: Clock) {}

  add(record: CertificateRecord): CertificateRecord {
    this.records.set(record.serial, record);
    return record;
  }

  list(q: CertificateQuery): CertificatePage {
    this.queries.push(q);
    if (this.listFailure !== undefined) throw this.listFailure;
    const now = q.now ?? this.clock.now();
    let items = [...this.records.values()].sort((a, b) => (a.serial < b.serial ? -1 : 1));
    if (q.expiringWithinMs !== undefined) {
      const horizon = now + q.expiringWithinMs;
      items = items.filter((r) => r.status === 'valid' && r.notAfter >= now && r.notAfter <= horizon);
    }
    if (q.status !== undefined) items = items.filter((r) => r.status === q.status);
    if (q.profile !== undefined) items = items.filter((r) => r.profile === q.profile);
    if (q.spiffeId !== undefined) items = items.filter((r) => r.spiffeId === q.spiffeId);
    if (q.dnsName !== undefined) items = items.filter((r) => r.sans.some((s) => s.type === 'dns' && s.value === q.dnsName));
    const start = q.cursor === undefined ? 0 : Number(q.cursor);
    if (!Number.isInteger(start) || start < 0) throw new DomainError('malformed', 'cursor is not one this listing handed out');
    const limit = q.limit ?? 100;
    const page = items.slice(start, start + limit);
    const next = start + limit < items.length ? String(start + limit) : null;
    return { items: page, nextCursor: next };
  }

  findBySerial(serial: string): CertificateRecord | undefined {
    return this.records.get(serial);
  }

  /** The timeline the ledger would aggregate in SQL, counted here over the few records a route test adds. */
  expiryTimeline(query: ExpiryTimelineQuery): ExpiryTimelineCount[] {
    const counts = new Map<string, ExpiryTimelineCount>();
    for (const r of this.records.values()) {
      if (r.status !== 'valid' || r.notAfter < query.now || r.notAfter >= query.to) continue;
      const day = Math.floor((r.notAfter - query.from) / 86_400_000);
      const key = `${day}/${r.profile}`;
      counts.set(key, { day, profile: r.profile, count: (counts.get(key)?.count ?? 0) + 1 });
    }
    return [...counts.values()];
  }

  statusOf(serial: string): CertificateStatusView | undefined {
    if (this.statusFailure !== undefined) throw this.statusFailure;
    const r = this.records.get(serial);
    return r === undefined ? undefined : { status: r.status, notAfter: r.notAfter, revokedAt: r.revokedAt, reason: r.revocationReason };
  }

  revoke(serial: string, reason: RevocationReason): CertificateRecord {
    const r = this.records.get(serial);
    if (r === undefined) throw new DomainError('notFound', `no certificate ${serial}`);
    if (r.status === 'revoked') throw new DomainError('conflict', `certificate ${serial} is already revoked`);
    const revoked: CertificateRecord = { ...r, status: 'revoked', revokedAt: this.clock.now(), revocationReason: reason };
    this.records.set(serial, revoked);
    return revoked;
  }
}

export class FakeBundle implements TrustBundleSource {
  private readonly ders: Uint8Array[];
  constructor(
    private readonly pems: readonly string[],
    public seq = 7,
  ) {
    this.ders = pems.map((pem) => new Uint8Array(firstCertificate(pem).raw));
  }
  pem(): string {
    return this.pems.join('');
  }
  authorities(): readonly Uint8Array[] {
    return this.ders;
  }
  issuers(): readonly Uint8Array[] {
    return this.ders;
  }
  sequence(): number {
    return this.seq;
  }
}

export class FakeHealthCheck implements HealthCheck {
  result: HealthCheckResult = { ok: true };
  throws: Error | undefined;
  constructor(readonly name: string) {}
  check(): HealthCheckResult {
    if (this.throws !== undefined) throw this.throws;
    return this.result;
  }
}
