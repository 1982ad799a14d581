import { accessSync, constants, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { withTestBackend } from '../helpers/test-backend.js';
import { listeningPort, runProcess, startProcess, type ProcessResult, type ThirdPartyProcess } from '../helpers/processes.js';
import { DAY, startOfTodayUtc, TRUST_DOMAIN, utcDate } from './fleet.js';
import { systemClock } from '../../src/shared/clock.js';

/**
 * The console's browser tests: `keysmith serve` as a child on a temp data
 * directory, identities from `keysmith issue`, and Debian's Chromium driven
 * headless by playwright-core.
 *
 * How the browser reaches the mutual-TLS listener. playwright-core's
 * `clientCertificates` does not hand the certificate to Chromium: it points
 * Chromium at a SOCKS proxy inside this process, which opens the TLS
 * connection to keysmith itself (node:tls, with the client certificate) and
 * re-serves the decrypted stream to Chromium under a throw-away self-signed
 * certificate that playwright tells Chromium to accept. So the TLS session
 * keysmith sees, and the one whose server certificate must be checked, is
 * the proxy's. The proxy verifies with node's default trust store, which
 * does not hold keysmith's root, and on node 20 there is no way to add one
 * after start (tls.setDefaultCACertificates is node 22.15+, and
 * NODE_EXTRA_CA_CERTS is fixed at process start, before the CA exists).
 * `ignoreHTTPSErrors` would make the proxy accept any server at all. Instead,
 * while playwright builds the context's per-origin TLS settings (during
 * newContext, in this process), `tls.createSecureContext` gets `ca: <keysmith's
 * bundle.pem>` added, and is restored right after: the proxy then verifies the
 * listener's chain to keysmith's root and its 127.0.0.1 IP SAN exactly as a
 * browser with the root installed would (the refusal test shows a context
 * trusting another CA gets no console). Chromium itself checks only the proxy's
 * certificate, which is playwright's design, not something a test can change.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const OUTPUT_DIR = join(REPO, 'test-output', 'browser');
const README_SCREENSHOT = join(REPO, 'docs', 'images', 'console-timeline.png');

/** Any single wait on the page (a click's target, a heading): the console answers in milliseconds. */
const UI_TIMEOUT_MS = 10_000;

/** Laptop size: the issue asks for a console readable at 1280x800. */
export const VIEWPORT = { width: 1280, height: 800 } as const;

/** Debian's chromium, or KEYSMITH_CHROMIUM. Absent: a clear failure, never a skip. */
export function chromiumPath(): string {
  const path = process.env['KEYSMITH_CHROMIUM'] ?? '/usr/bin/chromium';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `the console's browser tests need Chromium at ${path}: install it with \`apt-get install chromium\` ` +
        '(Debian), or point KEYSMITH_CHROMIUM at a Chromium or Chrome binary',
    );
  }
  return path;
}

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'], headless: true });
}

/** A client identity as the browser gets it. */
export interface Identity {
  readonly spiffeId: string;
  readonly serial: string;
  /** PEM leaf + chain and key (what openssl and node:https use). */
  readonly certPath: string;
  readonly keyPath: string;
  /** The PKCS#12 from `keysmith issue --p12`: what the browser presents. */
  readonly p12: { readonly path: string; readonly passphrase: string };
}

export interface ServeOptions {
  /** Extra environment for serve (e.g. alert thresholds). */
  readonly env?: NodeJS.ProcessEnv;
}

/** One `keysmith serve` on its own data directory. */
export class ConsoleService {
  private server: ThirdPartyProcess | undefined;
  port = 0;

  private constructor(
    readonly dataDir: string,
    readonly workDir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** A fresh data directory with a CA (made by the first `keysmith issue`), not yet serving. */
  static async create(options: ServeOptions = {}): Promise<ConsoleService> {
    const workDir = await mkdtemp(join(tmpdir(), 'keysmith-browser-'));
    const dataDir = join(workDir, 'data');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      KEYSMITH_DATA_DIR: dataDir,
      KEYSMITH_TRUST_DOMAIN: TRUST_DOMAIN,
      KEYSMITH_LOG_LEVEL: 'warn',
      ...options.env,
    };
    return new ConsoleService(dataDir, workDir, env);
  }

