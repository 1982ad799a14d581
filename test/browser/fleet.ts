import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { openCore, type Core } from '../../src/cli/compose.js';
import { loadConfig } from '../../src/config/index.js';
import type { NewCertificateRecord, ProfileName } from '../../src/domain/certificates.js';
import { systemClock, type Clock } from '../../src/shared/clock.js';
import { withTestBackend } from '../helpers/test-backend.js';

/**
 * The console tests' ledgers, made before `keysmith serve` starts on the data
 * directory. Every certificate of the known fleet is issued by the real
 * Authority (its DER, its ledger row, its OCSP answers); a clock pinned in the
 * past or the future puts notAfter where the test wants it (a past clock for
 * the expired ones, a future one for SVIDs and node certificates, whose
 * profiles allow a day and a week at most). The 100,000-row ledger clones one
 * real certificate into rows recorded through the repository's own
 * `recordIssuedMany` (one transaction).
 */

export const DAY = 86_400_000;
const HOUR = 3_600_000;
export const TRUST_DOMAIN = 'keysmith.local';

/** Start of the current UTC day: the timeline's first bucket. */
export function startOfTodayUtc(now = systemClock.now()): number {
  return Math.floor(now / DAY) * DAY;
}

/** YYYY-MM-DD of a time, UTC. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Noon UTC, `day` days after today: a notAfter that sits inside that day's bucket whatever the hour now. */
export function noonOfDay(day: number, today = startOfTodayUtc()): number {
  return today + day * DAY + 12 * HOUR;
}

export interface SeededCertificate {
  readonly serial: string;
  readonly profile: ProfileName;
  readonly notAfter: number;
  readonly spiffeId: string | null;
  readonly dnsNames: readonly string[];
  readonly revoked: boolean;
}

/** What the known fleet holds, by construction (the service's own certificates are not in it). */
export interface KnownFleet {
  readonly today: number;
  readonly certificates: readonly SeededCertificate[];
  /** An SVID by this SPIFFE ID, expiring on day 3. */
  readonly searchSpiffeId: string;
  /** A tls-server certificate for this DNS name, expiring on day 45. */
  readonly searchDnsName: string;
  /** Day -> certificates (not revoked) the fleet puts there. */
  readonly perDay: ReadonlyMap<number, readonly SeededCertificate[]>;
}

/** How many tls-server certificates the paging day holds: more than one page of the API's default 50. */
export const PAGING_DAY = 60;
export const PAGING_DAY_COUNT = 60;

function spki(): Uint8Array {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
}

async function withCore<T>(dataDir: string, clock: Clock, run: (core: Core) => Promise<T>, ensureIdentities = false): Promise<T> {
  // withTestBackend: with KEYSMITH_TEST_BACKEND=postgres, the database the `keysmith` children of this data directory use.
  // The statement timeout: on PostgreSQL the 100,000-row bulk load is one transaction (seconds), a bulk load, not serving.
  const env = withTestBackend({
    KEYSMITH_DATA_DIR: dataDir,
    KEYSMITH_TRUST_DOMAIN: TRUST_DOMAIN,
    KEYSMITH_LOG_LEVEL: 'warn',
    KEYSMITH_DATABASE_STATEMENT_TIMEOUT: '2m',
  });
  const config = loadConfig({ env });
  // ensureIdentities false (but on the first open): a pinned clock must not renew the listener's or the admin's certificate.
  const core = await openCore(config, { clock, ensureIdentities });
  try {
    return await run(core);
  } finally {
    await core.close();
  }
}

interface Order {
  readonly profile: ProfileName;
  readonly notAfter: number;
  readonly spiffeId?: string;
  readonly dnsNames?: readonly string[];
  readonly revoke?: boolean;
}

