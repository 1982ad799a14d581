/**
 * A fleet-sized ledger made from real certificates, for measurements and for
 * the hostile tests that need a big ledger (test/hostile/ledger-scale).
 *
 * 1. `openCore` on a fresh data directory creates the CA, the listener and
 *    admin identities exactly as `keysmith serve` does on first start.
 * 2. A few hundred certificates are issued through the real Authority (its
 *    DER template, its ledger rows): SVIDs, tls-server and node certificates.
 * 3. Each template is cloned into many rows: a fresh random serial, a SPIFFE ID
 *    or DNS name of the same length, and realistic times, all patched into a
 *    copy of the template's DER (so serial, SAN and validity inside the DER
 *    match the row; only the signature no longer verifies), then fingerprinted.
 * 4. Rows go in with one prepared statement, one transaction per 50,000 rows,
 *    synchronous=OFF and a large page cache (this is a bulk load, not issuance).
 *
 * The mix: 95% 1-hour SVIDs issued over the last 30 days, spread over
 * ~100,000 SPIFFE IDs; the rest tls-server and node certificates with 90-day
 * lifetimes issued over the last 90 days; 2% of all rows revoked.
 */
import { createHash, randomBytes, generateKeyPairSync } from 'node:crypto';
import Database from 'better-sqlite3';
import { openCore } from '../../src/cli/compose.js';
import { loadConfig } from '../../src/config/index.js';
import { latestParams, RECORD_LATEST_PER_SPIFFE_ID, type LatestParams } from '../../src/ledger/attention.js';
import { namesOf } from '../../src/ledger/certificate-rows.js';
import type { CertificateRecord, ProfileName, SubjectAltName } from '../../src/domain/certificates.js';

