import { DomainError } from '../../../src/shared/errors.js';
import type { CertificateRecord, NewCertificateRecord, RevocationReason } from '../../../src/domain/certificates.js';
import type { CertificateStore, SerialStatus } from '../../../src/ca/index.js';

/** A Map-backed CertificateStore with the ledger's error kinds (notFound, conflict), for issuance tests. */
export class MemoryStore implements CertificateStore {
  readonly records = new Map<string, CertificateRecord>();
  /** Serials `isSerialTaken` reports as taken although no record exists (collision tests). */
  readonly reserved = new Set<string>();
  /** Serials asked about, in order. */
  readonly asked: string[] = [];
  /** When set, recordIssued throws it (after nothing was written). */
  failNextRecord: Error | undefined;

  isSerialTaken(serial: string): boolean {
    this.asked.push(serial);
    return this.records.has(serial) || this.reserved.has(serial);
  }

  recordIssued(record: NewCertificateRecord): void {
    const failure = this.failNextRecord;
    if (failure !== undefined) {
      this.failNextRecord = undefined;
      throw failure;
    }
    if (this.records.has(record.serial)) throw new DomainError('conflict', `serial ${record.serial} exists`);
    this.records.set(record.serial, { ...record, status: 'valid', revokedAt: null, revocationReason: null });
  }

  findBySerial(serial: string): CertificateRecord | undefined {
    return this.records.get(serial);
  }

  revoke(serial: string, reason: RevocationReason, revokedAt: number): CertificateRecord {
    const current = this.records.get(serial);
    if (current === undefined) throw new DomainError('notFound', `no certificate with serial ${serial}`);
    if (current.status === 'revoked') throw new DomainError('conflict', `certificate ${serial} is already revoked`);
    const updated: CertificateRecord = { ...current, status: 'revoked', revokedAt, revocationReason: reason };
    this.records.set(serial, updated);
    return updated;
  }

  statusOf(serial: string): SerialStatus | undefined {
    const record = this.records.get(serial);
    if (record === undefined) return undefined;
    return { status: record.status, notAfter: record.notAfter, revokedAt: record.revokedAt, reason: record.revocationReason };
  }
}
