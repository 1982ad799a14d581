import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveClientConfig, resolveServerConfig, type ClientConfig, type ServerConfig } from '../../src/tls/config.js';
import { Connection } from '../../src/tls/connection.js';
import type { CryptoProvider } from '../../src/tls/crypto/provider.js';
import { decodeTls12Session, isTls12Session, sessionFromTicket, startClientHandshake } from '../../src/tls/handshake/client/index.js';
import { ExpectClientHello } from '../../src/tls/handshake/server/index.js';
import type { HandshakeResult } from '../../src/tls/handshake/state.js';
import type { ClientAuthMode, TlsConnectOptions, TlsServerOptions, TlsVersionName } from '../../src/tls/options.js';
import { decodeClientSession, encodeClientSession } from '../../src/tls/tickets.js';
import { clientOptions, fixture, serverOptions } from '../fakes/tls-fixtures.js';
import { FixedProvider, type ProviderScript } from './fixed-provider.js';

/**
 * A recorded TLS connection between our engine and a real peer
 * (test/transcripts/*.json, made by test/transcripts/record.ts), replayed in
 * CI as Go's crypto/tls replays testdata/Server-TLSv13-*: the peer's bytes go
 * into a fresh Connection running on the recorded provider script and clock,
 * and what the engine writes must be the recorded bytes, to the byte.
 */
export interface Transcript {
  readonly name: string;
  /** Our side. */
  readonly role: 'server' | 'client';
  /** Who we talked to, with its version, and the command line. */
  readonly peer: string;
  readonly command: string;
  readonly recordedAt: string;
  /** The engine's clock (ms since the epoch) for the whole connection. */
  readonly now: number;
  readonly setup: TranscriptSetup;
  readonly script: ProviderScript;
  /** The peer's bytes, in the chunks TCP delivered them. */
  readonly peerChunks: readonly string[];
  /** Everything our side wrote, joined. */
  readonly ours: string;
}

export interface TranscriptSetup {
  /** Server: whether a client certificate is asked for. */
  readonly clientAuth?: ClientAuthMode;
  /** Client: present the fixture client certificate when asked. */
  readonly clientCert?: boolean;
  /** Client: the session offered for resumption (hex of the 'session' event: encodeClientSession, or a TLS 1.2 one, tag 0x12). */
  readonly session?: string;
  readonly alpn?: readonly string[];
  /** Our side's version range (absent: the engine's default, which for a client is TLS 1.3 alone). */
  readonly minVersion?: TlsVersionName;
  readonly maxVersion?: TlsVersionName;
  /** Server: 'rsa' serves test/fixtures server-rsa.key / server-rsa-chain.pem instead of the P-256 server key. */
  readonly serverKey?: 'rsa';
  /** Server: the DER OCSP response (hex) stapled when the client asks (RFC 6066 §8). */
  readonly ocspStaple?: string;
}

/** The optional setup fields as engine options; absent fields add nothing, so older transcripts resolve as they were recorded. */
function versionOptions(setup: TranscriptSetup): { minVersion?: TlsVersionName; maxVersion?: TlsVersionName } {
  return {
    ...(setup.minVersion === undefined ? {} : { minVersion: setup.minVersion }),
    ...(setup.maxVersion === undefined ? {} : { maxVersion: setup.maxVersion }),
  };
}

/** The data our side sends once connected; the peer answers (echo, reversed line) or not. */
export const CLIENT_MESSAGE = Buffer.from('keysmith transcript\n');
const TICKET_ROTATION_MS = 3_600_000;

/**
 * Ticket keys shared by the two servers of a resumption pair (a fresh server
 * per recorded connection): a fixed function of the period, as a cluster's
 * ticketKeyForPeriod is.
 */
export function transcriptTicketKey(period: number): Uint8Array {
  return createHash('sha256').update(`keysmith transcript ticket key ${period}`).digest();
}

export function transcriptServerOptions(setup: TranscriptSetup, now: number, provider: CryptoProvider): TlsServerOptions {
  return serverOptions({
    clientAuth: setup.clientAuth ?? 'none',
    now: () => now,
    ticketKeyRotationMs: TICKET_ROTATION_MS,
    ticketKeyForPeriod: transcriptTicketKey,
    cryptoProvider: provider,
    ...(setup.alpn === undefined ? {} : { ALPNProtocols: setup.alpn }),
    ...versionOptions(setup),
    ...(setup.serverKey === 'rsa' ? { key: fixture('server-rsa.key'), cert: fixture('server-rsa-chain.pem') } : {}),
    ...(setup.ocspStaple === undefined ? {} : { ocspResponse: ocspStaple(setup.ocspStaple) }),
  });
}

function ocspStaple(hex: string): () => Uint8Array {
  const staple = Buffer.from(hex, 'hex');
  return () => staple;
}

