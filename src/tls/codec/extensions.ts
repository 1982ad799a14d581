import { DecodeError, TlsAlertError } from '../alert.js';
import { ExtensionType } from './enums.js';
import { Reader } from './reader.js';
import type { Writer } from './writer.js';

export {
  decodeClientKeyShares,
  decodeServerKeyShare,
  encodeClientKeyShares,
  encodeServerKeyShare,
  type KeyShareEntry,
} from './key-share.js';
export { decodeRecordSizeLimit, encodeRecordSizeLimit, MIN_RECORD_SIZE_LIMIT, TLS13_RECORD_SIZE_LIMIT } from './record-size-limit.js';
export { decodeOfferedPsks, encodeOfferedPsks, type OfferedPsks, type PskIdentity } from './pre-shared-key.js';
export {
  decodeCertificateStatus,
  decodeCertificateStatusRequest,
  encodeCertificateStatus,
  encodeCertificateStatusRequest,
  isOcspStatusRequest,
  MAX_STAPLED_OCSP_RESPONSE,
  type CertificateStatus,
  type CertificateStatusRequest,
  type OcspStatusRequest,
  type UnknownStatusRequest,
} from './status-request.js';

/** An extension as it sits on the wire; typed decoders below read its data. */
export interface RawExtension {
  readonly type: number;
  readonly data: Buffer;
}

/**
 * Reads an extensions block. RFC 8446 §4.2: there MUST NOT be more than one
 * extension of the same type in a block (illegal_parameter).
 */
export function decodeExtensions(r: Reader, min: number, what: string): RawExtension[] {
  const block = r.sub(2, `${what} extensions`, min, 0xffff);
  const out: RawExtension[] = [];
  const seen = new Set<number>();
  while (!block.isEmpty()) {
    const type = block.u16('extension type');
    const data = block.vector(2, 'extension data');
    if (seen.has(type)) throw new TlsAlertError('illegal_parameter', `duplicate extension ${type} in ${what}`);
    seen.add(type);
    out.push({ type, data });
  }
  return out;
}

export function encodeExtensions(w: Writer, extensions: readonly RawExtension[]): void {
  w.vector(2, (b) => {
    for (const e of extensions) b.u16(e.type).opaque(2, e.data);
  });
}

export function findExtension(extensions: readonly RawExtension[], type: number): Buffer | undefined {
  for (const e of extensions) if (e.type === type) return e.data;
  return undefined;
}

/**
 * Which extensions each message may carry (RFC 8446 §4.2 table). A known
 * extension in the wrong message is illegal_parameter.
 */
type MessageContext =
  | 'client_hello'
  | 'server_hello'
  | 'hello_retry_request'
  | 'encrypted_extensions'
  | 'certificate_request'
  | 'certificate'
  | 'new_session_ticket';

const ALLOWED_IN: Readonly<Record<MessageContext, ReadonlySet<number>>> = {
  client_hello: new Set(Object.values(ExtensionType).filter((t) => t !== ExtensionType.oid_filters)),
  server_hello: new Set([ExtensionType.key_share, ExtensionType.pre_shared_key, ExtensionType.supported_versions]),
  hello_retry_request: new Set([ExtensionType.key_share, ExtensionType.cookie, ExtensionType.supported_versions]),
  encrypted_extensions: new Set([
    ExtensionType.server_name,
    ExtensionType.supported_groups,
    ExtensionType.application_layer_protocol_negotiation,
    ExtensionType.early_data,
    // RFC 8449 §4: in TLS 1.3 the server's record_size_limit goes in EncryptedExtensions.
    ExtensionType.record_size_limit,
  ]),
  certificate_request: new Set([
    ExtensionType.status_request,
    ExtensionType.signature_algorithms,
    ExtensionType.certificate_authorities,
    ExtensionType.oid_filters,
    ExtensionType.signature_algorithms_cert,
  ]),
  certificate: new Set([ExtensionType.status_request]),
  new_session_ticket: new Set([ExtensionType.early_data]),
};

const KNOWN = new Set<number>(Object.values(ExtensionType));

export type ExtensionContext = keyof typeof ALLOWED_IN;

/**
 * Checks a received block against where it appears. `offered` (client side)
 * lists what we sent: RFC 8446 §4.2 makes any other response extension
 * unsupported_extension.
 */
export function checkExtensionsAllowed(
  extensions: readonly RawExtension[],
  context: ExtensionContext,
  offered?: ReadonlySet<number>,
): void {
  const allowed = ALLOWED_IN[context];
  for (const e of extensions) {
    if (offered !== undefined && !offered.has(e.type) && !(context === 'hello_retry_request' && e.type === ExtensionType.cookie)) {
      throw new TlsAlertError('unsupported_extension', `${context} carries extension ${e.type} we did not offer`);
    }
    if (KNOWN.has(e.type) && !allowed.has(e.type)) {
      throw new TlsAlertError('illegal_parameter', `extension ${e.type} is not allowed in ${context}`);
    }
  }
}

// ---- typed extension bodies ----

