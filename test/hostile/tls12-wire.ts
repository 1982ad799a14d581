/**
 * A TLS 1.2 client on raw sockets, built from the engine's own codecs, PRF
 * and record protection, for the hostile tests and the `tls12` fuzz target:
 * it reads the server's plaintext flight and computes a real client flight
 * (Certificate, ClientKeyExchange, CertificateVerify, ChangeCipherSpec,
 * Finished) as byte pieces a caller may send intact, mutated, reordered or
 * split. Each wait is bounded; nothing here throws on what the server does.
 */
import { createHash, createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import {
  ContentType,
  ExtensionType,
  HandshakeType,
  NamedGroup,
  SignatureScheme,
  Tls12CipherSuite,
  Tls12ExtensionType,
  TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
} from '../../src/tls/codec/enums.js';
import { encodeServerName, encodeU16List, type RawExtension } from '../../src/tls/codec/extensions.js';
import { frameHandshake } from '../../src/tls/codec/handshake-frame.js';
import { encodeCertificateVerify } from '../../src/tls/codec/messages/certificate-verify.js';
import { encodeClientHello, type ClientHello } from '../../src/tls/codec/messages/client-hello.js';
import { decodeServerHello } from '../../src/tls/codec/messages/server-hello.js';
import { encodeCertificate12 } from '../../src/tls/codec/messages/tls12/certificate.js';
import { encodeClientKeyExchange } from '../../src/tls/codec/messages/tls12/client-key-exchange.js';
import { decodeNewSessionTicket12 } from '../../src/tls/codec/messages/tls12/new-session-ticket.js';
import { decodeServerKeyExchange } from '../../src/tls/codec/messages/tls12/server-key-exchange.js';
import { nodeCryptoProvider } from '../../src/tls/crypto/node-provider.js';
import { generateKeyExchange } from '../../src/tls/crypto/provider.js';
import { tls12SuiteInfo, type Tls12SuiteInfo } from '../../src/tls/crypto/suites.js';
import { extendedMasterSecret, tls12KeyBlock, tls12VerifyData } from '../../src/tls/keyschedule/prf12.js';
import { Protector12 } from '../../src/tls/record/protector12.js';
import type { HostileService } from './harness.js';
import { CCS, handshakeRecords, record, type Wire } from './raw-wire.js';

export { ALERT, CCS, handshakeRecords, record, Wire, type WireRecord } from './raw-wire.js';

/** The six suites of issue 16 (RFC 5289, RFC 7905). */
export const SIX_SUITES: readonly number[] = Object.values(Tls12CipherSuite);

export const TLS12_HELLO_EXTENSIONS: readonly RawExtension[] = [
  { type: ExtensionType.server_name, data: encodeServerName('localhost') },
  { type: ExtensionType.supported_groups, data: encodeU16List([NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1]) },
  { type: Tls12ExtensionType.ec_point_formats, data: Buffer.of(1, 0) },
  {
    type: ExtensionType.signature_algorithms,
    data: encodeU16List([
      SignatureScheme.ecdsa_secp256r1_sha256,
      SignatureScheme.ecdsa_secp384r1_sha384,
      SignatureScheme.rsa_pss_rsae_sha256,
      SignatureScheme.rsa_pkcs1_sha256,
    ]),
  },
  { type: Tls12ExtensionType.extended_master_secret, data: Buffer.alloc(0) },
  { type: Tls12ExtensionType.renegotiation_info, data: Buffer.of(0) },
  { type: ExtensionType.application_layer_protocol_negotiation, data: Buffer.from('000908687474702f312e31', 'hex') },
];

/** A framed TLS 1.2 ClientHello (no supported_versions): EMS, the six suites, x25519/P-256/P-384, ECDSA and RSA schemes. */
export function clientHello12(edit: (hello: ClientHello) => ClientHello = (h) => h): Buffer {
  const hello = edit({
    legacyVersion: 0x0303,
    random: randomBytes(32),
    legacySessionId: Buffer.alloc(0),
    cipherSuites: [...SIX_SUITES, TLS_EMPTY_RENEGOTIATION_INFO_SCSV],
    legacyCompressionMethods: Buffer.of(0),
    extensions: TLS12_HELLO_EXTENSIONS,
  });
  return frameHandshake(HandshakeType.client_hello, encodeClientHello(hello));
}

/** What the server sent in answer to a TLS 1.2 ClientHello, up to ServerHelloDone. */
export interface ServerFlight {
  readonly suite: Tls12SuiteInfo;
  readonly clientRandom: Buffer;
  readonly serverRandom: Buffer;
  readonly group: number;
  readonly serverPoint: Buffer;
  readonly hasCertificateRequest: boolean;
  /** The framed handshake messages so far, ClientHello first. */
  readonly transcript: Buffer[];
}

/** Sends `hello` (framed) and reads the server's flight; undefined when the server refused or went quiet. */
export async function readServerFlight(wire: Wire, hello: Buffer, timeoutMs = 5_000): Promise<ServerFlight | undefined> {
  wire.write(handshakeRecords(hello));
  const transcript = [hello];
  let pending = Buffer.alloc(0);
  let suite: Tls12SuiteInfo | undefined;
  let serverRandom: Buffer = Buffer.alloc(0);
  let group = 0;
  let serverPoint: Buffer = Buffer.alloc(0);
  let hasCertificateRequest = false;
  for (let r = await wire.next(timeoutMs); r !== undefined; r = await wire.next(timeoutMs)) {
    if (r.type !== ContentType.handshake) return undefined;
    pending = Buffer.concat([pending, r.content]);
    while (pending.length >= 4) {
      const length = pending.readUIntBE(1, 3);
      if (pending.length < 4 + length) break;
      const raw = pending.subarray(0, 4 + length);
      const body = raw.subarray(4);
      pending = pending.subarray(4 + length);
      transcript.push(Buffer.from(raw));
      switch (raw[0]) {
        case HandshakeType.server_hello: {
          const sh = decodeServerHello(Buffer.from(body));
          suite = tls12SuiteInfo(sh.cipherSuite);
          serverRandom = sh.random;
          break;
        }
        case HandshakeType.server_key_exchange: {
          const ske = decodeServerKeyExchange(Buffer.from(body));
          group = ske.params.namedCurve;
          serverPoint = ske.params.publicKey;
          break;
        }
        case HandshakeType.certificate_request:
          hasCertificateRequest = true;
          break;
        case HandshakeType.server_hello_done:
          if (suite === undefined) return undefined;
          return { suite, clientRandom: hello.subarray(6, 38), serverRandom, group, serverPoint, hasCertificateRequest, transcript };
        default:
          break;
      }
    }
  }
  return undefined;
}

/** A client certificate chain and its key, for mutual TLS. */
export interface ClientCredentials {
  readonly chain: readonly Buffer[];
  readonly key: KeyObject;
  readonly scheme: number;
}

/** The admin client of a `keysmith serve` data directory (an ECDSA P-256 or RSA key). */
export async function loadCredentials(certPath: string, keyPath: string): Promise<ClientCredentials> {
  const pem = await readFile(certPath, 'utf8');
  const chain = (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p).raw);
  const key = createPrivateKey(await readFile(keyPath, 'utf8'));
  const scheme =
    key.asymmetricKeyType === 'rsa'
      ? SignatureScheme.rsa_pss_rsae_sha256
      : key.asymmetricKeyDetails?.namedCurve === 'secp384r1'
        ? SignatureScheme.ecdsa_secp384r1_sha384
        : SignatureScheme.ecdsa_secp256r1_sha256;
  return { chain, key, scheme };
}

