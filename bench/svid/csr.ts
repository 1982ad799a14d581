/**
 * Fresh keys and PKCS#10 requests for the bench, made before any window is
 * measured: one P-256 key and one CSR per SVID request, as a workload would
 * send them. The request is the minimum RFC 2986 asks for (empty subject, no
 * attributes, ecdsa-with-SHA256), encoded with keysmith's own DER writer.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { contextTag, encodeOid, Tag, tlv } from '../../src/pkix/index.js';

const ECDSA_WITH_SHA256 = tlv(Tag.sequence, encodeOid('1.2.840.10045.4.3.2'));
const VERSION_1 = tlv(Tag.integer, Uint8Array.of(0));
const EMPTY_NAME = tlv(Tag.sequence);
const NO_ATTRIBUTES = tlv(contextTag(0, true));

/** One CSR as PEM, for a key made here and then dropped. */
export function makeCsr(): string {
  return makeKeyAndCsr().csrPem;
}

/** A P-256 key (PKCS#8 PEM) and a CSR for it: for clients that go on to use the certificate (test/cluster). */
export function makeKeyAndCsr(): { readonly keyPem: string; readonly csrPem: string } {
  // DER and PEM export only: the JWK-export hazard of PERF-NOTES does not apply.
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const info = tlv(Tag.sequence, VERSION_1, EMPTY_NAME, publicKey.export({ type: 'spki', format: 'der' }), NO_ATTRIBUTES);
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' });
  const der = tlv(Tag.sequence, info, ECDSA_WITH_SHA256, tlv(Tag.bitString, Uint8Array.of(0), signature));
  const base64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  const csrPem = `-----BEGIN CERTIFICATE REQUEST-----\n${base64.endsWith('\n') ? base64 : `${base64}\n`}-----END CERTIFICATE REQUEST-----\n`;
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), csrPem };
}

/** A pool of CSRs handed out once each; `refill` replaces the used ones between windows. */
export class CsrPool {
  private readonly csrs: string[] = [];
  private next = 0;
  /** Requests that found the pool empty and reused a CSR (the pool was too small for the window). */
  reused = 0;

  constructor(readonly size: number) {}

  refill(): number {
    const used = Math.min(this.next, this.csrs.length);
    this.csrs.splice(0, used);
    this.next = 0;
    this.reused = 0;
    const missing = this.size - this.csrs.length;
    for (let i = 0; i < missing; i++) this.csrs.push(makeCsr());
    return missing;
  }

  take(): string {
    if (this.next >= this.csrs.length) this.reused++;
    const csr = this.csrs[this.next % this.csrs.length];
    this.next++;
    if (csr === undefined) throw new Error('the CSR pool is empty: call refill() first');
    return csr;
  }

  sample(count: number): string[] {
    return this.csrs.slice(-count);
  }
}