export function decodeU16List(data: Buffer, what: string, minBytes: number): number[] {
  const r = Reader.of(data);
  const list = r.sub(2, what, minBytes, 0xfffe);
  r.expectEmpty(what);
  if (list.remaining % 2 !== 0) throw new DecodeError(`${what}: odd length`);
  const out: number[] = [];
  while (!list.isEmpty()) out.push(list.u16(what));
  return out;
}

export function encodeU16List(values: readonly number[]): Buffer {
  const b = Buffer.allocUnsafe(2 + values.length * 2);
  b.writeUInt16BE(values.length * 2, 0);
  values.forEach((v, i) => b.writeUInt16BE(v, 2 + i * 2));
  return b;
}

/** server_name (RFC 6066 §3): we read the first host_name entry. */
export function decodeServerName(data: Buffer): string | undefined {
  const r = Reader.of(data);
  const list = r.sub(2, 'server_name list', 1);
  r.expectEmpty('server_name');
  let host: string | undefined;
  while (!list.isEmpty()) {
    const nameType = list.u8('name_type');
    const name = list.vector(2, 'HostName', 1);
    if (nameType === 0) {
      if (host !== undefined) throw new TlsAlertError('illegal_parameter', 'two host_name entries');
      host = name.toString('latin1');
      // RFC 6066 §3: a literal IP address is not permitted; control bytes are never valid.
      if (!/^[a-zA-Z0-9.\-_*]+$/.test(host)) throw new TlsAlertError('illegal_parameter', 'malformed server_name');
    }
  }
  return host;
}

export function encodeServerName(host: string): Buffer {
  const name = Buffer.from(host, 'latin1');
  const b = Buffer.allocUnsafe(5 + name.length);
  b.writeUInt16BE(3 + name.length, 0);
  b[2] = 0;
  b.writeUInt16BE(name.length, 3);
  name.copy(b, 5);
  return b;
}

/** ALPN ProtocolNameList (RFC 7301 §3.1). */
export function decodeAlpn(data: Buffer): string[] {
  const r = Reader.of(data);
  const list = r.sub(2, 'ALPN list', 2);
  r.expectEmpty('ALPN');
  const out: string[] = [];
  while (!list.isEmpty()) out.push(list.vector(1, 'ProtocolName', 1).toString('latin1'));
  return out;
}

export function encodeAlpn(protocols: readonly string[]): Buffer {
  const parts = protocols.map((p) => Buffer.from(p, 'latin1'));
  const total = parts.reduce((n, p) => n + 1 + p.length, 0);
  const b = Buffer.allocUnsafe(2 + total);
  b.writeUInt16BE(total, 0);
  let at = 2;
  for (const p of parts) {
    b[at++] = p.length;
    p.copy(b, at);
    at += p.length;
  }
  return b;
}

export function decodeU16(data: Buffer, what: string): number {
  const r = Reader.of(data);
  const v = r.u16(what);
  r.expectEmpty(what);
  return v;
}

export function encodeU16(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v, 0);
  return b;
}

/** supported_versions in ClientHello: versions<2..254>. */
export function decodeSupportedVersions(data: Buffer): number[] {
  const r = Reader.of(data);
  const list = r.sub(1, 'supported_versions', 2, 254);
  r.expectEmpty('supported_versions');
  if (list.remaining % 2 !== 0) throw new DecodeError('supported_versions: odd length');
  const out: number[] = [];
  while (!list.isEmpty()) out.push(list.u16());
  return out;
}

export function decodeOpaque16(data: Buffer, what: string, min = 1): Buffer {
  const r = Reader.of(data);
  const v = r.vector(2, what, min);
  r.expectEmpty(what);
  return v;
}

export function encodeOpaque16(v: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(2 + v.length);
  b.writeUInt16BE(v.length, 0);
  b.set(v, 2);
  return b;
}

export function decodePskModes(data: Buffer): number[] {
  const r = Reader.of(data);
  const list = r.vector(1, 'psk_key_exchange_modes', 1);
  r.expectEmpty('psk_key_exchange_modes');
  return [...list];
}

/** certificate_authorities (RFC 8446 §4.2.4): DistinguishedName authorities<3..2^16-1>. */
export function decodeCertificateAuthorities(data: Buffer): Buffer[] {
  const r = Reader.of(data);
  const list = r.sub(2, 'certificate_authorities', 3);
  r.expectEmpty('certificate_authorities');
  const out: Buffer[] = [];
  while (!list.isEmpty()) out.push(list.vector(2, 'DistinguishedName', 1));
  return out;
}

export function encodeCertificateAuthorities(names: readonly Uint8Array[]): Buffer {
  const total = names.reduce((n, d) => n + 2 + d.length, 0);
  const b = Buffer.allocUnsafe(2 + total);
  b.writeUInt16BE(total, 0);
  let at = 2;
  for (const d of names) {
    b.writeUInt16BE(d.length, at);
    b.set(d, at + 2);
    at += 2 + d.length;
  }
  return b;
}

export function expectEmptyExtension(data: Buffer, what: string): void {
  if (data.length !== 0) throw new DecodeError(`${what} must be empty`);
}
