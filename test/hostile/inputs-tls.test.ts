import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostileService } from './harness.js';
import { rawTcp, SourceAddresses, type Outcome } from './fuzz/client.js';
import { assertUnharmed } from './fuzz/oracle.js';
import { record, validClientHello } from './fuzz/targets/clienthello.js';

/**
 * TLS records at the edges (RFC 8446 §5, §6), written raw over TCP to the
 * listener of `keysmith serve` as a child: oversized records, unknown
 * content types, alerts of odd lengths, ChangeCipherSpec where it is not
 * allowed or with the wrong body. Each connection ends with the alert the
 * RFC names (plaintext before the ServerHello, so the test reads its
 * description; protected after it), the child stays alive and answering,
 * and nothing is written.
 */

const ALERT = { unexpectedMessage: 10, recordOverflow: 22, decodeError: 50 } as const;
const CONTENT = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;

/** The records of a raw answer: content type and length. */
function records(bytes: Buffer): { type: number; length: number }[] {
  const out: { type: number; length: number }[] = [];
  for (let at = 0; at + 5 <= bytes.length;) {
    const length = bytes.readUInt16BE(at + 3);
    out.push({ type: bytes[at] ?? -1, length });
    at += 5 + length;
  }
  return out;
}

/** The whole answer is one fatal alert (level 2) with `description`, then the server closed. */
function assertAlert(outcome: Outcome, description: number, what: string): void {
  assert.equal(outcome.status, 'closed', `${what}: the server closes`);
  assert.deepEqual([...outcome.body], [CONTENT.alert, 3, 3, 0, 2, 2, description], `${what}: one fatal alert ${description}`);
}

describe('hostile TLS records', () => {
  let service: HostileService;
  const sources = new SourceAddresses();
  const hello = validClientHello();
  const helloMessage = hello.subarray(5);
  before(async () => {
    service = await HostileService.start();
  });
  after(() => service.stop());

  async function send(bytes: Buffer, what: string): Promise<Outcome> {
    const before = service.certificateCount();
    const outcome = await rawTcp(service.port, sources.take(), bytes, { idleMs: 300, timeoutMs: 5_000 });
    await assertUnharmed(service, before, what);
    return outcome;
  }

  it('answers the unmutated ClientHello with a ServerHello (the edges below start from it)', async () => {
    const outcome = await send(hello, 'the seed ClientHello');
    assert.equal(records(outcome.body)[0]?.type, CONTENT.handshake);
  });

  it('refuses a record longer than 2^14 octets with record_overflow (RFC 8446 §5.1)', async () => {
    const padded = (length: number): Buffer =>
      record(CONTENT.handshake, Buffer.concat([helloMessage, Buffer.alloc(length - helloMessage.length)]));
    assertAlert(await send(padded(16_385), '16,385 octets'), ALERT.recordOverflow, '2^14 + 1');
    assertAlert(await send(padded(16_641), '16,641 octets'), ALERT.recordOverflow, '2^14 + 257');
    // The header alone is enough: the server does not wait for 64 KiB it will refuse.
    assertAlert(
      await send(Buffer.from([CONTENT.handshake, 3, 1, 0xff, 0xff]), 'a 65,535-octet header'),
      ALERT.recordOverflow,
      'header only',
    );
  });

  it('refuses unknown content types and application data before the handshake with unexpected_message (RFC 8446 §5)', async () => {
    for (const type of [0, 0x19, 0xff, CONTENT.applicationData]) {
      assertAlert(await send(record(type, helloMessage), `content type ${type}`), ALERT.unexpectedMessage, `content type ${type}`);
    }
    assertAlert(await send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'plain HTTP'), ALERT.unexpectedMessage, 'plain HTTP');
    assertAlert(
      await send(Buffer.from('8030010303000900000000000000000000000000000000000000000000000000', 'hex'), 'an SSLv2 hello'),
      ALERT.unexpectedMessage,
      'SSLv2',
    );
  });

  it('refuses alert records of 1 and 3 octets with decode_error (RFC 8446 §6: an alert is two octets)', async () => {
    assertAlert(await send(record(CONTENT.alert, Buffer.from([2])), 'a 1-octet alert'), ALERT.decodeError, '1 octet');
    assertAlert(await send(record(CONTENT.alert, Buffer.from([2, 40, 0])), 'a 3-octet alert'), ALERT.decodeError, '3 octets');
  });

  it('closes without answering a fatal alert with another (RFC 8446 §6.2)', async () => {
    const outcome = await send(record(CONTENT.alert, Buffer.from([2, 40])), 'a fatal alert');
    assert.equal(outcome.status, 'closed');
    assert.equal(outcome.body.length, 0);
  });

  it('refuses ChangeCipherSpec before the ClientHello with unexpected_message, whatever its body (RFC 8446 §5)', async () => {
    for (const body of [Buffer.from([1]), Buffer.from([2])]) {
      assertAlert(
        await send(record(CONTENT.changeCipherSpec, body), `CCS ${body.toString('hex')} first`),
        ALERT.unexpectedMessage,
        `CCS ${body.toString('hex')}`,
      );
    }
  });

  it('drops a ChangeCipherSpec 0x01 after the ClientHello and aborts on any other body (RFC 8446 §5)', async () => {
    const kept = await send(Buffer.concat([hello, record(CONTENT.changeCipherSpec, Buffer.from([1]))]), 'CCS 01 after the hello');
    assert.equal(kept.status, 'open', 'the handshake goes on');
    for (const body of [Buffer.from([2]), Buffer.alloc(0), Buffer.from([1, 1])]) {
      const outcome = await send(
        Buffer.concat([hello, record(CONTENT.changeCipherSpec, body)]),
        `CCS ${body.toString('hex') || 'empty'} after the hello`,
      );
      const types = records(outcome.body).map((r) => r.type);
      // The server's flight (ServerHello, its compatibility CCS, protected records), then the alert, protected under the handshake keys, then the close.
      assert.equal(outcome.status, 'closed', `CCS ${body.toString('hex')}: closed`);
      assert.equal(types[0], CONTENT.handshake);
      assert.equal(
        records(outcome.body).at(-1)?.length,
        19,
        'the last record is a protected two-octet alert (2 + 1 content type + 16 tag)',
      );
    }
  });
});
