/**
 * The machinery behind record.ts: a recording TCP relay in front of a fresh
 * keysmith server per peer connection (recordOurServer) or in front of a
 * peer server (recordOurClient), each with its own RecordingProvider, and
 * the peer programs run with a timeout. See README.md here.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import * as nodeTls from 'node:tls';
import { fixture } from '../fakes/tls-fixtures.js';
import { connect as ourConnect, TlsServer } from '../../src/tls/index.js';
import { RecordingProvider } from '../helpers/fixed-provider.js';
import {
  CLIENT_MESSAGE,
  transcriptClientOptions,
  transcriptServerOptions,
  type Transcript,
  type TranscriptSetup,
} from '../helpers/fixed-provider-transcript.js';

export const OUT_DIR = join(process.cwd(), 'test', 'transcripts');
export const FIXTURES = join(process.cwd(), 'test', 'fixtures');
export const PEER_TIMEOUT_MS = 15_000;
/** One clock for every recording of a run: inside the fixtures' validity, whole seconds. */
export const NOW = Math.floor(Date.now() / 1000) * 1000;

export interface Recorded {
  readonly peerChunks: string[];
  readonly ours: Buffer[];
}

/** Relays one accepted socket to `upstream`, writing down each direction; resolves when both ends closed. */
export function relay(peerSide: Socket, upstream: Socket, peerIsDownstream: boolean): Promise<Recorded> {
  const recorded: Recorded = { peerChunks: [], ours: [] };
  return new Promise((resolve) => {
    let closed = 0;
    const done = (): void => {
      if (++closed === 2) resolve(recorded);
    };
    peerSide.on('data', (chunk: Buffer) => {
      if (peerIsDownstream) recorded.peerChunks.push(chunk.toString('hex'));
      else recorded.ours.push(Buffer.from(chunk));
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (peerIsDownstream) recorded.ours.push(Buffer.from(chunk));
      else recorded.peerChunks.push(chunk.toString('hex'));
      peerSide.write(chunk);
    });
    peerSide.on('end', () => upstream.end());
    upstream.on('end', () => peerSide.end());
    for (const s of [peerSide, upstream]) {
      s.on('error', () => s.destroy());
      s.once('close', done);
    }
  });
}

export function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

export interface ServerRecording {
  readonly port: number;
  /** Resolves with one transcript per connection, once `count` connections closed. */
  take(count: number): Promise<Omit<Transcript, 'name' | 'peer' | 'command'>[]>;
  close(): void;
}