  get origin(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get bundlePath(): string {
    return join(this.dataDir, 'bundle.pem');
  }

  get intermediatePath(): string {
    return join(this.dataDir, 'ca', 'intermediate.cert.pem');
  }

  keysmith(args: readonly string[], timeoutMs = 30_000): Promise<ProcessResult> {
    return runProcess(process.execPath, [MAIN, ...args], { env: this.env, lifetimeMs: timeoutMs, timeoutMs });
  }

  /**
   * `keysmith issue --spiffe-id <id> --p12 FILE --p12-passphrase-file FILE --out DIR`
   * (contract §3): the PKCS#12 goes to the browser, the PEM files in DIR to
   * openssl and node:https beside it.
   */
  async issueIdentity(name: string, spiffeId: string, ttl = '1d'): Promise<Identity> {
    const out = join(this.workDir, 'identities', name);
    await mkdir(out, { recursive: true, mode: 0o700 });
    const passphrase = `${name}-${randomBytes(12).toString('base64url')}`;
    const passFile = join(out, 'pass.txt');
    await writeFile(passFile, `${passphrase}\n`, { mode: 0o600 });
    const p12 = { path: join(out, `${name}.p12`), passphrase };
    const args = ['issue', '--spiffe-id', spiffeId, '--ttl', ttl, '--out', out, '--p12', p12.path, '--p12-passphrase-file', passFile];
    const issued = await this.keysmith(args);
    if (issued.code !== 0) throw new Error(`keysmith ${args.join(' ')} failed (${String(issued.code)}):\n${issued.stdout}${issued.stderr}`);
    const serial = issued.stdout.trim().split('\n').pop() ?? '';
    return { spiffeId, serial, certPath: join(out, 'cert.pem'), keyPath: join(out, 'key.pem'), p12 };
  }

  /** serve on port 0; resolves once it printed its curl line (the last thing it prints at start-up). */
  async start(): Promise<void> {
    const child = startProcess(process.execPath, [MAIN, 'serve'], {
      env: { ...this.env, KEYSMITH_LISTEN: '127.0.0.1:0' },
      lifetimeMs: 300_000,
    });
    this.server = child;
    await child.waitFor(/curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/, { timeoutMs: 60_000 });
    this.port = listeningPort(child.output);
  }

  get output(): string {
    return this.server?.output ?? '';
  }

  async stop(): Promise<void> {
    if (this.server !== undefined && !this.server.hasExited) await this.server.kill();
    await rm(this.workDir, { recursive: true, force: true });
  }

  /**
   * Every ledger row's serial, profile, status and notAfter, read straight
   * from the ledger (the SQLite file, or with KEYSMITH_TEST_BACKEND=postgres
   * the children's database through psql): not through the API under test.
   */
  ledgerRows(): LedgerRow[] {
    const sql = 'SELECT serial, profile, status, not_after AS "notAfter" FROM certificates';
    const url = withTestBackend(this.env)['KEYSMITH_DATABASE_URL'];
    if (url !== undefined && url !== '') {
      // psql -A -t: unaligned rows, '|' between fields; 100,000 rows are megabytes, hence our own buffer.
      const result = spawnSync('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
        encoding: 'utf8',
        timeout: 30_000,
        maxBuffer: 256 * 1024 * 1024,
      });
      if (result.status !== 0) throw new Error(`psql failed (${String(result.status ?? result.error)}): ${result.stderr}`);
      return result.stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const [serial = '', profile = '', status = '', notAfter = ''] = line.split('|');
          return { serial, profile, status: status === 'revoked' ? 'revoked' : 'valid', notAfter: Number(notAfter) };
        });
    }
    const db = new Database(join(this.dataDir, 'keysmith.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all() as LedgerRow[];
    } finally {
      db.close();
    }
  }

  /**
   * The oracle for the timeline: the ledger's rows bucketed in JS by the
   * contract's rule (not revoked, notAfter in [now, today + days)).
   */
  expectedTimeline(days = 90, now = systemClock.now()): ExpectedTimeline {
    const today = startOfTodayUtc(now);
    const perDate = new Map<string, number>();
    const perDateProfile = new Map<string, number>();
    for (let day = 0; day < days; day += 1) perDate.set(utcDate(today + day * DAY), 0);
    let total = 0;
    for (const row of this.ledgerRows()) {
      if (row.status === 'revoked' || row.notAfter < now || row.notAfter >= today + days * DAY) continue;
      total += 1;
      const date = utcDate(row.notAfter);
      perDate.set(date, (perDate.get(date) ?? 0) + 1);
      const key = `${date} ${row.profile}`;
      perDateProfile.set(key, (perDateProfile.get(key) ?? 0) + 1);
    }
    return { total, perDate, perDateProfile };
  }
}

