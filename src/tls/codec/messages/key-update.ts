import { TlsAlertError } from '../../alert.js';
import { Reader } from '../reader.js';

/** KeyUpdate (RFC 8446 §4.6.3): returns whether the peer asks us to update too. */
export function decodeKeyUpdate(body: Buffer): boolean {
  const r = Reader.of(body);
  const request = r.u8('request_update');
  r.expectEmpty('KeyUpdate');
  // §4.6.3: any other value is illegal_parameter.
  if (request > 1) throw new TlsAlertError('illegal_parameter', `request_update ${request}`);
  return request === 1;
}
