/**
 * OCSPRequests (RFC 6960 §4.1.1) to POST /ocsp and GET /ocsp/{base64}
 * (RFC 6960 Appendix A.1, RFC 5019 §5). Seeds: one and many CertIDs, SHA-1
 * and SHA-256 CertIDs, a nonce (RFC 9654), a version, a requestorName, an
 * optionalSignature; mutations edit the DER tree and the bytes. The issuer
 * hashes in a seed are markers that `send` replaces with the running
 * service's intermediate (when they survive mutation), so a seed's requests
 * reach the lookup and signing, and inputs stay independent of the service.
 *
 * Input encoding: one byte 'P' (POST) or 'G' (GET) then the DER.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Prng } from '../../../robustness/flood-tools.js';
import type { HostileService } from '../../harness.js';
import { HttpsClient, SourceAddresses, type Outcome } from '../client.js';
import { decodeDer, encodeDer, explicit, int, NULL_NODE, octetString, oid, prim, seq, TAG, uint, type DerNode } from '../der.js';
import { mutateBytes, mutateTree } from '../mutators.js';
import { FUZZ_ENV, type FuzzTarget, type TargetSession } from '../target.js';

const SHA1 = '1.3.14.3.2.26';
const SHA256 = '2.16.840.1.101.3.4.2.1';
const NONCE = '1.3.6.1.5.5.7.48.1.2';

/** Marker hashes (name, key) per hash length, swapped for the service's own in `send`. */
const NAME_MARKER = { 20: Buffer.alloc(20, 0x11), 32: Buffer.alloc(32, 0x12) } as const;
const KEY_MARKER = { 20: Buffer.alloc(20, 0x21), 32: Buffer.alloc(32, 0x22) } as const;

function certId(hash: 20 | 32, serial: Buffer): DerNode {
  return seq(seq(oid(hash === 20 ? SHA1 : SHA256), NULL_NODE), octetString(NAME_MARKER[hash]), octetString(KEY_MARKER[hash]), uint(serial));
}

function nonceExtension(nonce: Buffer): DerNode {
  return seq(oid(NONCE), octetString(encodeDer(octetString(nonce))));
}

function ocspRequest(
  requests: DerNode[],
  options: { nonce?: Buffer; version?: boolean; requestor?: boolean; signature?: boolean } = {},
): Buffer {
  const tbs: DerNode[] = [];
  if (options.version === true) tbs.push(explicit(0, int(0)));
  if (options.requestor === true) tbs.push(explicit(1, { tag: 0x86, content: Buffer.from('https://fuzz.test/') }));
  tbs.push(seq(...requests.map((id) => seq(id))));
  if (options.nonce !== undefined) tbs.push(explicit(2, seq(nonceExtension(options.nonce))));
  const outer: DerNode[] = [seq(...tbs)];
  if (options.signature === true)
    outer.push(explicit(0, seq(seq(oid('1.2.840.10045.4.3.2')), prim(TAG.BIT_STRING, Buffer.from([0, 1, 2, 3])))));
  return encodeDer(seq(...outer));
}

/** Deterministic seeds: serials are fixed, so only the service's CA differs between runs. */
export function ocspSeeds(): Buffer[] {
  const serial = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
  return [
    ocspRequest([certId(20, serial)]),
    ocspRequest([certId(32, serial)]),
    ocspRequest([certId(20, serial)], { nonce: Buffer.alloc(32, 0x5a) }),
    ocspRequest([certId(20, serial), certId(32, Buffer.from([1])), certId(20, Buffer.from([0x7f]))], { version: true }),
    ocspRequest(
      Array.from({ length: 33 }, (_, i) => certId(20, Buffer.from([i + 1]))),
      { nonce: Buffer.alloc(1, 1) },
    ),
    ocspRequest([certId(20, serial)], { requestor: true, signature: true }),
  ];
}

export class OcspTarget implements FuzzTarget {
  readonly name = 'ocsp' as const;
  readonly env = FUZZ_ENV;
  readonly parallel = 1;
  private readonly seeds = ocspSeeds();

