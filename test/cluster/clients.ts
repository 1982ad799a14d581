import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { type Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { makeKeyAndCsr } from '../../bench/svid/csr.js';
import { normalizeSerial } from '../../src/x509/index.js';
import { runProcess, type ProcessResult } from '../helpers/processes.js';

/**
 * The cluster test's clients: HTTPS over Node's own TLS (a different TLS
 * stack from keysmith's, as a workload's would be), to a node's port or to
 * the balancer's, and `openssl ocsp`. Each call reports which node's
 * listener certificate answered, since through HAProxy in TCP mode that is
 * the only sign of where a connection landed.
 */

export interface Identity {
  readonly key: string;
  /** Leaf first, then the intermediate (PEM). */
  readonly chain: string;
}

export interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Serial of the listener certificate the TLS connection saw (which node answered). */
  readonly peerSerial: string;
  /** Whether the request went out on a connection an earlier request had opened. */
  readonly reusedConnection: boolean;
  json(): Record<string, unknown>;
}

export interface CallOptions {
  readonly ca: string;
  readonly identity?: Identity;
  readonly body?: unknown;
  /** The body's media type (it is sent as JSON text); default application/json. */
  readonly contentType?: string;
  /** A keep-alive agent to reuse a connection; default a fresh connection per call. */
  readonly agent?: Agent;
  readonly timeoutMs?: number;
  /** The loopback address to connect from (127.0.0.0/8); default the system's choice (127.0.0.1). */
  readonly localAddress?: string;
}

/** One HTTPS request to 127.0.0.1:`port`; rejects on a transport failure (reset, refused, timeout). */
export function call(port: number, method: string, path: string, options: CallOptions): Promise<Reply> {
  const text = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> =
    text === undefined
      ? {}
      : { 'content-type': options.contentType ?? 'application/json', 'content-length': String(Buffer.byteLength(text)) };
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers,
        servername: 'localhost',
        ca: options.ca,
        ...(options.identity === undefined ? {} : { key: options.identity.key, cert: options.identity.chain }),
        agent: options.agent ?? false,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peerSerial = normalizeSerial(socket.getPeerCertificate().serialNumber ?? '');
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', reject);
        res.once('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            headers: res.headers,
            body,
            peerSerial,
            reusedConnection: req.reusedSocket,
            json: () => JSON.parse(body.toString('utf8')) as Record<string, unknown>,
          });
        });
      },
    );
    req.setTimeout(options.timeoutMs ?? 20_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.once('error', reject);
    req.end(text);
  });
}

/** The ledger's spelling of a serial (lowercase hex, no leading zero octet), from what node:crypto prints. */
export { normalizeSerial } from '../../src/x509/index.js';

export interface ObtainedSvid {
  readonly identity: Identity;
  /** From the certificate itself, checked against the reply's `serial`. */
  readonly serial: string;
}

/** POST /v1/svid/x509 for `spiffeId` with a fresh key, authenticated as `as`. Throws with the problem document unless 200. */
export async function obtainSvid(port: number, ca: string, as: Identity, spiffeId: string): Promise<ObtainedSvid> {
  const { keyPem, csrPem } = makeKeyAndCsr();
  const reply = await call(port, 'POST', '/v1/svid/x509', { ca, identity: as, body: { csr: csrPem, spiffe_id: spiffeId } });
  if (reply.status !== 200) throw new SvidRefusedError(reply.status, reply.contentType, reply.body.toString('utf8'));
  const json = reply.json();
  const chain = String(json['cert_chain']);
  const serial = normalizeSerial(new X509Certificate(chain).serialNumber);
  if (serial !== json['serial']) throw new Error(`the reply's serial ${String(json['serial'])} is not the certificate's ${serial}`);
  return { identity: { key: keyPem, chain }, serial };
}

export class SvidRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly contentType: string,
    /** The whole answer (a problem document). */
    readonly body: string,
  ) {
    super(`POST /v1/svid/x509 answered ${status}: ${body.slice(0, 300)}`);
  }
}

/** Writes the leaf of a chain to `dir/name.pem` (for openssl). */
export async function writeLeaf(dir: string, name: string, chain: string): Promise<string> {
  const leaf = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/.exec(chain)?.[0];
  if (leaf === undefined) throw new Error('no certificate in the chain');
  const path = join(dir, `${name}.pem`);
  await writeFile(path, leaf);
  return path;
}

export interface OcspFiles {
  readonly leaf: string;
  readonly intermediate: string;
  readonly bundle: string;
}

/** `openssl ocsp` (POST, no nonce) against a node's /ocsp; the status word ("good", "revoked") after a verified response. */
export async function ocspStatus(port: number, files: OcspFiles): Promise<{ status: string; result: ProcessResult }> {
  const result = await runProcess(
    'openssl',
    [
      'ocsp',
      '-no_nonce',
      '-issuer',
      files.intermediate,
      '-cert',
      files.leaf,
      '-CAfile',
      files.bundle,
      '-url',
      `https://127.0.0.1:${port}/ocsp`,
    ],
    { timeoutMs: 15_000, lifetimeMs: 20_000 },
  );
  const output = result.stdout + result.stderr;
  if (result.code !== 0 || !/Response verify OK/.test(output)) return { status: `error: ${output.trim()}`, result };
  const status = /: (good|revoked|unknown)\b/.exec(result.stdout)?.[1] ?? `unparsed: ${result.stdout.trim()}`;
  return { status, result };
}

/** The DER of an OCSP request for the leaf (no nonce: the GET form a cache serves), from openssl. */
export async function ocspRequestDer(dir: string, files: OcspFiles): Promise<Buffer> {
  const path = join(dir, `ocsp-request-${Date.now()}.der`);
  const result = await runProcess('openssl', ['ocsp', '-no_nonce', '-issuer', files.intermediate, '-cert', files.leaf, '-reqout', path], {
    timeoutMs: 15_000,
  });
  if (result.code !== 0) throw new Error(`openssl ocsp -reqout: ${result.stderr}`);
  return readFile(path);
}

/** GET /ocsp/<base64 request> (RFC 6960 Appendix A.1); the response's status word, read back and verified with openssl. */
export async function ocspGet(
  port: number,
  ca: string,
  requestDer: Buffer,
  dir: string,
  files: OcspFiles,
): Promise<{ httpStatus: number; status: string }> {
  const reply = await call(port, 'GET', `/ocsp/${encodeURIComponent(requestDer.toString('base64'))}`, { ca, timeoutMs: 10_000 });
  if (reply.status !== 200) return { httpStatus: reply.status, status: `http ${reply.status}` };
  const path = join(dir, `ocsp-response-${port}-${Date.now()}.der`);
  await writeFile(path, reply.body);
  const read = await runProcess(
    'openssl',
    ['ocsp', '-respin', path, '-no_nonce', '-issuer', files.intermediate, '-cert', files.leaf, '-CAfile', files.bundle],
    {
      timeoutMs: 15_000,
    },
  );
  const output = read.stdout + read.stderr;
  const status = /Response verify OK/.test(output)
    ? (/: (good|revoked|unknown)\b/.exec(read.stdout)?.[1] ?? 'unparsed')
    : `unverified: ${output.trim()}`;
  return { httpStatus: reply.status, status };
}