export interface FleetLedgerOptions {
  readonly dataDir: string;
  /** Rows in the ledger at the end (the service's own few included). */
  readonly rows: number;
  /** The ledger's "now": rows are issued before it (default Date.now()). */
  readonly now?: number;
  readonly trustDomain?: string;
  /** Distinct SPIFFE IDs among the SVIDs (default 100,000, or rows/10 when fewer rows). */
  readonly identities?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface FleetLedgerReport {
  readonly rows: number;
  readonly byProfile: Readonly<Record<string, number>>;
  readonly revoked: number;
  readonly templates: number;
  readonly seconds: number;
  readonly databasePath: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BATCH_ROWS = 50_000;
const SVID_TEMPLATES = 240;
const SERVER_TEMPLATES = 40;
const NODE_TEMPLATES = 20;
const REVOKED_SHARE = 0.02;
const SVID_SHARE = 0.95;
const BACKDATE_MS = 60_000;
/** Fixed-width numbers in names, so a clone's name has the template's length and patches in place. */
const DIGITS = 7;

interface Template {
  readonly record: CertificateRecord;
  /** The name patched per clone (SPIFFE ID or DNS name), and where its digits sit. */
  readonly name: string;
  readonly serialAt: number;
  readonly serialLength: number;
  readonly notBeforeAt: number;
  readonly notAfterAt: number;
}

function fixed(n: number): string {
  return n.toString().padStart(DIGITS, '0');
}

/** Index of `needle` in `haystack`, which must occur exactly once. */
function onlyIndexOf(haystack: Buffer, needle: Buffer, what: string): number {
  const at = haystack.indexOf(needle);
  if (at < 0 || haystack.indexOf(needle, at + 1) >= 0) throw new Error(`template DER: ${what} is not there exactly once`);
  return at;
}

/** RFC 5280 §4.1.2.5.1: UTCTime YYMMDDHHMMSSZ for years before 2050. */
function utcTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

function serialHex(bytes: Buffer): string {
  return bytes.toString('hex');
}

/** The template's serial INTEGER content: tbsCertificate is SEQUENCE { [0] version, INTEGER serial, ... }. */
function locateSerial(der: Buffer, serial: string): { at: number; length: number } {
  const content = Buffer.from(serial, 'hex');
  const at = onlyIndexOf(der, Buffer.concat([Buffer.from([0x02, content.length]), content]), 'the serial');
  return { at: at + 2, length: content.length };
}

function makeTemplate(record: CertificateRecord, name: string): Template {
  const der = Buffer.from(record.der);
  const { at, length } = locateSerial(der, record.serial);
  const notBeforeAt = onlyIndexOf(der, Buffer.from(utcTime(record.notBefore), 'latin1'), 'notBefore');
  const notAfterAt = onlyIndexOf(der, Buffer.from(utcTime(record.notAfter), 'latin1'), 'notAfter');
  if (der.indexOf(Buffer.from(name, 'latin1')) < 0) throw new Error(`template DER: the name ${name} is not there`);
  return { record, name, serialAt: at, serialLength: length, notBeforeAt, notAfterAt };
}

/** Seconds-precision times: UTCTime carries no milliseconds. */
function second(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** A positive serial of the template's length with no leading zero octet (what the ledger accepts). */
function freshSerial(length: number): Buffer {
  const bytes = randomBytes(length);
  bytes[0] = ((bytes[0] ?? 1) & 0x7f) | 0x01;
  return bytes;
}

interface Row {
  serial: string;
  issuer: string;
  subject: string;
  spiffeId: string | null;
  profile: ProfileName;
  requester: string;
  notBefore: number;
  notAfter: number;
  issuedAt: number;
  status: 'valid' | 'revoked';
  revokedAt: number | null;
  reason: string | null;
  der: Buffer;
  fingerprint: string;
  sans: string;
}

function cloneRow(template: Template, name: string, issuedAt: number, lifetimeMs: number, revokedAt: number | null): Row {
  const der = Buffer.from(template.record.der);
  const serial = freshSerial(template.serialLength);
  serial.copy(der, template.serialAt);
  const notBefore = second(issuedAt - BACKDATE_MS);
  const notAfter = second(issuedAt + lifetimeMs);
  der.write(utcTime(notBefore), template.notBeforeAt, 'latin1');
  der.write(utcTime(notAfter), template.notAfterAt, 'latin1');
  // Every occurrence: a DNS name may sit in the subject's CN as well as in the SAN.
  const old = Buffer.from(template.name, 'latin1');
  for (let at = der.indexOf(old); at >= 0; at = der.indexOf(old, at + old.length)) der.write(name, at, 'latin1');
  const record = template.record;
  const isSpiffe = record.spiffeId !== null;
  const sans = record.sans.map((san) =>
    san.value === template.name ? { type: san.type, value: name } : { type: san.type, value: san.value },
  );
  return {
    serial: serialHex(serial),
    issuer: record.issuer,
    subject: record.subject.replaceAll(template.name, name),
    spiffeId: isSpiffe ? name : null,
    profile: record.profile,
    requester: record.requester,
    notBefore,
    notAfter,
    issuedAt,
    status: revokedAt === null ? 'valid' : 'revoked',
    revokedAt,
    reason: revokedAt === null ? null : 'keyCompromise',
    der,
    fingerprint: createHash('sha256').update(der).digest('hex'),
    sans: JSON.stringify(sans),
  };
}

function spkiDer(): Uint8Array {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
}

/** Issues the templates through the real Authority and returns their ledger rows. */
async function issueTemplates(
  options: FleetLedgerOptions,
  trustDomain: string,
): Promise<{ svid: Template[]; server: Template[]; node: Template[]; existing: number }> {
  const config = loadConfig({
    env: { KEYSMITH_DATA_DIR: options.dataDir, KEYSMITH_TRUST_DOMAIN: trustDomain, KEYSMITH_LOG_LEVEL: 'warn' },
  });
  const core = await openCore(config);
  try {
    const issue = async (
      profile: ProfileName,
      name: string,
      extra: { spiffeId?: string; dnsNames?: string[]; ttlMs: number },
    ): Promise<Template> => {
      const issued = await core.authority.issue({ publicKey: spkiDer(), requester: 'system', ...extra }, profile);
      const record = await core.repositories.certificates.findBySerial(issued.serial);
      if (record === undefined) throw new Error(`template ${issued.serial} is not in the ledger`);
      return makeTemplate(record, name);
    };
    const svid: Template[] = [];
    for (let i = 0; i < SVID_TEMPLATES; i += 1) {
      const id = `spiffe://${trustDomain}/ns/prod/sa/workload-${fixed(i)}`;
      svid.push(await issue('svid', id, { spiffeId: id, ttlMs: HOUR }));
    }
    const server: Template[] = [];
    for (let i = 0; i < SERVER_TEMPLATES; i += 1) {
      const dns = `svc-${fixed(i)}.fleet.example.org`;
      server.push(await issue('tls-server', dns, { dnsNames: [dns], ttlMs: 90 * DAY }));
    }
    const node: Template[] = [];
    for (let i = 0; i < NODE_TEMPLATES; i += 1) {
      const id = `spiffe://${trustDomain}/node/host-${fixed(i)}`;
      node.push(await issue('node', id, { spiffeId: id, ttlMs: 7 * DAY }));
    }
    return { svid, server, node, existing: await core.repositories.certificates.count() };
  } finally {
    await core.close();
  }
}

function pick<T>(list: readonly T[]): T {
  const item = list[Math.floor(Math.random() * list.length)];
  if (item === undefined) throw new Error('empty list');
  return item;
}

/**
 * Makes (or grows) the ledger in `dataDir` to `rows` rows. The data directory
 * is then a complete keysmith data directory: `keysmith serve` starts on it.
 */
export async function makeFleetLedger(options: FleetLedgerOptions): Promise<FleetLedgerReport> {
  const started = performance.now();
  const log = options.log ?? ((): void => undefined);
  const trustDomain = options.trustDomain ?? 'keysmith.local';
  const now = options.now ?? Date.now();
  const templates = await issueTemplates(options, trustDomain);
  const toMake = Math.max(0, options.rows - templates.existing);
  const identities = options.identities ?? Math.max(1, Math.min(100_000, Math.floor(options.rows / 10)));
  log(
    `templates issued through the Authority: ${SVID_TEMPLATES} svid, ${SERVER_TEMPLATES} tls-server, ${NODE_TEMPLATES} node; cloning ${toMake} rows`,
  );

  const databasePath = `${options.dataDir}/keysmith.db`;
  const db = new Database(databasePath);
  const byProfile: Record<string, number> = {};
  let revoked = 0;
  try {
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1000000');
    const insert = db.prepare<[Row]>(
      `INSERT INTO certificates (serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after, issued_at,
                                 status, revoked_at, revocation_reason, der, fingerprint, sans)
       VALUES (:serial, :issuer, :subject, :spiffeId, :profile, :requester, :notBefore, :notAfter, :issuedAt,
               :status, :revokedAt, :reason, :der, :fingerprint, :sans)`,
    );
    const insertName = db.prepare<[string, string, string]>('INSERT INTO certificate_names (serial, type, value) VALUES (?, ?, ?)');
    // The newest certificate per SPIFFE ID, as the repository keeps it (absent before migrations/0006).
    const hasLatest = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'spiffe_latest'").get() !== undefined;
    const upsertLatest = hasLatest ? db.prepare<[LatestParams]>(RECORD_LATEST_PER_SPIFFE_ID) : undefined;
    const insertBatch = db.transaction((batch: readonly Row[]) => {
      for (const row of batch) {
        insert.run(row);
        // The searchable names exactly as the repository writes them.
        for (const name of namesOf(JSON.parse(row.sans) as SubjectAltName[])) insertName.run(row.serial, name.type, name.value);
        if (row.spiffeId !== null) {
          upsertLatest?.run(latestParams({ ...row, spiffeId: row.spiffeId }));
        }
      }
    });
    let batch: Row[] = [];
    for (let i = 0; i < toMake; i += 1) {
      const isSvid = Math.random() < SVID_SHARE;
      let row: Row;
      if (isSvid) {
        const template = pick(templates.svid);
        const issuedAt = now - Math.floor(Math.random() * 30 * DAY);
        const revokedAt = Math.random() < REVOKED_SHARE ? Math.min(now, issuedAt + Math.floor(Math.random() * HOUR)) : null;
        const name = `spiffe://${trustDomain}/ns/prod/sa/workload-${fixed(Math.floor(Math.random() * identities))}`;
        row = cloneRow(template, name, issuedAt, HOUR, revokedAt);
      } else {
        const isServer = Math.random() < 0.6;
        const template = pick(isServer ? templates.server : templates.node);
        const issuedAt = now - Math.floor(Math.random() * 90 * DAY);
        const revokedAt = Math.random() < REVOKED_SHARE ? Math.min(now, issuedAt + Math.floor(Math.random() * 30 * DAY)) : null;
        const n = fixed(Math.floor(Math.random() * 10_000));
        const name = isServer ? `svc-${n}.fleet.example.org` : `spiffe://${trustDomain}/node/host-${n}`;
        row = cloneRow(template, name, issuedAt, 90 * DAY, revokedAt);
      }
      byProfile[row.profile] = (byProfile[row.profile] ?? 0) + 1;
      if (row.status === 'revoked') revoked += 1;
      batch.push(row);
      if (batch.length === BATCH_ROWS) {
        insertBatch(batch);
        batch = [];
        log(`  ${i + 1} rows`);
      }
    }
    if (batch.length > 0) insertBatch(batch);
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    rows: templates.existing + toMake,
    byProfile,
    revoked,
    templates: SVID_TEMPLATES + SERVER_TEMPLATES + NODE_TEMPLATES,
    seconds,
    databasePath,
  };
}
