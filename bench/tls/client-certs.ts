/**
 * Many distinct client certificates for the "fleet" rows of bench/tls: each
 * connection presents a different workload's certificate, so a cache that
 * only helps one returning client is not what those rows measure.
 *
 * The certificates are made in memory from the fixture client certificate
 * (test/fixtures/client.pem): same issuer (the test intermediate), profile
 * and extensions, with a fresh P-256 key, a random serial, and a numbered
 * subject CN and SPIFFE URI of the same lengths, signed with the
 * intermediate's key. Nothing is written to disk.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { fixture } from './protocol.js';

export interface ClientIdentity {
  /** PKCS#8 PEM of the leaf's key. */
  readonly key: string;
  /** Leaf then intermediate, PEM. */
  readonly chain: string;
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  if (length < 0x100) return Buffer.of(0x81, length);
  return Buffer.of(0x82, length >> 8, length & 0xff);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.of(tag), derLength(content.length), content]);
}

/** Offset and length of the header + content of the DER element at `at`. */
function element(der: Buffer, at: number): { headerLength: number; length: number } {
  const first = der[at + 1]!;
  if (first < 0x80) return { headerLength: 2, length: first };
  const octets = first & 0x7f;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + der[at + 2 + i]!;
  return { headerLength: 2 + octets, length };
}

/** Replaces `from` (which must occur exactly once) with `to` of the same length. */
function splice(tbs: Buffer, from: Buffer, to: Buffer, what: string): void {
  const at = tbs.indexOf(from);
  if (at < 0 || tbs.indexOf(from, at + 1) >= 0 || from.length !== to.length)
    throw new Error(`client-certs: cannot place the ${what} in the template`);
  to.copy(tbs, at);
}

function pemOf(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** `count` distinct client identities under the test intermediate (count ≤ 10,000). */
export function makeClientIdentities(count: number): ClientIdentity[] {
  if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new RangeError('client certificate count must be 1..10000');
  const template = new X509Certificate(fixture('client.pem'));
  const intermediatePem = fixture('intermediate.pem');
  const issuerKey = createPrivateKey(fixture('intermediate.key'));
  const templateKeySpki = createPublicKey(fixture('client.key')).export({ format: 'der', type: 'spki' });
  const der = template.raw;
  const outer = element(der, 0);
  const tbsAt = outer.headerLength;
  const tbsElement = element(der, tbsAt);
  const tbsEnd = tbsAt + tbsElement.headerLength + tbsElement.length;
  const tbsTemplate = der.subarray(tbsAt, tbsEnd);
  // signatureAlgorithm, as it follows the TBS in the template.
  const algorithm = element(der, tbsEnd);
  const signatureAlgorithm = der.subarray(tbsEnd, tbsEnd + algorithm.headerLength + algorithm.length);
  // serialNumber: the second element of the TBS, after [0] version.
  const versionAt = tbsElement.headerLength;
  const version = element(tbsTemplate, versionAt);
  const serialAt = versionAt + version.headerLength + version.length;
  const serial = element(tbsTemplate, serialAt);
  const serialContentAt = serialAt + serial.headerLength;

  const identities: ClientIdentity[] = [];
  for (let i = 0; i < count; i++) {
    const tbs = Buffer.from(tbsTemplate);
    // A positive serial of the template's length: the first content byte stays clear of the sign bit,
    // the second is non-zero after a zero first byte so the encoding stays minimal (X.690 §8.3.2).
    const serialBytes = randomBytes(serial.length);
    serialBytes[0] = (serialBytes[0]! & 0x7f) | 0x01;
    serialBytes.copy(tbs, serialContentAt);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    splice(tbs, templateKeySpki, publicKey.export({ format: 'der', type: 'spki' }), 'public key');
    const tag = String(i).padStart(4, '0');
    splice(tbs, Buffer.from('keysmith test client'), Buffer.from(`keysmith client ${tag}`), 'subject CN');
    splice(tbs, Buffer.from('/workload/test'), Buffer.from(`/workload/${tag}`), 'SPIFFE ID');
    const signature = sign('sha256', tbs, issuerKey);
    const certificate = tlv(0x30, Buffer.concat([tbs, signatureAlgorithm, tlv(0x03, Buffer.concat([Buffer.of(0), signature]))]));
    identities.push({ key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), chain: pemOf(certificate) + intermediatePem });
  }
  return identities;
}
