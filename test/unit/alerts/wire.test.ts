import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  mailMessage,
  signBody,
  webhookDisplayName,
  webhookPayload,
  type MessageItem,
  type PendingMessage,
} from '../../../src/alerts/index.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2025, 4, 1, 9);

const item: MessageItem = {
  alertId: 1,
  thresholdMs: 7 * DAY,
  idempotencyKey: 'keysmith-0a0b-7d',
  serial: '0a0b',
  subject: 'CN=api',
  spiffeId: null,
  dnsNames: ['api.example.org'],
  ipAddresses: ['10.1.2.3'],
  profile: 'tls-server',
  requester: 'acme:7',
  notBefore: NOW - 80 * DAY,
  notAfter: NOW + 5 * DAY + 3_600_000,
};
const message: PendingMessage = {
  id: 9,
  channel: 'mail',
  recipient: 'ops@example.org',
  kind: 'single',
  idempotencyKey: 'keysmith-0a0b-7d',
  attempts: 0,
};

describe('webhook signature', () => {
  it('is HMAC-SHA256 in hex (RFC 4231 §4.3, test case 2)', () => {
    assert.equal(
      signBody('Jefe', 'what do ya want for nothing?'),
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('shows a webhook URL without user info, query or fragment', () => {
    assert.equal(webhookDisplayName('https://user:pw@hooks.example.org:8443/a/b?token=x#f'), 'https://hooks.example.org:8443/a/b');
  });
});

describe('alert wire formats', () => {
  it('lists each certificate with what an operator needs in the webhook body', () => {
    assert.deepEqual(webhookPayload({ ...message, channel: 'webhook' }, [item], NOW), {
      type: 'keysmith.certificates.expiring',
      kind: 'single',
      idempotency_key: 'keysmith-0a0b-7d',
      sent_at: '2025-05-01T09:00:00.000Z',
      certificates: [
        {
          serial: '0a0b',
          subject: 'CN=api',
          spiffe_id: null,
          dns_names: ['api.example.org'],
          ip_addresses: ['10.1.2.3'],
          not_after: '2025-05-06T10:00:00.000Z',
          days_left: 5,
          profile: 'tls-server',
          requester: 'acme:7',
          threshold: '7d',
          idempotency_key: 'keysmith-0a0b-7d',
        },
      ],
    });
  });

  it('writes a plain-text mail whose Message-ID is the idempotency key', () => {
    const mail = mailMessage(message, [item], NOW, 'keysmith@example.org');
    assert.equal(mail.to, 'ops@example.org');
    assert.equal(mail.subject, '[keysmith] certificate api.example.org, 10.1.2.3 expires in 5 days');
    assert.equal(mail.messageId, '<keysmith-0a0b-7d@alerts.keysmith>');
    assert.deepEqual(mail.headers, { 'X-Keysmith-Idempotency-Key': 'keysmith-0a0b-7d' });
    assert.match(mail.text, /serial: +0a0b/);
    assert.match(mail.text, /requester: acme:7/);
    const digest = mailMessage({ ...message, kind: 'digest' }, [item, { ...item, serial: '0c0d', notAfter: NOW - 1 }], NOW, 'k@x');
    assert.equal(digest.subject, '[keysmith] 2 certificates expiring soon');
    assert.match(digest.text, /has expired/);
  });
});
