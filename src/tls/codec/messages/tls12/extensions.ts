import { TlsAlertError } from '../../../alert.js';
import { EcPointFormat } from '../../enums.js';
import { expectEmptyExtension } from '../../extensions.js';
import { Reader } from '../../reader.js';

/* The hello extensions only TLS 1.2 uses. */

/** extended_master_secret (RFC 7627 §5.1): empty; anything in it is decode_error. */
export function decodeExtendedMasterSecret(data: Buffer): void {
  expectEmptyExtension(data, 'extended_master_secret');
}

/** renegotiation_info (RFC 5746 §3.2): opaque renegotiated_connection<0..255>. */
export function decodeRenegotiationInfo(data: Buffer): Buffer {
  const r = Reader.of(data);
  const renegotiatedConnection = r.vector(1, 'renegotiated_connection');
  r.expectEmpty('renegotiation_info');
  return renegotiatedConnection;
}

export function encodeRenegotiationInfo(renegotiatedConnection: Uint8Array): Buffer {
  if (renegotiatedConnection.length > 0xff) throw new RangeError('renegotiated_connection over 255 bytes');
  return Buffer.concat([Buffer.of(renegotiatedConnection.length), renegotiatedConnection]);
}

/**
 * ec_point_formats (RFC 8422 §5.1.2): ECPointFormat ec_point_format_list<1..2^8-1>.
 * A list without uncompressed is illegal_parameter (RFC 8422 §5.1.2).
 */
export function decodeEcPointFormats(data: Buffer): number[] {
  const r = Reader.of(data);
  const formats = [...r.vector(1, 'ec_point_format_list', 1)];
  r.expectEmpty('ec_point_formats');
  if (!formats.includes(EcPointFormat.uncompressed)) throw new TlsAlertError('illegal_parameter', 'ec_point_formats without uncompressed');
  return formats;
}

export function encodeEcPointFormats(formats: readonly number[]): Buffer {
  return Buffer.from([formats.length, ...formats]);
}

/** session_ticket (RFC 5077 §3.2): the extension data is the ticket itself (empty when the client has none). */
export function decodeSessionTicketExtension(data: Buffer): Buffer {
  return data;
}