  generate(prng: Prng): Buffer {
    const method = Buffer.from(prng.int(2) === 0 ? 'P' : 'G');
    let der = prng.pick(this.seeds);
    const mode = prng.int(10);
    if (mode < 6) {
      let tree = decodeDer(der);
      const edits = 1 + prng.int(3);
      for (let i = 0; i < edits; i++) tree = mutateTree(prng, tree);
      der = encodeDer(tree);
    } else if (mode < 9) {
      const edits = 1 + prng.int(4);
      for (let i = 0; i < edits; i++) der = mutateBytes(prng, der, 20_000);
    }
    return Buffer.concat([method, der]);
  }

  async open(service: HostileService): Promise<TargetSession> {
    const client = new HttpsClient(service.port, await service.bundlePem(), new SourceAddresses(), 500);
    const markers = await issuerHashes(service);
    return {
      send: (input) => client.send(ocspHttpRequest(substitute(input.subarray(1), markers), input[0] === 0x47 ? 'GET' : 'POST')),
      checkRefusal: (_input, outcome) => checkOcspAnswer(outcome),
      close: () => client.close(),
    };
  }
}

/** issuerNameHash and issuerKeyHash (RFC 6960 §4.1.1) of the service's intermediate, for each marker. */
async function issuerHashes(service: HostileService): Promise<[Buffer, Buffer][]> {
  const pem = await readFile(join(service.paths.dataDir, 'ca', 'intermediate.cert.pem'), 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s+/g, ''), 'base64');
  const tbs = decodeDer(der).children?.[0]?.children ?? [];
  const offset = tbs[0]?.tag === 0xa0 ? 1 : 0;
  const subject = tbs[offset + 4];
  const keyBits = tbs[offset + 5]?.children?.[1];
  if (subject === undefined || keyBits === undefined) throw new Error('intermediate certificate did not parse');
  const name = encodeDer(subject);
  // The key hash covers the BIT STRING's value without its unused-bits octet.
  const wrapped = keyBits.children?.[0];
  const key = keyBits.content?.subarray(1) ?? (wrapped !== undefined ? encodeDer(wrapped) : Buffer.alloc(0));
  const hash = (algorithm: string, data: Buffer): Buffer => createHash(algorithm).update(data).digest();
  return [
    [NAME_MARKER[32], hash('sha256', name)],
    [KEY_MARKER[32], hash('sha256', key)],
    [NAME_MARKER[20], hash('sha1', name)],
    [KEY_MARKER[20], hash('sha1', key)],
  ];
}

function substitute(der: Buffer, markers: readonly [Buffer, Buffer][]): Buffer {
  const out = Buffer.from(der);
  for (const [marker, value] of markers) {
    for (let at = out.indexOf(marker); at !== -1; at = out.indexOf(marker, at + marker.length)) value.copy(out, at);
  }
  return out;
}

export function ocspHttpRequest(
  der: Buffer,
  method: 'GET' | 'POST',
): { method: string; path: string; headers: Record<string, string>; body?: Buffer } {
  if (method === 'GET') return { method, path: `/ocsp/${encodeURIComponent(der.toString('base64'))}`, headers: {} };
  return { method, path: '/ocsp', headers: { 'content-type': 'application/ocsp-request' }, body: der };
}

/**
 * Every /ocsp outcome should be an OCSP response; while the
 * route outcomes are being changed, a 4xx of another type is also accepted
 * here. Never a 5xx problem, never a dropped connection.
 */
export function checkOcspAnswer(outcome: Outcome): string | undefined {
  const type = String(outcome.headers['content-type'] ?? '');
  if (typeof outcome.status !== 'number') return `expected an answer, got ${outcome.status}`;
  if (type === 'application/ocsp-response' && outcome.status !== 500) return undefined;
  if (outcome.status >= 400 && outcome.status < 500) return undefined;
  return `expected an OCSP response or a 4xx, got ${outcome.status} ${type}`;
}