export function transcriptClientOptions(setup: TranscriptSetup, now: number, provider: CryptoProvider): TlsConnectOptions {
  const base = clientOptions({
    now: () => now,
    cryptoProvider: provider,
    ...(setup.alpn === undefined ? {} : { ALPNProtocols: setup.alpn }),
    ...versionOptions(setup),
  });
  if (setup.clientCert === true) return base;
  const { key: _key, cert: _cert, ...withoutCertificate } = base;
  return withoutCertificate;
}

/** What a replay produced: our bytes, and what the handshake settled. */
export interface ReplayOutcome {
  readonly ours: Buffer;
  readonly result: HandshakeResult | undefined;
  readonly provider: FixedProvider;
  readonly sessions: readonly string[];
  readonly received: Buffer;
}

/**
 * Feeds the peer's chunks through a Connection wired as net/server.ts and
 * net/client.ts wire it, with the applications the recorder runs: a server
 * that echoes the first data it gets and closes; a client that sends
 * CLIENT_MESSAGE once connected and closes when an answer or the peer's
 * close_notify comes. Application writes happen after receive() returns, as
 * TlsSocket's do.
 */
export function replayTranscript(t: Transcript): ReplayOutcome {
  const provider = new FixedProvider(t.script);
  const out: Buffer[] = [];
  const received: Buffer[] = [];
  const sessions: string[] = [];
  let result: HandshakeResult | undefined;
  let isPeerClosed = false;
  let config: ServerConfig | ClientConfig;
  const hooks = {
    onHandshakeComplete: (r: HandshakeResult): void => {
      result = r;
      // A TLS 1.2 ticket arrives inside the handshake (RFC 5077 §3.3): its session is part of the result.
      if (r.tls12Session !== undefined) sessions.push(r.tls12Session.toString('hex'));
    },
    onData: (d: Buffer): void => {
      received.push(Buffer.from(d));
    },
    onPeerClose: (): void => {
      isPeerClosed = true;
    },
  };
  let connection: Connection;
  if (t.role === 'server') {
    const serverConfig = resolveServerConfig(transcriptServerOptions(t.setup, t.now, provider));
    config = serverConfig;
    connection = new Connection('server', provider, hooks, serverConfig.maxHandshakeMessageSize, () => t.now);
    connection.start((ctx) => new ExpectClientHello(ctx, serverConfig));
  } else {
    const clientConfig = resolveClientConfig(transcriptClientOptions(t.setup, t.now, provider));
    config = clientConfig;
    connection = new Connection(
      'client',
      provider,
      {
        ...hooks,
        onPostHandshake: (message) => {
          if (result === undefined) throw new Error('ticket before the handshake completed');
          const session = sessionFromTicket(message, result, clientConfig);
          if (session !== undefined) sessions.push(encodeClientSession(session).toString('hex'));
        },
      },
      clientConfig.maxHandshakeMessageSize,
      () => t.now,
    );
    // As net/client.ts decodeOffered: the first byte tells a TLS 1.2 session (session_ticket) from a TLS 1.3 one (a PSK).
    const offered = t.setup.session === undefined ? undefined : Buffer.from(t.setup.session, 'hex');
    const session = offered === undefined || isTls12Session(offered) ? undefined : decodeClientSession(offered);
    const session12 = offered !== undefined && isTls12Session(offered) ? decodeTls12Session(offered) : undefined;
    connection.start((ctx) => startClientHandshake(ctx, clientConfig, session, session12));
  }
  void config;
  const take = (): void => {
    const bytes = connection.takeOutgoing();
    if (bytes !== undefined) out.push(bytes);
  };
  take();
  let hasAnswered = false;
  let hasClosed = false;
  for (const chunk of t.peerChunks) {
    if (connection.isClosed) break;
    connection.receive(Buffer.from(chunk, 'hex'));
    take();
    if (t.role === 'server') {
      if (!hasAnswered && received.length > 0) {
        hasAnswered = true;
        connection.write(Buffer.concat(received));
        connection.close();
        hasClosed = true;
      }
    } else {
      if (!hasAnswered && connection.isConnected) {
        hasAnswered = true;
        connection.write(CLIENT_MESSAGE);
      }
      if (!hasClosed && hasAnswered && (received.length > 0 || isPeerClosed)) {
        hasClosed = true;
        connection.close();
      }
    }
    take();
  }
  if (t.role === 'server' && isPeerClosed && !hasClosed) {
    connection.close();
    take();
  }
  return { ours: Buffer.concat(out), result, provider, sessions, received: Buffer.concat(received) };
}

/** Every transcript in test/transcripts, by file name. */
export function loadTranscripts(): { file: string; transcript: Transcript }[] {
  const dir = join(process.cwd(), 'test', 'transcripts');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, transcript: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Transcript }));
}