/** The client's second flight, each piece on its own, plus the keys it sets. */
export interface ClientFlight {
  /** Framed handshake messages (Certificate only when the server asked). */
  readonly certificate: Buffer | undefined;
  readonly clientKeyExchange: Buffer;
  readonly certificateVerify: Buffer | undefined;
  /** The framed Finished plaintext (sealed by `seal`). */
  readonly finished: Buffer;
  readonly seal: Protector12;
  readonly open: Protector12;
  readonly masterSecret: Buffer;
}

export interface FlightChoices {
  /** Replace our ECDHE point with this one (the key schedule then runs on garbage: the server must refuse first). */
  readonly point?: Buffer | undefined;
  /** Sign CertificateVerify with this scheme code point instead of the key's. */
  readonly verifyScheme?: number | undefined;
  /** XOR this into the first byte of verify_data. */
  readonly finishedFlip?: number | undefined;
}

/** Computes a real client flight against `flight` with `credentials` (sent when asked for). */
export function clientFlight(flight: ServerFlight, credentials: ClientCredentials | undefined, choices: FlightChoices = {}): ClientFlight {
  const crypto = nodeCryptoProvider;
  const { suite } = flight;
  const exchange = generateKeyExchange(flight.group, (n) => randomBytes(n));
  const transcript = [...flight.transcript];
  const sendsCertificate = flight.hasCertificateRequest && credentials !== undefined;
  const certificate = flight.hasCertificateRequest
    ? frameHandshake(HandshakeType.certificate, encodeCertificate12({ chain: credentials?.chain ?? [] }))
    : undefined;
  if (certificate !== undefined) transcript.push(certificate);
  const clientKeyExchange = frameHandshake(
    HandshakeType.client_key_exchange,
    encodeClientKeyExchange({ publicKey: choices.point ?? exchange.publicKey }),
  );
  transcript.push(clientKeyExchange);
  let preMaster: Buffer;
  try {
    preMaster = exchange.computeSharedSecret(flight.serverPoint);
  } catch {
    preMaster = Buffer.alloc(32);
  }
  const sessionHash = createHash(suite.hash).update(Buffer.concat(transcript)).digest();
  const masterSecret = extendedMasterSecret(crypto, suite.hash, preMaster, sessionHash);
  let certificateVerify: Buffer | undefined;
  if (sendsCertificate) {
    const signature = crypto.sign(credentials.scheme, credentials.key, Buffer.concat(transcript));
    certificateVerify = frameHandshake(
      HandshakeType.certificate_verify,
      encodeCertificateVerify({ algorithm: choices.verifyScheme ?? credentials.scheme, signature }),
    );
    transcript.push(certificateVerify);
  }
  const verifyData = tls12VerifyData(
    crypto,
    suite.hash,
    masterSecret,
    'client',
    createHash(suite.hash).update(Buffer.concat(transcript)).digest(),
  );
  verifyData[0] = (verifyData[0] ?? 0) ^ (choices.finishedFlip ?? 0);
  const keys = tls12KeyBlock(crypto, suite, masterSecret, flight.clientRandom, flight.serverRandom);
  return {
    certificate,
    clientKeyExchange,
    certificateVerify,
    finished: frameHandshake(HandshakeType.finished, verifyData),
    seal: new Protector12(crypto, suite, keys.client),
    open: new Protector12(crypto, suite, keys.server),
    masterSecret,
  };
}

