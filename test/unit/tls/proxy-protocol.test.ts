import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_V2_PAYLOAD, parseProxyHeader } from '../../../src/tls/net/proxy-protocol.js';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function v2(command: number, familyTransport: number, payload: Buffer): Buffer {
  const fixed = Buffer.alloc(4);
  fixed.writeUInt8(0x20 | command, 0);
  fixed.writeUInt8(familyTransport, 1);
  fixed.writeUInt16BE(payload.length, 2);
  return Buffer.concat([SIGNATURE, fixed, payload]);
}

function tcp4(source: number[], sourcePort: number): Buffer {
  const payload = Buffer.alloc(12);
  Buffer.from(source).copy(payload, 0);
  Buffer.from([127, 0, 0, 1]).copy(payload, 4);
  payload.writeUInt16BE(sourcePort, 8);
  payload.writeUInt16BE(8443, 10);
  return payload;
}

describe('PROXY protocol header (HAProxy proxy-protocol.txt, v1 and v2)', () => {
  it('v2 PROXY over TCP4 names the source address and port, and says where TLS starts', () => {
    const header = v2(0x1, 0x11, tcp4([203, 0, 113, 7], 4242));
    const result = parseProxyHeader(Buffer.concat([header, Buffer.from([0x16, 0x03, 0x01])]));
    assert.deepEqual(result, { kind: 'header', length: 28, peer: { address: '203.0.113.7', port: 4242, family: 'IPv4' } });
  });

  it('v2 PROXY over TCP6 gives the canonical IPv6 text', () => {
    const payload = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000001', 'hex').copy(payload, 0);
    payload.writeUInt16BE(50000, 32);
    assert.deepEqual(parseProxyHeader(v2(0x1, 0x21, payload)), {
      kind: 'header',
      length: 52,
      peer: { address: '2001:db8::1', port: 50000, family: 'IPv6' },
    });
  });

  it('v2 PROXY over TCP6 gives an IPv4-mapped source as node:net reports one', () => {
    const payload = Buffer.alloc(36);
    Buffer.from('00000000000000000000ffffcb007107', 'hex').copy(payload, 0);
    payload.writeUInt16BE(443, 32);
    assert.deepEqual(parseProxyHeader(v2(0x1, 0x21, payload)), {
      kind: 'header',
      length: 52,
      peer: { address: '::ffff:203.0.113.7', port: 443, family: 'IPv6' },
    });
  });

  it('v2 LOCAL (a balancer health check) and TLVs beyond the addresses are accepted without a peer or with it', () => {
    assert.deepEqual(parseProxyHeader(v2(0x0, 0x00, Buffer.alloc(0))), { kind: 'header', length: 16, peer: undefined });
    const withTlv = Buffer.concat([tcp4([10, 1, 2, 3], 1), Buffer.from([0x04, 0x00, 0x01, 0x00])]);
    assert.deepEqual(parseProxyHeader(v2(0x1, 0x11, withTlv)), {
      kind: 'header',
      length: 32,
      peer: { address: '10.1.2.3', port: 1, family: 'IPv4' },
    });
  });

  it('asks for more bytes while the header is cut short, at every cut', () => {
    const header = v2(0x1, 0x11, tcp4([192, 168, 1, 1], 80));
    for (let cut = 1; cut < header.length; cut++) assert.deepEqual(parseProxyHeader(header.subarray(0, cut)), { kind: 'incomplete' });
    const line = Buffer.from('PROXY TCP4 192.168.1.1 127.0.0.1 80 8443\r\n');
    for (let cut = 1; cut < line.length; cut++) assert.deepEqual(parseProxyHeader(line.subarray(0, cut)), { kind: 'incomplete' });
  });

  it('refuses a wrong version, an unknown command, short addresses and a header over the bound', () => {
    const bad = v2(0x1, 0x11, tcp4([1, 2, 3, 4], 5));
    bad.writeUInt8(0x11, 12);
    assert.equal(parseProxyHeader(bad).kind, 'invalid');
    assert.equal(parseProxyHeader(v2(0x2, 0x11, tcp4([1, 2, 3, 4], 5))).kind, 'invalid');
    assert.equal(parseProxyHeader(v2(0x1, 0x11, Buffer.alloc(8))).kind, 'invalid');
    assert.equal(parseProxyHeader(v2(0x1, 0x21, Buffer.alloc(20))).kind, 'invalid');
    const oversized = v2(0x1, 0x11, Buffer.alloc(MAX_V2_PAYLOAD + 1));
    assert.deepEqual(parseProxyHeader(oversized.subarray(0, 16)), {
      kind: 'invalid',
      reason: `PROXY v2 header of ${MAX_V2_PAYLOAD + 1} bytes is over ${MAX_V2_PAYLOAD}`,
    });
  });

  it('v1 TCP4, TCP6 and UNKNOWN lines', () => {
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP4 198.51.100.2 127.0.0.1 40000 8443\r\nrest')), {
      kind: 'header',
      length: 46,
      peer: { address: '198.51.100.2', port: 40000, family: 'IPv4' },
    });
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::2 ::1 1 2\r\n')).kind, 'header');
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'header', length: 15, peer: undefined });
  });

  it('refuses malformed v1 lines: bad addresses, ports, field counts, families and lines over 107 bytes', () => {
    for (const line of [
      'PROXY TCP4 300.1.1.1 127.0.0.1 1 2\r\n',
      'PROXY TCP4 1.1.1.1 127.0.0.1 01 2\r\n',
      'PROXY TCP4 1.1.1.1 127.0.0.1 1 65536\r\n',
      'PROXY TCP4 1.1.1.1 127.0.0.1 1\r\n',
      'PROXY TCP4 ::1 ::1 1 2\r\n',
      'PROXY UDP4 1.1.1.1 127.0.0.1 1 2\r\n',
      'PROXY TCP4 1.1.1.1 127.0.0.1 1 2 3\r\n',
    ]) {
      assert.equal(parseProxyHeader(Buffer.from(line)).kind, 'invalid', line);
    }
    assert.equal(parseProxyHeader(Buffer.from(`PROXY ${'x'.repeat(120)}`)).kind, 'invalid');
  });

  it('refuses a connection that starts with anything else (a ClientHello without the header)', () => {
    assert.equal(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x50])).kind, 'invalid');
  });
});
