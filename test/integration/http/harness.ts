/**
 * Runs buildApp + createHttpsServer on 127.0.0.1 over our TLS engine with
 * the test CA, and talks to it with node:http over our TLS client. Extra
 * client certificates (admin, node, other trust domain) are minted with
 * the openssl CLI into a temporary directory, signed by the fixtures'
 * intermediate; the committed fixtures are never touched.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import {
  buildApp,
  createHttpsServer,
  KeysmithMetrics,
  type AppDeps,
  type HttpsServer,
  type HttpsServerOptions,
} from '../../../src/http/index.js';
import type { TlsSocket } from '../../../src/tls/index.js';
import { portOf, runProcess } from '../../helpers/processes.js';
import { FakeBundle, FakeClock, FakeHealthCheck, FakeLedger, firstCertificate, recordOf, type RecordOptions } from './fakes.js';
import { EngineAgent } from '../../helpers/engine-client.js';

export const TRUST_DOMAIN = 'keysmith.local';
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

export function fixture(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}

/** A client identity: key and chain (leaf first) as PEM, plus the files for curl. */
export interface Identity {
  readonly key: string;
  readonly chain: string;
  readonly keyPath: string;
  readonly chainPath: string;
}

export function fixtureIdentity(name: string): Identity {
  return {
    key: fixture(`${name}.key`),
    chain: fixture(`${name}-chain.pem`),
    keyPath: fixturePath(`${name}.key`),
    chainPath: fixturePath(`${name}-chain.pem`),
  };
}

export const WORKLOAD = 'client';
export const OTHER_CA = 'other-client';

/** Mints a P-256 client certificate for `uri` under test/fixtures/intermediate.pem (EKU clientAuth). */
export async function mintClient(dir: string, name: string, uri: string): Promise<Identity> {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const certPath = join(dir, `${name}.pem`);
  const extPath = join(dir, `${name}.ext`);
  const chainPath = join(dir, `${name}-chain.pem`);
  await writeFile(
    extPath,
    [
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = clientAuth',
      `subjectAltName = URI:${uri}`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid:always',
      '',
    ].join('\n'),
  );
  const run = async (args: string[]): Promise<void> => {
    const result = await runProcess('openssl', args);
    if (result.code !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
  };
  await run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
  await run(['req', '-new', '-key', keyPath, '-subj', `/CN=${name}`, '-out', csrPath]);
  await run([
    'x509',
    '-req',
    '-in',
    csrPath,
    '-CA',
    fixturePath('intermediate.pem'),
    '-CAkey',
    fixturePath('intermediate.key'),
    '-set_serial',
    `0x${Date.now().toString(16)}${Math.floor(Math.random() * 0xffff)
      .toString(16)
      .padStart(4, '0')}`,
    '-days',
    '3650',
    '-sha256',
    '-extfile',
    extPath,
    '-out',
    certPath,
  ]);
  const chain = (await readFile(certPath, 'utf8')) + fixture('intermediate.pem');
  await writeFile(chainPath, chain);
  return { key: await readFile(keyPath, 'utf8'), chain, keyPath, chainPath };
}

/** The identities every suite uses, minted once per test file. */
export interface Identities {
  readonly dir: string;
  readonly admin: Identity;
  readonly node: Identity;
  readonly foreignAdmin: Identity;
  readonly workload: Identity;
  readonly otherCa: Identity;
  cleanup(): Promise<void>;
}

export async function mintIdentities(): Promise<Identities> {
  const dir = await mkdtemp(join(tmpdir(), 'keysmith-http-'));
  return {
    dir,
    admin: await mintClient(dir, 'admin', `spiffe://${TRUST_DOMAIN}/admin/test`),
    node: await mintClient(dir, 'node', `spiffe://${TRUST_DOMAIN}/node/agent-1`),
    foreignAdmin: await mintClient(dir, 'foreign-admin', 'spiffe://evil.example/admin/test'),
    workload: fixtureIdentity(WORKLOAD),
    otherCa: fixtureIdentity(OTHER_CA),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Writes the identity's certificate into the fake ledger (as the Authority would have) and returns its serial. */
export function enrol(ledger: FakeLedger, identity: Identity, options: RecordOptions = {}): string {
  return ledger.add(recordOf(firstCertificate(identity.chain), options)).serial;
}

export interface ServeOptions {
  readonly mtlsMode?: 'standard' | 'strict';
  readonly logLines?: string[];
  /** Replaces parts of the dependencies built here. */
  readonly deps?: Partial<AppDeps>;
  /** The ledger answers with promises, as the PostgreSQL ledger does (default: at once, as SQLite). */
  readonly isLedgerAsync?: boolean;
  /** Extra engine options for the listener (e.g. maxEarlyData). */
  readonly tls?: Partial<HttpsServerOptions['tls']>;
}

/** The same ledger, every answer a promise settled on a later turn of the event loop (as a database round trip is). */
function answeringLater(ledger: FakeLedger): Pick<AppDeps, 'certificates' | 'revoker'> {
  const later = <T>(answer: () => T): Promise<T> =>
    new Promise((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(answer());
        } catch (error) {
          reject(error);
        }
      });
    });
  const port: AppDeps['certificates'] & AppDeps['revoker'] = {
    list: (query) => later(() => ledger.list(query)),
    findBySerial: (serial) => later(() => ledger.findBySerial(serial)),
    statusOf: (serial) => later(() => ledger.statusOf(serial)),
    expiryTimeline: (query) => later(() => ledger.expiryTimeline(query)),
    revoke: (serial, reason) => later(() => ledger.revoke(serial, reason)),
  };
  return { certificates: port, revoker: port };
}

