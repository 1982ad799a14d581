/*
 * The one place DER is joined by hand, for speed on the issuance path:
 * serializing an asn1-schema Certificate re-encodes its whole TBSCertificate
 * from objects (~0.5 ms) although the signed TBS bytes are at hand. The outer
 * SEQUENCE is joined here instead; the check after signing re-parses the
 * whole certificate with the schema.
 */

/** X.690 §8.1.3: definite length octets. */
function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return Uint8Array.from([0x80 | octets.length, ...octets]);
}

/** A SEQUENCE (tag 0x30) whose contents are the given, already DER-encoded, elements. */
export function derSequence(elements: readonly Uint8Array[]): Uint8Array {
  const contentLength = elements.reduce((sum, e) => sum + e.byteLength, 0);
  const length = encodeLength(contentLength);
  const out = new Uint8Array(1 + length.byteLength + contentLength);
  out[0] = 0x30;
  out.set(length, 1);
  let offset = 1 + length.byteLength;
  for (const element of elements) {
    out.set(element, offset);
    offset += element.byteLength;
  }
  return out;
}
