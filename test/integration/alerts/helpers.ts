/**
 * Shared by the alert tests: a fake clock, certificate rows with chosen
 * lifetimes and identities, a temporary ledger with the real migrations, a
 * real webhook receiver (node:http on 127.0.0.1:0) and a real SMTP receiver
 * (smtp-server on 127.0.0.1:0). Every wait is bounded.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { AlertRunner, DEFAULT_RETRY, type AlertLogger, type AlertSettings } from '../../../src/alerts/index.js';
import { loadConfig, type Config } from '../../../src/config/index.js';
import { openLedger, type Ledger, type LedgerBackend } from '../../../src/ledger/index.js';
import { portOf } from '../../helpers/processes.js';
import type { NewCertificateRecord, ProfileName } from '../../../src/domain/certificates.js';

export const SECOND = 1_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** Day 0 of every scenario: 2025-03-01T09:00:00Z. */
export const T0 = Date.UTC(2025, 2, 1, 9);
export const TRUST_DOMAIN = 'keysmith.test';
export const WEBHOOK_SECRET = 'a webhook secret of some length';

export class FakeClock {
  constructor(private current: number = T0) {}
  now(): number {
    return this.current;
  }
  set(ms: number): void {
    this.current = ms;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

let serialCounter = 0x5a_0000;

export function nextSerial(): string {
  serialCounter += 1;
  return serialCounter.toString(16);
}

export interface CertificateSpec {
  readonly serial?: string;
  readonly profile?: ProfileName;
  readonly spiffeId?: string | null;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly subject?: string;
  readonly requester?: string;
  /** Issued at this time (notBefore a minute earlier). */
  readonly issuedAt: number;
  readonly lifetimeMs: number;
}

/** A ledger row; the DER is random bytes (the ledger stores, it does not parse). */
export function certificate(spec: CertificateSpec): NewCertificateRecord {
  const serial = spec.serial ?? nextSerial();
  const der = randomBytes(64);
  const spiffeId = spec.spiffeId === undefined ? `spiffe://${TRUST_DOMAIN}/workload/${serial}` : spec.spiffeId;
  const sans = [
    ...(spiffeId === null ? [] : [{ type: 'uri' as const, value: spiffeId }]),
    ...(spec.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(spec.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  return {
    serial,
    issuer: 'CN=keysmith test intermediate',
    subject: spec.subject ?? `CN=${serial}`,
    sans,
    spiffeId,
    profile: spec.profile ?? 'svid',
    requester: spec.requester ?? 'cli:alice',
    // As the Authority does: notBefore a minute early for clock skew.
    notBefore: spec.issuedAt - 60 * SECOND,
    notAfter: spec.issuedAt + spec.lifetimeMs,
    issuedAt: spec.issuedAt,
    der,
    fingerprint: createHash('sha256').update(der).digest('hex'),
  };
}

export interface TempLedger {
  readonly dir: string;
  readonly path: string;
  open(): Ledger;
  remove(): void;
}

export function tempLedger(): TempLedger {
  const dir = mkdtempSync(join(tmpdir(), 'keysmith-alerts-'));
  const path = join(dir, 'keysmith.db');
  return { dir, path, open: () => openLedger({ path }), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A fresh ledger file for each test of the enclosing describe, closed and
 * removed after it; `onOpen` receives it (to keep it, and to seed rows).
 */
export function freshLedgerEachTest(onOpen: (ledger: Ledger) => void): void {
  let tmp: TempLedger | undefined;
  let ledger: Ledger | undefined;
  beforeEach(() => {
    tmp = tempLedger();
    ledger = tmp.open();
    onOpen(ledger);
  });
  afterEach(() => {
    ledger?.close();
    tmp?.remove();
  });
}

/** Mail alerts to a relay on 127.0.0.1:`port`, with the given KEYSMITH_* settings on top. */
export function mailConfigFor(port: number, settings: NodeJS.ProcessEnv): Config {
  return loadConfig({
    env: {
      KEYSMITH_ALERTS_SMTP_HOST: '127.0.0.1',
      KEYSMITH_ALERTS_SMTP_PORT: String(port),
      KEYSMITH_ALERTS_MAIL_FROM: 'keysmith <keysmith@pki.example>',
      KEYSMITH_ALERTS_MAIL_TO: 'ops@example.org',
      ...settings,
    },
  });
}

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly fields: object;
  readonly message: string;
}

export class MemoryLogger implements AlertLogger {
  readonly lines: LogLine[] = [];
  info(fields: object, message: string): void {
    this.lines.push({ level: 'info', fields, message });
  }
  warn(fields: object, message: string): void {
    this.lines.push({ level: 'warn', fields, message });
  }
  error(fields: object, message: string): void {
    this.lines.push({ level: 'error', fields, message });
  }
  messages(level?: LogLine['level']): string[] {
    return this.lines.filter((l) => level === undefined || l.level === level).map((l) => l.message);
  }
}

/** Verifies `sha256=<hex>` the way a receiver would: recompute over the raw body, compare in constant time. */
export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (header === undefined || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  json(): unknown;
}

/** What the receiver answers to the n-th request (0-based): a status, no answer at all, or a dropped connection. */
export type ReceiverBehaviour = (index: number) => number | 'hang' | 'drop';

/** A webhook receiver on 127.0.0.1 that records every request. */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  behaviour: ReceiverBehaviour = () => 200;
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly server: Server) {}

  static async start(behaviour?: ReceiverBehaviour): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server);
    if (behaviour !== undefined) receiver.behaviour = behaviour;
    server.on('request', (req, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const index = receiver.requests.length;
        receiver.requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body,
          json: () => JSON.parse(body.toString('utf8')) as unknown,
        });
        for (const wake of [...receiver.waiters]) wake();
        const answer = receiver.behaviour(index);
        if (answer === 'hang') return;
        if (answer === 'drop') {
          req.socket.destroy();
          return;
        }
        res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'receiver is down');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return receiver;
  }

  get port(): number {
    return portOf(this.server.address());
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/keysmith?token=t0ps3cret`;
  }

  /** Resolves once `count` requests arrived; rejects after `timeoutMs`. */
  waitForRequests(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`webhook receiver got ${this.requests.length} of ${count} requests within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        if (this.requests.length < count) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  readonly raw: string;
}

/** A plain SMTP receiver on 127.0.0.1 (no TLS, no auth), collecting whole messages. */
export class SmtpReceiver {
  readonly mails: ReceivedMail[] = [];
  private readonly waiters = new Set<() => void>();
  private constructor(private readonly server: SMTPServer) {}

  static async start(): Promise<SmtpReceiver> {
    let receiver: SmtpReceiver | undefined;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const envelope = session.envelope;
          const from = envelope.mailFrom === false ? '' : envelope.mailFrom.address;
          receiver?.mails.push({ from, to: envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
          for (const wake of [...(receiver?.waiters ?? [])]) wake();
          callback();
        });
      },
    });
    receiver = new SmtpReceiver(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return receiver;
  }