export interface ExpectedTimeline {
  readonly total: number;
  /** YYYY-MM-DD -> certificates, every day of the window (zeros included). */
  readonly perDate: Map<string, number>;
  /** "YYYY-MM-DD profile" -> certificates, only where there are some. */
  readonly perDateProfile: Map<string, number>;
}

export interface LedgerRow {
  readonly serial: string;
  readonly profile: string;
  readonly status: 'valid' | 'revoked';
  readonly notAfter: number;
}

/**
 * A browser context presenting `identity` to the service's origin (or none),
 * verifying the listener against `trust` (default: the service's bundle.pem).
 */
export async function consoleContext(
  browser: Browser,
  service: ConsoleService,
  identity: Identity | undefined,
  trust: string = service.bundlePath,
): Promise<BrowserContext> {
  const base = { viewport: VIEWPORT, baseURL: service.origin };
  if (identity === undefined) {
    // No client certificate: no playwright proxy either, so Chromium connects itself and cannot know
    // keysmith's root; ignoreHTTPSErrors stands in for "the operator accepted the server" so that what
    // is shown is keysmith's answer to a client without a certificate.
    const context = await browser.newContext({ ...base, ignoreHTTPSErrors: true });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    return context;
  }
  const clientCertificates = [{ origin: service.origin, pfxPath: identity.p12.path, passphrase: identity.p12.passphrase }];
  const ca = readFileSync(trust, 'utf8');
  const original = tls.createSecureContext;
  // See the file comment: the proxy's per-origin contexts are built synchronously inside newContext.
  tls.createSecureContext = (options?: tls.SecureContextOptions) => original({ ...options, ca });
  try {
    const context = await browser.newContext({ ...base, clientCertificates });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    return context;
  } finally {
    tls.createSecureContext = original;
  }
}

/** Writes `test-output/browser/<view>.png`; the timeline also to docs/images when KEYSMITH_UPDATE_SCREENSHOT=1. */
export async function screenshot(page: Page, view: string): Promise<string> {
  await mkdir(OUTPUT_DIR, { recursive: true });
  const path = join(OUTPUT_DIR, `${view}.png`);
  await page.screenshot({ path, fullPage: false });
  if (view === 'timeline' && process.env['KEYSMITH_UPDATE_SCREENSHOT'] === '1') {
    await mkdir(join(REPO, 'docs', 'images'), { recursive: true });
    await copyFile(path, README_SCREENSHOT);
  }
  return path;
}

/** A status and problem document fetched with node:https as `identity` (for checks beside the browser). */
export function adminFetchOptions(service: ConsoleService, identity: Identity): { cert: Buffer; key: Buffer; ca: Buffer } {
  return { cert: readFileSync(identity.certPath), key: readFileSync(identity.keyPath), ca: readFileSync(service.bundlePath) };
}