/** The whole second flight in order, one record each, Finished sealed. */
export function flightBytes(f: ClientFlight): Buffer {
  const parts: Buffer[] = [];
  for (const m of [f.certificate, f.clientKeyExchange, f.certificateVerify])
    if (m !== undefined) parts.push(record(ContentType.handshake, m));
  parts.push(CCS, f.seal.seal(ContentType.handshake, f.finished));
  return Buffer.concat(parts);
}

/**
 * A full TLS 1.2 handshake on `wire`: ClientHello, the server flight, our
 * flight, the server's CCS and Finished. Returns the flight (its `seal` for
 * application data) and the RFC 5077 ticket the server sent, or undefined
 * when the server did not finish.
 */
export async function handshake12(
  wire: Wire,
  credentials: ClientCredentials | undefined,
  hello = clientHello12(),
): Promise<(ClientFlight & { readonly ticket: Buffer | undefined; readonly suite: Tls12SuiteInfo }) | undefined> {
  const flight = await readServerFlight(wire, hello);
  if (flight === undefined) return undefined;
  const mine = clientFlight(flight, credentials);
  wire.write(flightBytes(mine));
  let ticket: Buffer | undefined;
  for (let r = await wire.next(); r !== undefined; r = await wire.next()) {
    if (r.type === ContentType.change_cipher_spec) wire.readProtector = mine.open;
    else if (r.type === ContentType.handshake && r.content[0] === HandshakeType.new_session_ticket)
      ticket = decodeNewSessionTicket12(r.content.subarray(4)).ticket;
    else if (r.type === ContentType.handshake && r.content[0] === HandshakeType.finished) return { ...mine, ticket, suite: flight.suite };
    else if (r.type !== ContentType.handshake) return undefined;
  }
  return undefined;
}