async function issueAll(core: Core, orders: readonly Order[]): Promise<SeededCertificate[]> {
  const issued: SeededCertificate[] = [];
  for (const order of orders) {
    const result = await core.authority.issue(
      {
        publicKey: spki(),
        requester: 'system',
        notAfter: order.notAfter,
        ...(order.spiffeId === undefined ? {} : { spiffeId: order.spiffeId }),
        ...(order.dnsNames === undefined ? {} : { dnsNames: [...order.dnsNames] }),
      },
      order.profile,
    );
    if (order.revoke === true) await core.authority.revoke(result.serial, 'superseded');
    const record = await core.repositories.certificates.findBySerial(result.serial);
    if (record === undefined) throw new Error(`seeded certificate ${result.serial} is not in the ledger`);
    issued.push({
      serial: record.serial,
      profile: record.profile,
      notAfter: record.notAfter,
      spiffeId: record.spiffeId,
      dnsNames: record.sans.filter((san) => san.type === 'dns').map((san) => san.value),
      revoked: order.revoke === true,
    });
  }
  return issued;
}

const atClock = (now: number): Clock => ({ now: () => now });

/** How long ago the CA was made: the expired certificates were issued then, by its intermediate. */
const CA_AGE = 5 * DAY;

/**
 * Makes the data directory as `keysmith serve`'s first start would have,
 * CA_AGE ago (the intermediate is not usable before its own notBefore), and
 * issues the fleet's expired certificates from then. Call on an empty data
 * directory, before anything else.
 */
export async function createAgedCa(dataDir: string): Promise<SeededCertificate[]> {
  const then = systemClock.now() - CA_AGE;
  const today = startOfTodayUtc();
  const expired = (name: string): Order => ({ profile: 'tls-server', notAfter: noonOfDay(-1, today), dnsNames: [name] });
  return withCore(
    dataDir,
    atClock(then),
    (core) => issueAll(core, [expired('expired-a.fleet.example.test'), expired('expired-b.fleet.example.test')]),
    true,
  );
}

/**
 * A tls-server certificate that expires at noon of `day` (within the 7-day
 * alert threshold) after a lifetime longer than the threshold, so expiry
 * detection alerts on it (README, Expiry alerts: a lifetime shorter than the
 * threshold never alerts): issued from a clock 4 days back, under the aged CA.
 * Safe while serve runs, as `keysmith issue` is. Returns the serial.
 */
export async function issueAlertingCertificate(dataDir: string, day: number, dnsName: string): Promise<string> {
  const [issued] = await withCore(dataDir, atClock(systemClock.now() - 4 * DAY), (core) =>
    issueAll(core, [{ profile: 'tls-server', notAfter: noonOfDay(day), dnsNames: [dnsName] }]),
  );
  if (issued === undefined) throw new Error('nothing issued');
  return issued.serial;
}

/**
 * The known fleet, added to the expired certificates `createAgedCa` made. Inside the 90-day window: day 3 (2 tls-server, 2 SVIDs), day 10
 * (5 tls-server, 1 node, 1 more revoked), day 45 (2 tls-server), day 60
 * (PAGING_DAY_COUNT tls-server), day 89 (1 tls-server). Beyond it: day 120 (2),
 * day 200 (1). Expired (from createAgedCa): 2 tls-server yesterday. Every date is noon UTC.
 */
export async function seedKnownFleet(dataDir: string, expired: readonly SeededCertificate[]): Promise<KnownFleet> {
  const today = startOfTodayUtc();
  const searchSpiffeId = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/checkout`;
  const searchDnsName = 'orders.shop.example.test';
  const server = (day: number, name: string, revoke = false): Order => ({
    profile: 'tls-server',
    notAfter: noonOfDay(day, today),
    dnsNames: [name],
    revoke,
  });
  const present: Order[] = [
    server(3, 'day3-a.fleet.example.test'),
    server(3, 'day3-b.fleet.example.test'),
    ...[0, 1, 2, 3, 4].map((i) => server(10, `day10-${i}.fleet.example.test`)),
    server(10, 'day10-revoked.fleet.example.test', true),
    server(45, searchDnsName),
    server(45, 'day45-b.fleet.example.test'),
    ...Array.from({ length: PAGING_DAY_COUNT }, (_, i) => server(PAGING_DAY, `page-${String(i).padStart(3, '0')}.fleet.example.test`)),
    server(89, 'day89.fleet.example.test'),
    server(120, 'day120-a.fleet.example.test'),
    server(120, 'day120-b.fleet.example.test'),
    server(200, 'day200.fleet.example.test'),
  ];
  const certificates: SeededCertificate[] = [];
  certificates.push(...(await withCore(dataDir, systemClock, (core) => issueAll(core, present))));
  // SVIDs live a day at most, node certificates a week: issue them from a clock a few hours before their day's noon.
  const day3 = noonOfDay(3, today);
  certificates.push(
    ...(await withCore(dataDir, atClock(day3 - 6 * HOUR), (core) =>
      issueAll(core, [
        { profile: 'svid', notAfter: day3, spiffeId: searchSpiffeId },
        { profile: 'svid', notAfter: day3, spiffeId: `spiffe://${TRUST_DOMAIN}/ns/shop/sa/cart` },
      ]),
    )),
  );
  const day10 = noonOfDay(10, today);
  certificates.push(
    ...(await withCore(dataDir, atClock(day10 - 2 * DAY), (core) =>
      issueAll(core, [{ profile: 'node', notAfter: day10, spiffeId: `spiffe://${TRUST_DOMAIN}/node/rack-7` }]),
    )),
  );
  certificates.push(...expired);
  const perDay = new Map<number, SeededCertificate[]>();
  for (const certificate of certificates) {
    if (certificate.revoked) continue;
    const day = Math.floor((certificate.notAfter - today) / DAY);
    perDay.set(day, [...(perDay.get(day) ?? []), certificate]);
  }
  return { today, certificates, searchSpiffeId, searchDnsName, perDay };
}