export interface Served {
  readonly port: number;
  readonly app: FastifyInstance;
  readonly server: HttpsServer;
  readonly ledger: FakeLedger;
  readonly clock: FakeClock;
  readonly bundle: FakeBundle;
  readonly health: FakeHealthCheck[];
  readonly metrics: KeysmithMetrics;
  /** Server-side TLS connections that completed the handshake. */
  readonly connections: TlsSocket[];
  close(): Promise<void>;
}

export async function serve(options: ServeOptions = {}): Promise<Served> {
  const clock = new FakeClock();
  const ledger = new FakeLedger(clock);
  const bundle = new FakeBundle([fixture('ca.pem'), fixture('intermediate.pem')]);
  const health = [new FakeHealthCheck('ledger'), new FakeHealthCheck('ca')];
  const metrics = new KeysmithMetrics();
  const logLines = options.logLines;
  const app = await buildApp({
    ...(options.isLedgerAsync === true ? answeringLater(ledger) : { certificates: ledger, revoker: ledger }),
    bundle,
    health,
    trustDomain: TRUST_DOMAIN,
    mtlsMode: options.mtlsMode ?? 'standard',
    clock,
    metrics,
    logger: logLines === undefined ? false : { level: 'debug', stream: { write: (line: string) => void logLines.push(line) } },
    ...options.deps,
  });
  const server = createHttpsServer({
    tls: { key: fixture('server.key'), cert: fixture('server-chain.pem'), ca: fixture('ca.pem'), ...options.tls },
    mtlsMode: options.mtlsMode ?? 'standard',
    app,
    metrics,
  });
  const connections: TlsSocket[] = [];
  server.tls.on('secureConnection', (socket: TlsSocket) => connections.push(socket));
  await server.listen(0, '127.0.0.1');
  return {
    port: portOf(server.address()),
    app,
    server,
    ledger,
    clock,
    bundle,
    health,
    metrics,
    connections,
    close: () => server.close(2_000),
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Whether the request went out on a kept-alive connection. */
  readonly reusedSocket: boolean;
  json(): unknown;
}

/** Connections over our TLS client for the given identity, trusting the fixture CA; with keepAlive, one reused connection. */
export class TlsAgent extends EngineAgent {
  constructor(port: number, identity: Identity | undefined, keepAlive = true) {
    super(port, fixture('ca.pem'), identity, keepAlive);
  }
}

export interface RequestOptions {
  readonly method?: string;
  readonly path: string;
  readonly identity?: Identity;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Reuse connections through this agent; otherwise a fresh connection per request. */
  readonly agent?: TlsAgent;
}

export function send(port: number, options: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers,
        // node:http ignores a request's createConnection when it makes its own agent, so there is always one here.
        agent: options.agent ?? new TlsAgent(port, options.identity, false),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            reusedSocket: req.reusedSocket,
            json: () => JSON.parse(body) as unknown,
          });
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`request ${options.path} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Narrows a parsed JSON body for assertions. */
export function asRecord(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`not a JSON object: ${JSON.stringify(value)}`);
  return { ...value };
}
