import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { alertKey, daysLeft, formatThreshold, identityOf, selectExpiring } from '../../../src/alerts/index.js';
import type { CertificateRecord } from '../../../src/domain/certificates.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);

function record(overrides: Partial<CertificateRecord> & { serial: string }): CertificateRecord {
  return {
    issuer: 'CN=i',
    subject: `CN=${overrides.serial}`,
    sans: [],
    spiffeId: null,
    profile: 'tls-server',
    requester: 'system',
    notBefore: T0 - 60_000,
    notAfter: T0 + 90 * DAY,
    status: 'valid',
    revokedAt: null,
    revocationReason: null,
    der: new Uint8Array([1]),
    fingerprint: '00'.repeat(32),
    issuedAt: T0,
    ...overrides,
  };
}

describe('select-expiring', () => {
  it('spells thresholds in their largest whole unit', () => {
    assert.equal(formatThreshold(7 * DAY), '7d');
    assert.equal(formatThreshold(36 * 3_600_000), '36h');
    assert.equal(formatThreshold(90 * 60_000), '90m');
    assert.equal(formatThreshold(45_000), '45s');
    assert.equal(formatThreshold(1_500), '1500ms');
  });

  it('keys an alert by serial and threshold', () => {
    assert.equal(alertKey('0a1b', 7 * DAY), 'keysmith-0a1b-7d');
    assert.notEqual(alertKey('0a1b', 7 * DAY), alertKey('0a1b', 30 * DAY));
  });

  it('counts whole days left, rounding down', () => {
    assert.equal(daysLeft(T0 + 7 * DAY, T0), 7);
    assert.equal(daysLeft(T0 + 7 * DAY - 1, T0), 6);
    assert.equal(daysLeft(T0 + 1, T0), 0);
    assert.equal(daysLeft(T0 - 1, T0), -1);
  });

  it('names the identity by SPIFFE ID, else the DNS/IP name set (any order, DNS any case), else subject and profile', () => {
    assert.equal(
      identityOf(record({ serial: 'aa', spiffeId: 'spiffe://x/y', sans: [{ type: 'dns', value: 'a.example' }] })),
      'spiffe spiffe://x/y',
    );
    const one = record({
      serial: 'ab',
      sans: [
        { type: 'dns', value: 'B.example' },
        { type: 'ip', value: '10.0.0.1' },
      ],
    });
    const two = record({
      serial: 'ac',
      sans: [
        { type: 'ip', value: '10.0.0.1' },
        { type: 'dns', value: 'b.example' },
        { type: 'uri', value: 'https://x' },
      ],
    });
    assert.equal(identityOf(one), identityOf(two));
    assert.equal(identityOf(record({ serial: 'ad', profile: 'root', subject: 'CN=root' })), 'subject root CN=root');
  });

  it('selects at the threshold boundary, not before, and not an expired certificate', () => {
    const c = record({ serial: 'ba' });
    assert.deepEqual(selectExpiring(T0 + 83 * DAY - 1, [c], [{ withinMs: 7 * DAY, profiles: null }]), []);
    assert.deepEqual(selectExpiring(T0 + 83 * DAY, [c], [{ withinMs: 7 * DAY, profiles: null }]), [{ serial: 'ba', thresholdMs: 7 * DAY }]);
    assert.deepEqual(selectExpiring(T0 + 90 * DAY, [c], [{ withinMs: 7 * DAY, profiles: null }]), []);
  });

  it('needs a whole lifetime longer than the threshold, counted from issuance', () => {
    const exactly = record({ serial: 'ca', notAfter: T0 + 7 * DAY });
    const longer = record({ serial: 'cb', notAfter: T0 + 7 * DAY + 1 });
    assert.deepEqual(selectExpiring(T0 + DAY, [exactly, longer], [{ withinMs: 7 * DAY, profiles: null }]), [
      { serial: 'cb', thresholdMs: 7 * DAY },
    ]);
  });

  it('skips what was already alerted at this or a tighter threshold', () => {
    const c = record({ serial: 'da' });
    const thresholds = [
      { withinMs: 30 * DAY, profiles: null },
      { withinMs: 7 * DAY, profiles: null },
    ];
    assert.deepEqual(selectExpiring(T0 + 85 * DAY, [c], thresholds, [{ serial: 'da', thresholdMs: 7 * DAY }]), []);
    assert.deepEqual(selectExpiring(T0 + 85 * DAY, [c], thresholds, [{ serial: 'da', thresholdMs: 30 * DAY }]), [
      { serial: 'da', thresholdMs: 7 * DAY },
    ]);
  });
});