/** The 100,000-row ledger's shape: row i expires at noon of day (i mod SCALE_SPAN) - SCALE_PAST. */
export const SCALE_SPAN = 150;
export const SCALE_PAST = 20;

/** How many of `rows` scale rows fall in the 90-day window by construction: days 0..89 (day 0's noon may have passed). */
export function scaleRowsInWindow(rows: number, now = systemClock.now()): number {
  const today = startOfTodayUtc(now);
  let inside = 0;
  for (let i = 0; i < rows; i += 1) {
    const notAfter = noonOfDay((i % SCALE_SPAN) - SCALE_PAST, today);
    if (notAfter >= now && notAfter < today + 90 * DAY) inside += 1;
  }
  return inside;
}

/**
 * `rows` tls-server rows recorded in one transaction through the ledger's
 * repository: clones of one certificate the Authority issued, each with a
 * fresh serial (also patched into its DER, so the fingerprint the repository
 * checks describes distinct bytes) and notAfter spread over SCALE_SPAN days.
 * The rows are what the timeline counts; nothing verifies their signatures.
 */
export async function seedScaleFleet(dataDir: string, rows: number): Promise<{ seconds: number }> {
  const started = performance.now();
  const today = startOfTodayUtc();
  await withCore(dataDir, systemClock, async (core) => {
    const [template] = await issueAll(core, [
      { profile: 'tls-server', notAfter: noonOfDay(30, today), dnsNames: ['scale.fleet.example.test'] },
    ]);
    if (template === undefined) throw new Error('no template');
    const record = await core.repositories.certificates.findBySerial(template.serial);
    if (record === undefined) throw new Error('template vanished');
    const der = Buffer.from(record.der);
    const serialBytes = Buffer.from(record.serial, 'hex');
    const serialAt = der.indexOf(Buffer.concat([Buffer.from([0x02, serialBytes.length]), serialBytes]));
    if (serialAt < 0) throw new Error('template serial not found in its DER');
    const records: NewCertificateRecord[] = [];
    for (let i = 0; i < rows; i += 1) {
      const serial = randomBytes(serialBytes.length);
      serial[0] = ((serial[0] ?? 1) & 0x7f) | 0x01;
      const clone = Buffer.from(der);
      serial.copy(clone, serialAt + 2);
      const notAfter = noonOfDay((i % SCALE_SPAN) - SCALE_PAST, today);
      records.push({
        serial: serial.toString('hex'),
        issuer: record.issuer,
        subject: record.subject,
        sans: record.sans,
        spiffeId: null,
        profile: 'tls-server',
        requester: 'system',
        notBefore: Math.min(record.notBefore, notAfter - DAY),
        notAfter,
        issuedAt: record.issuedAt,
        der: clone,
        fingerprint: createHash('sha256').update(clone).digest('hex'),
      });
    }
    await core.repositories.certificates.recordIssuedMany(records);
  });
  return { seconds: (performance.now() - started) / 1000 };
}
