import { systemClock } from '../shared/clock.js';
import { CipherSuite, NamedGroup, Tls12CipherSuite } from './codec/enums.js';
import { nodeCryptoProvider } from './crypto/node-provider.js';
import { DEFAULT_CLIENT_GROUPS, DEFAULT_SERVER_GROUPS, type CryptoProvider, type PrivateKey } from './crypto/provider.js';
import { parsePrivateKey, schemesForKey } from './crypto/signatures.js';
import { DEFAULT_SUITE_ORDER, DEFAULT_TLS12_SUITE_ORDER } from './crypto/suites.js';
import type {
  ClientAuthMode,
  PemInput,
  TlsCommonOptions,
  TlsConnectOptions,
  TlsServerOptions,
  TlsVersionName,
  VerifyOcspStaple,
  VerifyPeer,
} from './options.js';
import { TicketKeys } from './tickets.js';
import { StrikeRegister } from './anti-replay.js';
import { parsePemCertificates } from '../pkix/index.js';
import { PeerChainVerifier } from './peer-verifier.js';

/** Options resolved once (keys parsed, anchors loaded), shared by every connection. */
export interface CommonConfig {
  readonly certChain: readonly Buffer[];
  readonly privateKey: PrivateKey | undefined;
  /** Schemes our key can sign with, in preference order. */
  readonly signSchemes: readonly number[];
  readonly verifier: PeerChainVerifier | undefined;
  /** TLS 1.3 suites in preference order. */
  readonly suites: readonly number[];
  /** TLS 1.2 suites in preference order. */
  readonly suites12: readonly number[];
  /** The versions we speak (node:tls names), min <= max. */
  readonly minVersion: TlsVersionName;
  readonly maxVersion: TlsVersionName;
  readonly groups: readonly number[];
  readonly alpnProtocols: readonly string[];
  readonly verifyPeer: VerifyPeer | undefined;
  readonly handshakeTimeoutMs: number;
  readonly maxHandshakeMessageSize: number;
  readonly onKeyLog: ((line: string) => void) | undefined;
  readonly now: () => number;
  /** Every primitive the engine runs goes through it (RFC 8446 needs nothing else). */
  readonly provider: CryptoProvider;
}

export interface ServerConfig extends CommonConfig {
  readonly clientAuth: ClientAuthMode;
  readonly tickets: TicketKeys | undefined;
  readonly ticketLifetimeSeconds: number;
  /** DER subjects of our trust anchors, sent in certificate_authorities. */
  readonly certificateAuthorities: readonly Buffer[];
  /** Keys the HelloRetryRequest cookie (RFC 8446 §4.2.2). */
  readonly cookieSecret: Buffer;
  /** The caller's staple for our leaf, asked for only when a client sends status_request (RFC 6066 §8). */
  readonly ocspResponse: (() => Uint8Array | undefined) | undefined;
  readonly maxConnections: number | undefined;
  readonly proxyProtocolFrom: ((remoteAddress: string) => boolean) | undefined;
  readonly allowHalfOpen: boolean;
  readonly splitInbound: ((plaintext: Buffer) => number) | undefined;
  /** 0-RTT, when maxEarlyData > 0 and tickets are on. */
  readonly earlyData: EarlyDataConfig | undefined;
}

/** What the server needs to advertise and accept 0-RTT (RFC 8446 §4.2.10, §8). */
export interface EarlyDataConfig {
  readonly maxSize: number;
  /** Random per server instance, sealed in its tickets: only the instance holding the strike register accepts their 0-RTT. */
  readonly instanceId: Buffer;
  readonly ageToleranceMs: number;
  readonly register: StrikeRegister;
}

export interface ClientConfig extends CommonConfig {
  /** Sent as SNI; never an IP address (RFC 6066 §3). */
  readonly servername: string | undefined;
  /** The name the server certificate must carry: the servername, else the host (which may be an IP). */
  readonly expectedName: string | undefined;
  readonly rejectUnauthorized: boolean;
  /** Whether the ClientHello carries status_request for ocsp. */
  readonly requestOcspStaple: boolean;
  readonly verifyOcspStaple: VerifyOcspStaple | undefined;
  /** 0-RTT plaintext to send with a session that allows it. */
  readonly earlyData: Buffer | undefined;
}

const DEFAULT_TICKET_LIFETIME_S = 2 * 3600;
/** RFC 8446 §4.6.1: servers MUST NOT use a ticket lifetime over seven days. */
const MAX_TICKET_LIFETIME_S = 7 * 24 * 3600;

