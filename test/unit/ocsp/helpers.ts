import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Authority,
  CrlPublisher,
  crlIssuerFor,
  initCertificateAuthority,
  OcspSigner,
  type CaMaterial,
  type IssuedCertificate,
} from '../../../src/ca/index.js';
import { crlAnswer } from '../../../src/cli/issuer-revocation.js';
import { WorkerCrlBuilder } from '../../../src/cli/crl-builder.js';
import type { OcspPort } from '../../../src/http/index.js';
import { GroupCommit, openLedger, openLedgerBackend, type Ledger, type PostgresLedger } from '../../../src/ledger/index.js';
import { LedgerSource, OcspResponder } from '../../../src/ocsp/index.js';
import { encodeOcspRequest } from '../../../src/x509/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { FixedClock, tempDir } from '../ca/helpers.js';

/**
 * A real OCSP stack for tests: a CA made in a temporary directory, the
 * SQLite ledger with the real migrations, the Authority, the delegated
 * responder, the ledger source and the CRL, wired as cli/compose.ts wires
 * them (revocations reach both caches).
 */
export interface OcspStack {
  readonly dir: string;
  readonly clock: FixedClock;
  readonly ledger: Ledger;
  readonly material: CaMaterial;
  readonly authority: Authority;
  readonly signer: OcspSigner;
  readonly source: LedgerSource;
  readonly crl: CrlPublisher;
  readonly responder: OcspResponder;
  readonly port: OcspPort;
  /** PEM files for openssl: the root, the intermediate, and both together. */
  readonly files: { readonly root: string; readonly intermediate: string; readonly chain: string };
  /** Issues an SVID for spiffe://example.org/<path>. */
  issue(path?: string, ttlMs?: number): Promise<IssuedCertificate>;
  close(): void;
}

export interface StackOptions {
  readonly validityMs?: number;
  readonly maxCachedResponses?: number;
  readonly crlValidityMs?: number;
  readonly clock?: FixedClock;
  /** CRL shards (default 1): leaves name `http://127.0.0.1/crl/<n>`. */
  readonly crlShards?: number;
}

let counter = 0;

export async function ocspStack(options: StackOptions = {}): Promise<OcspStack> {
  const dir = tempDir('ocsp');
  const clock = options.clock ?? new FixedClock(Date.now());
  const ledger = openLedger({ path: join(dir.path, 'keysmith.db'), clock });
  const { material } = await initCertificateAuthority({ dataDir: dir.path, trustDomain: 'example.org', store: ledger.certificates, clock });
  const crlUrl = 'http://127.0.0.1/crl';
  const shardCount = options.crlShards ?? 1;
  const authority = new Authority({
    material,
    store: ledger.certificates,
    clock,
    ocspUrl: 'http://127.0.0.1/ocsp',
    crlUrl,
    crlShards: shardCount,
  });
  const signer = new OcspSigner({ authority, clock });
  await signer.rotate();
  const source = new LedgerSource({
    ledger: ledger.certificates,
    signer,
    issuerCertificate: material.intermediate.certDer,
    clock,
    ...(options.validityMs === undefined ? {} : { validityMs: options.validityMs }),
    ...(options.maxCachedResponses === undefined ? {} : { maxCachedResponses: options.maxCachedResponses }),
  });
  const { issuer, issuerName } = crlIssuerFor(material);
  const builder = new WorkerCrlBuilder({
    ledger: { kind: 'sqlite', path: join(dir.path, 'keysmith.db') },
    issuerName,
    issuer,
    signingKey: material.intermediate.keyObject,
    shardCount,
    crlUrl,
  });
  const crl = new CrlPublisher({
    builder,
    probe: builder,
    numbers: ledger.crlNumbers,
    issuerName,
    clock,
    shardCount,
    debounceMs: 0,
    ...(options.crlValidityMs === undefined ? {} : { validityMs: options.crlValidityMs }),
  });
  authority.onRevoked(source.drop);
  authority.onRevoked(crl.noteRevoked);
  const responder = new OcspResponder(source);
  const files = { root: join(dir.path, 'root.pem'), intermediate: join(dir.path, 'intermediate.pem'), chain: join(dir.path, 'chain.pem') };
  writeFileSync(files.root, material.root.certPem);
  writeFileSync(files.intermediate, material.intermediate.certPem);
  writeFileSync(files.chain, material.intermediate.certPem + material.root.certPem);
  return {
    dir: dir.path,
    clock,
    ledger,
    material,
    authority,
    signer,
    source,
    crl,
    responder,
    port: { responder, crl: crlAnswer(crl), issuerCertificate: () => material.intermediate.certDer },
    files,
    issue: (path = `w${++counter}`, ttlMs) =>
      authority.issue(
        {
          publicKey: new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' })),
          spiffeId: `spiffe://example.org/${path}`,
          requester: 'system',
          ...(ttlMs === undefined ? {} : { ttlMs }),
        },
        'svid',
      ),
    close: () => {
      signer.stop();
      crl.stop();
      void builder.close();
      ledger.close();
      dir.remove();
    },
  };
}

/** A workload SVID for `spiffe://example.org/<name>` with a fresh P-256 key, through the Authority's one pipeline. */
export function issueWorkloadSvid(authority: Authority, name: string): Promise<IssuedCertificate> {
  return authority.issue(
    {
      publicKey: new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' })),
      spiffeId: `spiffe://example.org/${name}`,
      requester: 'system',
    },
    'svid',
  );
}

/** A DER OCSP request for one certificate of the Authority's intermediate. */
export function ocspRequestFor(authority: Authority, issued: IssuedCertificate): Uint8Array {
  return encodeOcspRequest([{ certificateDer: issued.der, issuerDer: authority.material.intermediate.certDer }]);
}

/** Two nodes on one fresh PostgreSQL database, a CA on the first, its Authority (group commit) and delegated responder. */
export interface TwoPostgresNodes {
  readonly database: TestDatabase;
  readonly node1: PostgresLedger;
  readonly node2: PostgresLedger;
  readonly writer: GroupCommit;
  readonly authority: Authority;
  readonly signer: OcspSigner;
  /** Stops the signer, commits what is queued, closes both nodes and drops the database. */
  close(): Promise<void>;
}

export async function twoPostgresNodes(clock: FixedClock, dataDir: string, label: string, secondPoolSize = 4): Promise<TwoPostgresNodes> {
  const database = await createTestDatabase(label);
  const first = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 4 }, { clock });
  const second = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: secondPoolSize }, { clock });
  if (first.kind !== 'postgres' || second.kind !== 'postgres') throw new Error('expected two PostgreSQL ledgers');
  const node1 = first.ledger;
  const node2 = second.ledger;
  const { material } = await initCertificateAuthority({ dataDir, trustDomain: 'example.org', store: node1.certificates, clock });
  const writer = new GroupCommit(node1.certificates);
  const authority = new Authority({ material, store: writer, clock, ocspUrl: 'http://127.0.0.1/ocsp' });
  const signer = new OcspSigner({ authority, clock });
  await signer.rotate();
  return {
    database,
    node1,
    node2,
    writer,
    authority,
    signer,
    async close() {
      signer.stop();
      await writer.close();
      await node1.close();
      await node2.close();
      await database.drop();
    },
  };
}
