import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Authority, initCertificateAuthority, JwtAuthority, type CaMaterial } from '../../../src/ca/index.js';
import { isDomainError, type DomainErrorKind } from '../../../src/shared/errors.js';
import { openLedger, type Ledger } from '../../../src/ledger/index.js';
import { SvidService, type SvidIssuer, type SvidServiceOptions } from '../../../src/svid/index.js';
import { fromPem, toPem } from '../../../src/x509/index.js';
import { FixedClock, openssl, tempDir } from '../ca/helpers.js';

export const TD = 'example.org';
export const NODE = 'spiffe://example.org/node/agent-1';
export const OTHER_NODE = 'spiffe://example.org/node/agent-2';
export const WEB = 'spiffe://example.org/ns/prod/sa/web';
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/**
 * CSRs made by openssl once per test file. The p256 one asks for names of
 * its own (a DNS name and a SPIFFE ID) that the signer must ignore.
 */
export interface CsrSet {
  readonly p256: string;
  readonly p384: string;
  readonly ed25519: string;
  readonly rsa2048: string;
  readonly rsa1024: string;
  readonly p521: string;
  /** The p256 CSR with one bit of its signature flipped. */
  readonly badSignature: string;
}

export function makeCsrs(dir: string): CsrSet {
  const make = (name: string, keyArgs: readonly string[], extra: readonly string[] = []): string => {
    const out = join(dir, `${name}.csr`);
    openssl([
      'req',
      '-new',
      ...keyArgs,
      '-nodes',
      '-keyout',
      join(dir, `${name}.key`),
      '-subj',
      `/CN=${name}.csr.test`,
      ...extra,
      '-out',
      out,
    ]);
    return readFileSync(out, 'utf8');
  };
  const p256 = make(
    'p256',
    ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    ['-addext', 'subjectAltName=DNS:evil.example.com,URI:spiffe://example.org/ns/prod/sa/evil'],
  );
  const der = new Uint8Array(fromPem(p256, 'CERTIFICATE REQUEST'));
  // The signature BIT STRING ends the CertificationRequest: flipping the last byte breaks the signature, not the DER.
  der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
  return {
    p256,
    p384: make('p384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']),
    ed25519: make('ed25519', ['-newkey', 'ed25519']),
    rsa2048: make('rsa2048', ['-newkey', 'rsa:2048']),
    rsa1024: make('rsa1024', ['-newkey', 'rsa:1024']),
    p521: make('p521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521']),
    badSignature: toPem(der, 'CERTIFICATE REQUEST'),
  };
}

/** A real CA, ledger file, Authority and JWT authority in a temporary directory. */
export interface Bench {
  readonly dir: ReturnType<typeof tempDir>;
  readonly ledger: Ledger;
  readonly ledgerPath: string;
  readonly material: CaMaterial;
  readonly authority: Authority;
  readonly jwt: JwtAuthority;
  readonly clock: FixedClock;
  /** A read-only second connection, for counting what was written. */
  readonly reader: Database.Database;
  close(): void;
}

export async function openBench(prefix: string): Promise<Bench> {
  const dir = tempDir(prefix);
  const clock = new FixedClock(Date.now());
  const ledgerPath = join(dir.path, 'ledger.sqlite');
  const ledger = openLedger({ path: ledgerPath, clock });
  const { material } = await initCertificateAuthority({ dataDir: dir.path, trustDomain: TD, store: ledger.certificates, clock });
  const authority = new Authority({ material, store: ledger.certificates, clock });
  const jwt = await JwtAuthority.loadOrCreate({ dataDir: dir.path });
  const reader = new Database(ledgerPath, { readonly: true });
  return {
    dir,
    ledger,
    ledgerPath,
    material,
    authority,
    jwt,
    clock,
    reader,
    close: () => {
      reader.close();
      ledger.close();
      dir.remove();
    },
  };
}

export function service(bench: Bench, options: SvidServiceOptions = {}, issuer: SvidIssuer = bench.authority): SvidService {
  return new SvidService({
    entries: bench.ledger.entries,
    joinTokens: bench.ledger.joinTokens,
    issuer,
    jwtSigner: bench.jwt,
    clock: bench.clock,
    trustDomain: TD,
    options,
  });
}

/** Rows in a ledger table, read through the second connection. */
export function countRows(bench: Bench, table: 'certificates' | 'registration_entries' | 'join_tokens'): number {
  const count = bench.reader.prepare(`SELECT count(*) FROM ${table}`).pluck().get();
  assert.equal(typeof count, 'number');
  return Number(count);
}

export async function rejectsWith(promise: Promise<unknown>, kind: DomainErrorKind, detail: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isDomainError(err, kind), `expected DomainError ${kind}, got ${String(err)}`);
    assert.match(err.detail, detail);
    return true;
  });
}

export function throwsWith(run: () => unknown, kind: DomainErrorKind, detail: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(isDomainError(err, kind), `expected DomainError ${kind}, got ${String(err)}`);
    assert.match(err.detail, detail);
    return true;
  });
}
