import { isIPv4, isIPv6, SocketAddress, type Socket } from 'node:net';

/*
 * The PROXY protocol header (HAProxy's "PROXY protocol" specification,
 * versions 1 and 2): a TCP balancer in front of several nodes prepends the
 * client's address to the stream, before the TLS ClientHello, so that a node
 * sees who is calling instead of the balancer. Per the specification, a
 * receiver configured for it MUST require the header from the sources it
 * trusts and MUST NOT guess whether one is present; so the server asks the
 * caller's predicate per connection, and from a trusted source a connection
 * without a valid header is closed. From any other source nothing is parsed:
 * a header there fails the handshake like any other non-TLS bytes.
 */

/** The address a PROXY header names (its source), or undefined for LOCAL/UNSPEC (a balancer's own health check). */
export interface ProxiedPeer {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

export type ProxyHeaderResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'header'; readonly length: number; readonly peer: ProxiedPeer | undefined };

/** §2.2: the binary header's 12-byte signature. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_LENGTH = 16;
/**
 * The specification allows 65,535 bytes of addresses and TLVs; a balancer that
 * sends only addresses (keysmith asks for nothing else) stays far below this,
 * and a bound keeps a trusted-but-broken peer from making us buffer 64 KiB.
 */
export const MAX_V2_PAYLOAD = 512;
/** §2.1: a version 1 line is at most 107 bytes, CRLF included. */
const V1_MAX_LENGTH = 107;
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');

/** Parses a header at the start of `data`; 'incomplete' asks for more bytes (never more than 16 + MAX_V2_PAYLOAD in all). */
export function parseProxyHeader(data: Buffer): ProxyHeaderResult {
  if (startsWithPart(data, V2_SIGNATURE)) return data.length < V2_SIGNATURE.length ? { kind: 'incomplete' } : parseV2(data);
  if (startsWithPart(data, V1_PREFIX)) return data.length < V1_PREFIX.length ? { kind: 'incomplete' } : parseV1(data);
  return { kind: 'invalid', reason: 'the connection does not start with a PROXY protocol header' };
}

/** True when `data` and `prefix` agree on their common length. */
function startsWithPart(data: Buffer, prefix: Buffer): boolean {
  const length = Math.min(data.length, prefix.length);
  return data.subarray(0, length).equals(prefix.subarray(0, length));
}

function parseV2(data: Buffer): ProxyHeaderResult {
  if (data.length < V2_FIXED_LENGTH) return { kind: 'incomplete' };
  const versionCommand = data.readUInt8(12);
  const familyTransport = data.readUInt8(13);
  const payloadLength = data.readUInt16BE(14);
  // §2.2: the high nibble is the version and MUST be 0x2; the low nibble is LOCAL (0x0) or PROXY (0x1).
  if (versionCommand >> 4 !== 0x2) return { kind: 'invalid', reason: `PROXY v2 version ${versionCommand >> 4} is not 2` };
  const command = versionCommand & 0x0f;
  if (command > 0x1) return { kind: 'invalid', reason: `PROXY v2 command ${command} is neither LOCAL nor PROXY` };
  if (payloadLength > MAX_V2_PAYLOAD)
    return { kind: 'invalid', reason: `PROXY v2 header of ${payloadLength} bytes is over ${MAX_V2_PAYLOAD}` };
  const length = V2_FIXED_LENGTH + payloadLength;
  if (data.length < length) return { kind: 'incomplete' };
  // LOCAL: the balancer speaks for itself (health checks); the receiver keeps the real connection's address.
  if (command === 0x0) return { kind: 'header', length, peer: undefined };
  const payload = data.subarray(V2_FIXED_LENGTH, length);
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  // §2.2: only TCP over IPv4 (0x11) and IPv6 (0x21) carry an address we use; others are accepted and ignored.
  if (transport !== 0x1 || (family !== 0x1 && family !== 0x2)) return { kind: 'header', length, peer: undefined };
  if (family === 0x1) {
    if (payload.length < 12) return { kind: 'invalid', reason: 'PROXY v2 TCP4 addresses are shorter than 12 bytes' };
    return {
      kind: 'header',
      length,
      peer: { address: [...payload.subarray(0, 4)].join('.'), port: payload.readUInt16BE(8), family: 'IPv4' },
    };
  }
  if (payload.length < 36) return { kind: 'invalid', reason: 'PROXY v2 TCP6 addresses are shorter than 36 bytes' };
  return { kind: 'header', length, peer: { address: ipv6Text(payload.subarray(0, 16)), port: payload.readUInt16BE(32), family: 'IPv6' } };
}