/** An abbreviated handshake's keys and what the client's Finished must be (RFC 5077 §3.1, RFC 5246 §7.3 Figure 2). */
export interface Resumed12 {
  readonly seal: Protector12;
  /** The framed client Finished over ClientHello..server Finished. */
  readonly finished: Buffer;
}

/**
 * Offers `ticket` (with a fresh session id, RFC 5077 §3.4) and reads the
 * server's abbreviated flight: ServerHello echoing the id, NewSessionTicket,
 * CCS, Finished. Undefined when the server did a full handshake or refused.
 */
export async function resume12(wire: Wire, ticket: Buffer, masterSecret: Buffer, suite: Tls12SuiteInfo): Promise<Resumed12 | undefined> {
  const crypto = nodeCryptoProvider;
  const hello = clientHello12((h) => ({
    ...h,
    legacySessionId: randomBytes(32),
    extensions: [...h.extensions, { type: Tls12ExtensionType.session_ticket, data: ticket }],
  }));
  wire.write(handshakeRecords(hello));
  const transcript = [hello];
  let keys: ReturnType<typeof tls12KeyBlock> | undefined;
  for (let r = await wire.next(); r !== undefined; r = await wire.next()) {
    if (r.type === ContentType.change_cipher_spec) {
      if (keys === undefined) return undefined;
      wire.readProtector = new Protector12(crypto, suite, keys.server);
      continue;
    }
    if (r.type !== ContentType.handshake) return undefined;
    // The server's messages before its CCS share a record; each is whole (none of ours spans records).
    for (let at = 0; at + 4 <= r.content.length; at += 4 + r.content.readUIntBE(at + 1, 3)) {
      const message = r.content.subarray(at, at + 4 + r.content.readUIntBE(at + 1, 3));
      const type = message[0];
      if (type === HandshakeType.server_hello) {
        const serverRandom = decodeServerHello(message.subarray(4)).random;
        keys = tls12KeyBlock(crypto, suite, masterSecret, hello.subarray(6, 38), serverRandom);
      } else if (type === HandshakeType.server_key_exchange || type === HandshakeType.certificate) return undefined;
      transcript.push(message);
      if (type === HandshakeType.finished && keys !== undefined) {
        const hash = createHash(suite.hash).update(Buffer.concat(transcript)).digest();
        const verifyData = tls12VerifyData(crypto, suite.hash, masterSecret, 'client', hash);
        return { seal: new Protector12(crypto, suite, keys.client), finished: frameHandshake(HandshakeType.finished, verifyData) };
      }
    }
  }
  return undefined;
}

/** GET /healthz over mutual TLS with node:tls at `version`; the status code. */
export async function mtlsHealthz(service: HostileService, version: 'TLSv1.2' | 'TLSv1.3'): Promise<{ status: number; protocol: string }> {
  const [ca, cert, key] = await Promise.all([service.bundlePem(), readFile(service.paths.adminCert), readFile(service.paths.adminKey)]);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: service.port,
        path: '/healthz',
        servername: 'localhost',
        ca,
        cert,
        key,
        agent: false,
        minVersion: version,
        maxVersion: version,
      },
      (res) => {
        const protocol = (res.socket as TLSSocket).getProtocol() ?? '';
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, protocol }));
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('/healthz over mTLS timed out')));
    req.once('error', reject);
    req.end();
  });
}