function toList(input: PemInput | readonly PemInput[] | undefined): PemInput[] {
  if (input === undefined) return [];
  if (typeof input === 'string' || input instanceof Uint8Array) return [input];
  return [...input];
}

function pemText(input: PemInput): string {
  return typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
}

/** The named suites split by version; a version none of whose suites is named keeps its default order. */
function resolveSuites(names: TlsCommonOptions['cipherSuites']): { suites: readonly number[]; suites12: readonly number[] } {
  if (names === undefined) return { suites: DEFAULT_SUITE_ORDER, suites12: DEFAULT_TLS12_SUITE_ORDER };
  // An empty list names no suite at all: refused below, as before TLS 1.2 existed.
  if (names.length === 0) return { suites: [], suites12: [] };
  const suites = names.flatMap((name) => (name in CipherSuite ? [CipherSuite[name as keyof typeof CipherSuite]] : []));
  const suites12 = names.flatMap((name) => (name in Tls12CipherSuite ? [Tls12CipherSuite[name as keyof typeof Tls12CipherSuite]] : []));
  return {
    suites: suites.length === 0 ? DEFAULT_SUITE_ORDER : suites,
    suites12: suites12.length === 0 ? DEFAULT_TLS12_SUITE_ORDER : suites12,
  };
}

const VERSION_ORDER: readonly TlsVersionName[] = ['TLSv1.2', 'TLSv1.3'];

/** minVersion/maxVersion as node:tls takes them (default TLSv1.2..TLSv1.3); min above max is a TypeError. */
function resolveVersions(options: TlsCommonOptions): { minVersion: TlsVersionName; maxVersion: TlsVersionName } {
  const minVersion = options.minVersion ?? 'TLSv1.2';
  const maxVersion = options.maxVersion ?? 'TLSv1.3';
  for (const v of [minVersion, maxVersion]) if (!VERSION_ORDER.includes(v)) throw new TypeError(`unsupported TLS version ${String(v)}`);
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) throw new TypeError('minVersion is above maxVersion');
  return { minVersion, maxVersion };
}

