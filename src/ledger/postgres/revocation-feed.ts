import type pg from 'pg';
import { systemClock, type Clock } from '../../shared/clock.js';
import type { PostgresDatabase } from './database.js';

/**
 * Revocations made on any keysmith node, delivered to this one: the OCSP
 * cache drops the serial and the request-time client-certificate check
 * refuses it (the handler is wired in src/cli).
 *
 * 1. A dedicated connection LISTENs on `keysmith_revocations`; the revoke
 *    transaction runs `pg_notify('keysmith_revocations', serial)`, which
 *    PostgreSQL delivers at commit, so a serial arrives only once its row is
 *    revoked for every reader. Typically a few milliseconds after the commit.
 * 2. NOTIFY is fire-and-forget: a node not listening at that moment never
 *    sees it. When the connection drops, the feed reconnects with
 *    exponential backoff, LISTENs again and only then polls the certificates
 *    revoked since the last successful poll (minus a margin for commit
 *    latency and clock skew between nodes), so nothing falls between the two.
 * 3. A periodic poll through the pool is the safety net for a connection
 *    that is silently dead (no FIN from a partitioned server).
 *
 * Each serial is handed to the handler once (notification and poll are
 * deduplicated within the poll window); the handler must be cheap and must
 * not throw (a throw is reported and the feed goes on).
 */

export const REVOCATION_CHANNEL = 'keysmith_revocations';

/** A ledger serial: lowercase hex of whole octets, at most 20 octets (RFC 5280 §4.1.2.2), as the certificates table checks it. */
const SERIAL = /^(?:[0-9a-f]{2}){1,20}$/;

export const DEFAULT_FEED_POLL_MS = 5_000;
export const DEFAULT_FEED_MARGIN_MS = 10_000;
export const DEFAULT_RECONNECT_DELAYS = { initialMs: 100, maxMs: 5_000 } as const;

export interface RevocationFeedOptions {
  /** The pool (polls) and its dedicated connections (LISTEN). */
  readonly database: Pick<PostgresDatabase, 'dedicatedClient' | 'rows'>;
  /** Called once per revoked serial, with the serial in ledger form (lowercase hex). */
  readonly onRevoked: (serial: string) => void;
  readonly clock?: Clock;
  /** The safety-net poll, ms; default 5 s. */
  readonly pollEveryMs?: number;
  /**
   * How far before the last successful poll the next one looks back, ms; default 10 s.
   * Covers a revoke transaction that stamped revoked_at before our poll but committed after it,
   * and the nodes' clocks disagreeing (keep them within this, e.g. with NTP).
   */
  readonly marginMs?: number;
  /** Backoff between reconnect attempts: doubles from initialMs up to maxMs. */
  readonly reconnectDelays?: { readonly initialMs: number; readonly maxMs: number };
  /** Connection lost, a failed poll (the first of a run), a bad payload, a throwing handler: for the log; never fatal. */
  readonly onError?: (error: unknown, context: FeedErrorContext) => void;
}

export type FeedErrorContext = 'listen' | 'poll' | 'payload' | 'handler';

interface RevokedRow {
  readonly serial: string;
  readonly revoked_at: number;
}

export class RevocationFeed {
  private readonly options: RevocationFeedOptions;
  private readonly clock: Clock;
  private readonly pollEveryMs: number;
  private readonly marginMs: number;
  private readonly delays: { readonly initialMs: number; readonly maxMs: number };
  /** Serials delivered, with when they were revoked (or seen): skipped when seen again, pruned once below the poll window. */
  private readonly delivered = new Map<string, number>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  /** Lower bound (ms, revoked_at) of the next poll: the start of the last successful poll minus the margin. */
  private since: number;
  private polling: Promise<void> = Promise.resolve();
  private pollFailing = false;
  private reconnectAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private isStopped = false;
  private reconnectCount = 0;

  constructor(options: RevocationFeedOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.pollEveryMs = options.pollEveryMs ?? DEFAULT_FEED_POLL_MS;
    this.marginMs = options.marginMs ?? DEFAULT_FEED_MARGIN_MS;
    this.delays = options.reconnectDelays ?? DEFAULT_RECONNECT_DELAYS;
    if (!(this.pollEveryMs > 0) || !(this.marginMs >= 0) || !(this.delays.initialMs > 0) || this.delays.maxMs < this.delays.initialMs) {
      throw new RangeError('RevocationFeed: pollEveryMs and reconnect delays must be positive, marginMs non-negative, maxMs >= initialMs');
    }
    this.since = this.clock.now() - this.marginMs;
  }