  get port(): number {
    return portOf(this.server.server.address());
  }

  waitForMails(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.mails.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`SMTP receiver got ${this.mails.length} of ${count} mails within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        if (this.mails.length < count) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export const SEVEN_DAYS = [{ withinMs: 7 * DAY, profiles: null }] as const;

/** Settings for a runner: 7 days, per certificate, generous caps, fast retries (the clock is fake anyway). */
export function settings(overrides: Partial<AlertSettings> = {}): AlertSettings {
  return {
    thresholds: SEVEN_DAYS,
    mode: 'per-certificate',
    caps: { perRun: 100, perRecipient: 100 },
    retry: { ...DEFAULT_RETRY, maxAttempts: 4 },
    ...overrides,
  };
}

export function webhookTo(receiver: WebhookReceiver, timeoutMs = 2_000): NonNullable<AlertSettings['webhook']> {
  return { url: receiver.url, secret: WEBHOOK_SECRET, timeoutMs };
}

export interface RunnerOptions {
  readonly holder?: string;
  readonly logger?: MemoryLogger;
}

/** A runner over `ledger` (either backend: its outbox and leases) with jitter pinned to its midpoint. */
export function makeRunner(
  ledger: Pick<LedgerBackend, 'alerts' | 'leases'>,
  clock: FakeClock,
  alertSettings: AlertSettings,
  options: RunnerOptions = {},
): AlertRunner {
  return new AlertRunner(
    {
      outbox: ledger.alerts,
      leases: ledger.leases,
      clock,
      logger: options.logger ?? new MemoryLogger(),
      holder: options.holder ?? 'test-process',
      random: () => 0.5,
    },
    alertSettings,
  );
}