function resolveCommon(options: TlsCommonOptions, provider: CryptoProvider, defaultGroups: readonly number[]): CommonConfig {
  const now = options.now ?? (() => systemClock.now());
  const certChain = options.cert === undefined ? [] : parsePemCertificates(options.cert);
  const privateKey = options.key === undefined ? undefined : parsePrivateKey(pemText(options.key));
  if ((privateKey === undefined) !== (certChain.length === 0)) throw new TypeError('key and cert must be given together');
  const signSchemes = privateKey === undefined ? [] : schemesForKey(privateKey);
  if (privateKey !== undefined && signSchemes.length === 0) {
    throw new TypeError(`unsupported private key type ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  const anchors = toList(options.ca).flatMap((pem) => parsePemCertificates(pem));
  const verifier =
    anchors.length === 0 ? undefined : new PeerChainVerifier({ ca: anchors, clockSkewMs: options.clockSkewMs ?? 60_000, now });
  const { suites, suites12 } = resolveSuites(options.cipherSuites);
  const { minVersion, maxVersion } = resolveVersions(options);
  const groups = options.groups?.map((name) => NamedGroup[name]) ?? defaultGroups;
  if (suites.length === 0 || groups.length === 0) throw new TypeError('cipherSuites and groups may not be empty');
  for (const p of options.ALPNProtocols ?? []) {
    if (p.length === 0 || p.length > 255) throw new TypeError(`ALPN protocol name of ${p.length} bytes`);
  }
  return {
    certChain,
    privateKey,
    signSchemes,
    verifier,
    suites,
    suites12,
    minVersion,
    maxVersion,
    groups,
    alpnProtocols: options.ALPNProtocols ?? [],
    verifyPeer: options.verifyPeer,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    maxHandshakeMessageSize: options.maxHandshakeMessageSize ?? 64 * 1024,
    onKeyLog: options.onKeyLog,
    now,
    provider,
  };
}

/** `provider` overrides the `cryptoProvider` option (tests); default: node:crypto. */
export function resolveServerConfig(
  options: TlsServerOptions,
  provider: CryptoProvider = options.cryptoProvider ?? nodeCryptoProvider,
): ServerConfig {
  const common = resolveCommon(options, provider, DEFAULT_SERVER_GROUPS);
  if (common.privateKey === undefined) throw new TypeError('a server needs key and cert');
  const clientAuth = options.clientAuth ?? 'none';
  if (clientAuth !== 'none' && common.verifier === undefined) throw new TypeError(`clientAuth '${clientAuth}' needs the ca option`);
  const lifetime = options.ticketLifetimeSeconds ?? DEFAULT_TICKET_LIFETIME_S;
  if (lifetime < 1 || lifetime > MAX_TICKET_LIFETIME_S) throw new TypeError('ticketLifetimeSeconds must be between 1 s and 7 days');
  const maxConnections = options.maxConnections;
  if (maxConnections !== undefined && (!Number.isInteger(maxConnections) || maxConnections < 1))
    throw new TypeError('maxConnections must be a positive integer');
  const tickets =
    options.sessionTickets === false
      ? undefined
      : new TicketKeys({
          rotationMs: options.ticketKeyRotationMs ?? 3_600_000,
          now: common.now,
          provider,
          keyForPeriod: options.ticketKeyForPeriod,
        });
  const cookieSecret = provider.randomBytes(32);
  return {
    ...common,
    clientAuth,
    tickets,
    ticketLifetimeSeconds: lifetime,
    certificateAuthorities: common.verifier?.anchorSubjects.map((s) => Buffer.from(s)) ?? [],
    cookieSecret,
    ocspResponse: options.ocspResponse,
    maxConnections,
    proxyProtocolFrom: options.proxyProtocolFrom,
    allowHalfOpen: options.allowHalfOpen ?? false,
    splitInbound: options.splitInbound,
    earlyData: tickets === undefined ? undefined : resolveEarlyData(options, provider),
  };
}

const MAX_EARLY_DATA_LIMIT = 0xffffffff;

/** 0-RTT settings; undefined when off. Drawn after the cookie key, so a server without 0-RTT draws the randomness it always did. */
function resolveEarlyData(options: TlsServerOptions, provider: CryptoProvider): EarlyDataConfig | undefined {
  const maxSize = options.maxEarlyData ?? 0;
  if (!Number.isSafeInteger(maxSize) || maxSize < 0 || maxSize > MAX_EARLY_DATA_LIMIT)
    throw new TypeError('maxEarlyData must be an integer between 0 and 2^32-1');
  if (maxSize === 0) return undefined;
  const ageToleranceMs = options.earlyDataAgeToleranceMs ?? 10_000;
  if (!Number.isSafeInteger(ageToleranceMs) || ageToleranceMs < 1)
    throw new TypeError('earlyDataAgeToleranceMs must be a positive integer');
  const capacity = options.earlyDataReplayCacheSize ?? 65_536;
  // §8.2: an entry is needed while a copy could still pass the age check: twice the tolerance.
  const register = new StrikeRegister({ capacity, holdMs: 2 * ageToleranceMs });
  return { maxSize, instanceId: provider.randomBytes(16), ageToleranceMs, register };
}

export function resolveClientConfig(
  options: TlsConnectOptions,
  provider: CryptoProvider = options.cryptoProvider ?? nodeCryptoProvider,
): ClientConfig {
  // Our client offers TLS 1.2 only when asked (minVersion or maxVersion 'TLSv1.2'): every keysmith node speaks
  // TLS 1.3, and a ClientHello that offers 1.3 alone stays byte for byte what it was before TLS 1.2 existed here.
  const minVersion = options.minVersion ?? (options.maxVersion === 'TLSv1.2' ? 'TLSv1.2' : 'TLSv1.3');
  const common = resolveCommon({ ...options, minVersion }, provider, DEFAULT_CLIENT_GROUPS);
  const rejectUnauthorized = options.rejectUnauthorized ?? true;
  if (rejectUnauthorized && common.verifier === undefined) throw new TypeError('verifying the server needs the ca option');
  const host = options.host;
  const isIp = host !== undefined && (/^[0-9.]+$/.test(host) || host.includes(':'));
  const servername = options.servername ?? (isIp ? undefined : host);
  const verifyOcspStaple = options.verifyOcspStaple;
  const requestOcspStaple = options.requestOcspStaple ?? verifyOcspStaple !== undefined;
  const earlyData = options.earlyData === undefined || options.earlyData.length === 0 ? undefined : Buffer.from(options.earlyData);
  return { ...common, servername, expectedName: servername ?? host, rejectUnauthorized, requestOcspStaple, verifyOcspStaple, earlyData };
}