  /** True while the LISTEN connection is up. */
  get isListening(): boolean {
    return this.client !== undefined;
  }

  /** How many times the LISTEN connection was made again after a loss (metrics, tests). */
  get reconnects(): number {
    return this.reconnectCount;
  }

  /**
   * LISTENs and starts the periodic poll. Resolves once the first LISTEN
   * succeeded or failed; after a failure the feed keeps retrying by itself.
   */
  async start(): Promise<void> {
    if (this.isStopped) throw new Error('RevocationFeed: start after stop');
    this.schedulePoll();
    await this.listen();
  }

  async stop(): Promise<void> {
    this.isStopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.pollTimer);
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    await Promise.all([client?.end().catch(() => undefined), this.polling]);
  }

  /** Asks the ledger for revocations since the last successful poll now (polls never overlap). */
  poll(): Promise<void> {
    this.polling = this.polling.then(() => this.pollOnce());
    return this.polling;
  }

  private listen(): Promise<void> {
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    let client: pg.Client | undefined;
    try {
      client = await this.options.database.dedicatedClient();
      client.on('notification', (message) => this.notified(message));
      const lost = (error?: unknown): void => this.lost(client, error);
      client.on('error', lost);
      client.on('end', () => lost());
      // The channel name is a constant identifier, not input.
      await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
      if (this.isStopped) {
        await client.end();
        return;
      }
      this.client = client;
      const isReconnect = this.reconnectAttempt > 0;
      this.reconnectAttempt = 0;
      if (isReconnect) {
        this.reconnectCount += 1;
        // Listening again first, then the catch-up: a revocation committed in between arrives by one or the other.
        void this.poll();
      }
    } catch (error) {
      await client?.end().catch(() => undefined);
      this.report(error, 'listen');
      this.scheduleReconnect();
    }
  }

  private lost(client: pg.Client | undefined, error: unknown): void {
    if (client === undefined || this.client !== client || this.isStopped) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.report(error ?? new Error('the LISTEN connection to the ledger database closed'), 'listen');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.isStopped || this.reconnectTimer !== undefined) return;
    const delay = Math.min(this.delays.maxMs, this.delays.initialMs * 2 ** this.reconnectAttempt);
    this.reconnectAttempt = Math.min(this.reconnectAttempt + 1, 30);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.listen();
    }, delay);
    this.reconnectTimer.unref();
  }

  private schedulePoll(): void {
    if (this.isStopped) return;
    this.pollTimer = setTimeout(() => {
      void this.poll().finally(() => this.schedulePoll());
    }, this.pollEveryMs);
    this.pollTimer.unref();
  }

  private notified(message: pg.Notification): void {
    if (message.channel !== REVOCATION_CHANNEL) return;
    const serial = message.payload ?? '';
    if (!SERIAL.test(serial)) {
      // Whoever can NOTIFY on our database is trusted, but a bad payload still changes nothing.
      this.report(new Error(`ignored a ${REVOCATION_CHANNEL} notification that is not a serial (${serial.length} characters)`), 'payload');
      return;
    }
    this.deliver(serial, this.clock.now());
  }

  private async pollOnce(): Promise<void> {
    if (this.isStopped) return;
    const startedAt = this.clock.now();
    const since = this.since;
    let rows: RevokedRow[];
    try {
      // Served by a range scan when the partial index certificates_revoked_at exists (migrations/postgres/0007).
      rows = await this.options.database.rows<RevokedRow>(
        "SELECT serial, revoked_at FROM certificates WHERE status = 'revoked' AND revoked_at >= $1 ORDER BY revoked_at",
        [since],
      );
    } catch (error) {
      // Reported once per outage, not every pollEveryMs; the window keeps its start, so the next success catches up.
      if (!this.pollFailing) this.report(error, 'poll');
      this.pollFailing = true;
      return;
    }
    this.pollFailing = false;
    for (const row of rows) this.deliver(row.serial, row.revoked_at);
    this.since = Math.max(this.since, startedAt - this.marginMs);
    for (const [serial, at] of this.delivered) if (at < this.since) this.delivered.delete(serial);
  }

  private deliver(serial: string, at: number): void {
    if (this.isStopped || this.delivered.has(serial)) return;
    // Kept until the window has passed it, at least as long as a poll could return it again.
    this.delivered.set(serial, Math.max(at, this.clock.now()));
    try {
      this.options.onRevoked(serial);
    } catch (error) {
      this.report(error, 'handler');
    }
  }

  private report(error: unknown, context: FeedErrorContext): void {
    try {
      this.options.onError?.(error, context);
    } catch {
      // Reporting never stops the feed.
    }
  }
}