/** The address as node:net reports a socket's peer (RFC 5952 compression, IPv4-mapped in dotted form), so rate-limit keys match either way. */
function ipv6Text(octets: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(octets.readUInt16BE(i).toString(16));
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

const PORT = /^(0|[1-9]\d{0,4})$/;

function parseV1(data: Buffer): ProxyHeaderResult {
  const end = data.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    return data.length >= V1_MAX_LENGTH ? { kind: 'invalid', reason: 'PROXY v1 line is longer than 107 bytes' } : { kind: 'incomplete' };
  }
  const length = end + 2;
  if (length > V1_MAX_LENGTH) return { kind: 'invalid', reason: 'PROXY v1 line is longer than 107 bytes' };
  const fields = data.subarray(0, end).toString('latin1').split(' ');
  // §2.1: "PROXY UNKNOWN" (anything may follow) says the balancer does not know the source.
  if (fields[1] === 'UNKNOWN') return { kind: 'header', length, peer: undefined };
  const [, protocol, source, , sourcePort, destinationPort, extra] = fields;
  if (fields.length !== 6 || extra !== undefined) return { kind: 'invalid', reason: 'PROXY v1 line does not have six fields' };
  const isV4 = protocol === 'TCP4';
  if (!isV4 && protocol !== 'TCP6')
    return { kind: 'invalid', reason: `PROXY v1 protocol ${String(protocol)} is not TCP4, TCP6 or UNKNOWN` };
  const addressOk = isV4 ? isIPv4(source ?? '') && isIPv4(fields[3] ?? '') : isIPv6(source ?? '') && isIPv6(fields[3] ?? '');
  if (!addressOk) return { kind: 'invalid', reason: `PROXY v1 addresses are not ${isV4 ? 'IPv4' : 'IPv6'} addresses` };
  const ports = [sourcePort ?? '', destinationPort ?? ''];
  if (!ports.every((port) => PORT.test(port) && Number(port) <= 65_535))
    return { kind: 'invalid', reason: 'PROXY v1 ports are not numbers in 0..65535' };
  return { kind: 'header', length, peer: { address: source ?? '', port: Number(sourcePort), family: isV4 ? 'IPv4' : 'IPv6' } };
}

/**
 * Reads the header from a fresh transport, leaving the bytes after it unread
 * in the socket (paused) for TLS. Rejects on an invalid header, the peer
 * closing first, or no complete header within `timeoutMs`.
 */
export function readProxyHeader(transport: Socket, timeoutMs: number): Promise<ProxiedPeer | undefined> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const finish = (outcome: () => void): void => {
      clearTimeout(timer);
      transport.off('data', onData);
      transport.off('end', onEnd);
      transport.off('close', onEnd);
      outcome();
    };
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const result = parseProxyHeader(received);
      if (result.kind === 'incomplete') return;
      transport.pause();
      if (result.kind === 'invalid') {
        finish(() => reject(new Error(result.reason)));
        return;
      }
      const rest = received.subarray(result.length);
      if (rest.length > 0) transport.unshift(rest);
      finish(() => resolve(result.peer));
    };
    const onEnd = (): void => finish(() => reject(new Error('the connection closed before its PROXY protocol header was complete')));
    const timer = setTimeout(() => finish(() => reject(new Error(`no PROXY protocol header within ${timeoutMs} ms`))), timeoutMs);
    transport.on('data', onData);
    transport.once('end', onEnd);
    transport.once('close', onEnd);
  });
}
