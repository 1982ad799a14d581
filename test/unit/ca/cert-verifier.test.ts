import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkClientCertificate } from '../../../src/ca/index.js';
import type { NewCertificateRecord } from '../../../src/domain/certificates.js';
import { MemoryStore } from './memory-store.js';

const SERIAL = '5a1b2c3d4e5f60718293a4b5c6d7e8f9';
const NOT_AFTER = Date.UTC(2030, 0, 1, 12, 0, 0);

function storeWithOne(): MemoryStore {
  const store = new MemoryStore();
  const record: NewCertificateRecord = {
    serial: SERIAL,
    issuer: 'O=keysmith, CN=keysmith intermediate CA',
    subject: 'O=keysmith',
    sans: [{ type: 'uri', value: 'spiffe://example.org/web' }],
    spiffeId: 'spiffe://example.org/web',
    profile: 'svid',
    requester: 'system',
    notBefore: NOT_AFTER - 3_600_000,
    notAfter: NOT_AFTER,
    der: Uint8Array.of(0x30, 0x00),
    fingerprint: '00'.repeat(32),
    issuedAt: NOT_AFTER - 3_600_000,
  };
  store.recordIssued(record);
  return store;
}

describe('checkClientCertificate', () => {
  it('says valid for a serial the ledger holds as valid, whatever case or sign octet node:crypto prints', () => {
    const store = storeWithOne();
    assert.equal(checkClientCertificate(store, { serialNumber: SERIAL, notAfter: new Date(NOT_AFTER) }), 'valid');
    assert.equal(checkClientCertificate(store, { serialNumber: SERIAL.toUpperCase(), notAfter: new Date(NOT_AFTER) }), 'valid');
    assert.equal(checkClientCertificate(store, { serialNumber: `00${SERIAL}`, notAfter: new Date(NOT_AFTER + 999) }), 'valid');
  });

  it('says revoked once the ledger revoked it', () => {
    const store = storeWithOne();
    store.revoke(SERIAL, 'keyCompromise', NOT_AFTER - 1000);
    assert.equal(checkClientCertificate(store, { serialNumber: SERIAL, notAfter: new Date(NOT_AFTER) }), 'revoked');
  });

  it('says unknown for never-issued serials, unparseable serials and a notAfter that is not the recorded one', () => {
    const store = storeWithOne();
    assert.equal(checkClientCertificate(store, { serialNumber: '4' + SERIAL.slice(1), notAfter: new Date(NOT_AFTER) }), 'unknown');
    assert.equal(checkClientCertificate(store, { serialNumber: 'zz', notAfter: new Date(NOT_AFTER) }), 'unknown');
    assert.equal(checkClientCertificate(store, { serialNumber: '', notAfter: new Date(NOT_AFTER) }), 'unknown');
    assert.equal(checkClientCertificate(store, { serialNumber: SERIAL, notAfter: new Date(NOT_AFTER + 1000) }), 'unknown');
  });
});