/** A front that gives each peer connection a fresh keysmith server with its own recording provider. */
export async function recordOurServer(setup: TranscriptSetup): Promise<ServerRecording> {
  const finished: Omit<Transcript, 'name' | 'peer' | 'command'>[] = [];
  const waiters: (() => void)[] = [];
  const front = createNetServer({ allowHalfOpen: true }, (peer) => {
    peer.pause();
    const provider = new RecordingProvider();
    const ours = new TlsServer(transcriptServerOptions(setup, NOW, provider), (socket) => {
      let hasAnswered = false;
      socket.on('data', (d: Buffer) => {
        if (hasAnswered) return;
        hasAnswered = true;
        socket.end(d);
      });
      socket.on('end', () => socket.end());
      socket.on('error', () => socket.destroy());
    });
    ours.on('tlsClientError', () => undefined);
    const netServer = createNetServer({ allowHalfOpen: true }, (raw) => ours.accept(raw));
    void listen(netServer).then((port) => {
      const upstream = netConnect({ port, host: '127.0.0.1', allowHalfOpen: true });
      const recording = relay(peer, upstream, true);
      peer.resume();
      void recording.then((r) => {
        netServer.close();
        finished.push({
          role: 'server',
          recordedAt: new Date(NOW).toISOString(),
          now: NOW,
          setup,
          script: provider.script,
          peerChunks: r.peerChunks,
          ours: Buffer.concat(r.ours).toString('hex'),
        });
        for (const w of waiters.splice(0)) w();
      });
    });
  });
  const port = await listen(front);
  return {
    port,
    take: async (count) => {
      const deadline = Date.now() + PEER_TIMEOUT_MS;
      while (finished.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${finished.length} of ${count} connections finished`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return finished.splice(0, count);
    },
    close: () => front.close(),
  };
}

/** Runs a peer program; `input` goes to its stdin after `afterOutput` shows on stdout (or at once). Killed by PID on timeout. */
export function runPeer(command: string, args: readonly string[], input: string, closeStdinAfter?: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdin.write(input);
    if (closeStdinAfter === undefined) child.stdin.end();
    const onOutput = (d: Buffer): void => {
      output += d.toString('latin1');
      if (closeStdinAfter !== undefined && output.includes(closeStdinAfter) && child.stdin.writable) child.stdin.end();
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const timer = setTimeout(() => child.kill('SIGKILL'), PEER_TIMEOUT_MS);
    child.once('close', () => {
      clearTimeout(timer);
      resolve(output);
    });
  });
}

export function versionOf(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`.split('\n')[0]?.trim() ?? command;
}

export function save(name: string, peer: string, command: string, t: Omit<Transcript, 'name' | 'peer' | 'command'>): void {
  const transcript: Transcript = { name, peer, command, ...t };
  writeFileSync(join(OUT_DIR, `${name}.json`), JSON.stringify(transcript, null, 1) + '\n');
  const size = readFileSync(join(OUT_DIR, `${name}.json`)).length;
  process.stdout.write(`${name}: ${t.peerChunks.length} peer chunks, ${t.ours.length / 2} bytes ours, ${size} bytes on disk\n`);
}

export const fx = (name: string): string => join(FIXTURES, name);

/** Our client through a recording relay to a peer server at `peerPort`. */
export async function recordOurClient(
  peerPort: number,
  setup: TranscriptSetup,
): Promise<{ transcript: Omit<Transcript, 'name' | 'peer' | 'command'>; session: string | undefined }> {
  const provider = new RecordingProvider();
  let recording: Promise<Recorded> | undefined;
  const front = createNetServer({ allowHalfOpen: true }, (ours) => {
    const upstream = netConnect({ port: peerPort, host: '127.0.0.1', allowHalfOpen: true });
    recording = relay(ours, upstream, false);
  });
  const port = await listen(front);
  let session: string | undefined;
  await new Promise<void>((resolve) => {
    const socket = ourConnect(
      {
        ...transcriptClientOptions(setup, NOW, provider),
        host: '127.0.0.1',
        port,
        ...(setup.session === undefined ? {} : { session: Buffer.from(setup.session, 'hex') }),
      },
      () => {
        socket.write(CLIENT_MESSAGE);
      },
    );
    socket.on('session', (s: Buffer) => {
      session ??= s.toString('hex');
    });
    socket.on('data', () => socket.end());
    socket.on('end', () => socket.end());
    socket.on('error', () => resolve());
    socket.once('close', () => resolve());
  });
  if (recording === undefined) throw new Error('our client never reached the relay');
  const r = await recording;
  front.close();
  return {
    transcript: {
      role: 'client',
      recordedAt: new Date(NOW).toISOString(),
      now: NOW,
      setup,
      script: provider.script,
      peerChunks: r.peerChunks,
      ours: Buffer.concat(r.ours).toString('hex'),
    },
    session,
  };
}

/**
 * Runs `rows` against `openssl s_server` held to one version, serving our
 * fixture identity and asking for a client certificate (-verify 1), echoing
 * reversed (-rev) for `naccept` connections; `rows` gets its port and the
 * command line as transcripts record it. The server is killed afterwards.
 */
export async function withSServer(
  versionFlag: '-tls1_2' | '-tls1_3',
  naccept: number,
  rows: (port: number, command: string) => Promise<void>,
): Promise<void> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const args = ['s_server', '-accept', `127.0.0.1:${port}`, versionFlag, '-cert', fx('server.pem'), '-cert_chain', fx('intermediate.pem')];
  args.push('-key', fx('server.key'), '-rev', '-naccept', String(naccept), '-verify', '1', '-CAfile', fx('ca.pem'));
  const server = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const timer = setTimeout(() => server.kill('SIGKILL'), (naccept + 1) * PEER_TIMEOUT_MS);
  await new Promise((resolve) => setTimeout(resolve, 500));
  try {
    await rows(port, `openssl ${args.join(' ').replaceAll(FIXTURES, 'test/fixtures').replace(String(port), 'PORT')}`);
  } finally {
    clearTimeout(timer);
    server.kill('SIGKILL');
  }
}

/**
 * Runs `rows` against node's tls.createServer with our fixture identity,
 * asking for a client certificate and echoing then ending, held to the
 * versions `versions` names; `rows` gets the peer, its port and the command
 * as transcripts record it. The server is closed afterwards.
 */
export async function withNodeServer(
  versions: { readonly minVersion: 'TLSv1.3' } | { readonly maxVersion: 'TLSv1.2' },
  rows: (peer: string, port: number, command: string) => Promise<void>,
): Promise<void> {
  const peer = `node ${process.version} tls.createServer (OpenSSL ${process.versions.openssl})`;
  const options = { key: fixture('server.key'), cert: fixture('server-chain.pem'), ca: fixture('ca.pem'), requestCert: true, ...versions };
  const server = nodeTls.createServer(options, (socket) => {
    socket.on('data', (d: Buffer) => socket.end(d));
    socket.on('error', () => socket.destroy());
  });
  const port = await listen(server);
  const [name, value] = Object.entries(versions)[0] ?? [];
  try {
    await rows(peer, port, `tls.createServer({ key, cert, ca, requestCert: true, ${String(name)}: '${String(value)}' }), echoes and ends`);
  } finally {
    server.close();
  }
}
