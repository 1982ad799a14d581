/**
 * TLS 1.2 client flights (RFC 5246 §7.3): a valid-looking 1.2 ClientHello
 * (EMS, the six suites, x25519/P-256/P-384, signature_algorithms), then a
 * real client flight computed against the server's answer (test/hostile/
 * tls12-wire.ts) and mutated as structures: ClientKeyExchange points at
 * the edges, Certificate lists (empty, junk DER, the leaf hundreds of
 * times), CertificateVerify schemes and bytes, the Finished, where and how
 * the ChangeCipherSpec goes, records split or merged; or one in five an
 * abbreviated handshake resuming a ticket taken at open() (RFC 5077 §3.1),
 * whose client flight is only CCS and Finished; then, when the
 * handshake got through, something that must end the connection
 * (renegotiation ClientHellos, junk records, a warning flood, close_notify,
 * an HTTP request with Connection: close).
 *
 * The flight depends on the server's random and key, so the input is a
 * plan (JSON) rather than the bytes: which edits, with which values, and a
 * seed for the byte-level ones. Replaying a plan makes the same edits on a
 * fresh handshake. The oracle: every connection ends (an alert or a close)
 * within the service's handshake timeout plus BOUND_MARGIN_MS; one that does
 * not is the outcome `timeout`.
 */
import { ContentType, HandshakeType, NamedGroup, Tls12ExtensionType } from '../../../../src/tls/codec/enums.js';
import { encodeU16List } from '../../../../src/tls/codec/extensions.js';
import { frameHandshake } from '../../../../src/tls/codec/handshake-frame.js';
import { encodeCertificate12 } from '../../../../src/tls/codec/messages/tls12/certificate.js';
import type { Tls12SuiteInfo } from '../../../../src/tls/crypto/suites.js';
import { Prng } from '../../../robustness/flood-tools.js';
import type { HostileService } from '../../harness.js';
import {
  clientFlight,
  clientHello12,
  handshake12,
  loadCredentials,
  readServerFlight,
  record,
  resume12,
  SIX_SUITES,
  Wire,
  type ClientCredentials,
  type FlightChoices,
} from '../../tls12-wire.js';
import { SourceAddresses, type Outcome } from '../client.js';
import { mutateBytes } from '../mutators.js';
import { FUZZ_ENV, type FuzzTarget, type TargetSession } from '../target.js';

/**
 * The service's handshake timeout for this target: a flight with its
 * Finished dropped or cut short leaves the server rightly waiting for the
 * rest, until this ends the handshake.
 */
const HANDSHAKE_TIMEOUT_MS = 2_000;
/** Beyond the service's handshake timeout, how long a connection may take to be closed (a loaded machine). */
const BOUND_MARGIN_MS = 2_000;

/** The bound for one connection on `service`: its KEYSMITH_HANDSHAKE_TIMEOUT (a replay may run with the 10 s default) plus the margin. */
function connectionBoundMs(service: HostileService): number {
  const match = /^(\d+)s$/.exec(service.env['KEYSMITH_HANDSHAKE_TIMEOUT'] ?? '');
  return (match === null ? 10_000 : Number(match[1]) * 1_000) + BOUND_MARGIN_MS;
}

const PIECES = ['certificate', 'clientKeyExchange', 'certificateVerify', 'ccs', 'finished'] as const;
type PieceName = (typeof PIECES)[number];

type Edit =
  | { readonly op: 'point'; readonly hex: string }
  | { readonly op: 'chain'; readonly kind: number }
  | { readonly op: 'scheme'; readonly scheme: number }
  | { readonly op: 'flip' }
  | { readonly op: 'bytes'; readonly piece: PieceName; readonly seed: number }
  | { readonly op: 'drop' | 'dup' | 'swap'; readonly piece: PieceName }
  | { readonly op: 'ccsBody'; readonly hex: string }
  | { readonly op: 'plainFinished' };

type Seal = (type: ContentType, content: Buffer) => Buffer;

type After = 'renegotiate' | 'junk' | 'warnings' | 'closeNotify' | 'http' | 'plaintext';

interface Plan {
  readonly mtls: boolean;
  readonly groups: readonly number[];
  readonly suites: readonly number[];
  readonly edits: readonly Edit[];
  /** 0: a record per message; otherwise handshake bytes re-cut into records of this size (2^14 merges them). */
  readonly recordSize: number;
  readonly after: After;
  /** Resume the session the target got at open() (RFC 5077 §3.1): the flight is then only CCS and Finished. */
  readonly resume: boolean;
}

const GROUP_SETS: readonly (readonly number[])[] = [
  [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1],
  [NamedGroup.secp256r1],
  [NamedGroup.secp384r1, NamedGroup.secp256r1],
];

function pointEdge(prng: Prng): Buffer {
  switch (prng.int(8)) {
    case 0:
      return Buffer.alloc(32);
    case 1:
      return Buffer.alloc(prng.pick([1, 31, 33, 64, 65, 97, 255]), prng.pick([0, 0xff, 4]));
    case 2: // the P-256 generator, a valid point on the wrong curve for x25519 and P-384
      return Buffer.from(
        '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5',
        'hex',
      );
    case 3: // off-curve
      return Buffer.concat([Buffer.of(4), prng.bytes(64)]);
    case 4: // compressed
      return Buffer.concat([Buffer.of(prng.pick([2, 3])), prng.bytes(32)]);
    case 5: // the point at infinity
      return Buffer.of(0);
    case 6: // an x25519 low-order point (RFC 7748 §6.1)
      return Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex');
    default:
      return prng.bytes(1 + prng.int(140));
  }
}

function randomEdit(prng: Prng): Edit {
  switch (prng.int(11)) {
    case 0:
    case 1:
      return { op: 'point', hex: pointEdge(prng).toString('hex') };
    case 2:
      return { op: 'chain', kind: prng.int(7) };
    case 3:
      return { op: 'scheme', scheme: prng.pick([0x0201, 0x0203, 0x0403, 0x0503, 0x0603, 0x0804, 0x0807, 0x0401, 0xffff]) };
    case 4:
      return { op: 'flip' };
    case 5:
    case 6:
      return { op: 'bytes', piece: prng.pick(PIECES), seed: prng.int(0x7fffffff) };
    case 7:
      return { op: prng.pick(['drop', 'dup', 'swap'] as const), piece: prng.pick(PIECES) };
    case 8:
      return { op: 'ccsBody', hex: prng.pick(['', '02', '0101', '00']) };
    case 9:
      return { op: 'plainFinished' };
    default:
      return { op: 'swap', piece: prng.pick(PIECES) };
  }
}

function makePlan(prng: Prng): Plan {
  const editCount = prng.pick([0, 0, 1, 1, 1, 2, 3]);
  return {
    mtls: prng.int(4) !== 0,
    groups: prng.pick(GROUP_SETS),
    suites: prng.int(4) === 0 ? [prng.pick(SIX_SUITES)] : SIX_SUITES,
    edits: Array.from({ length: editCount }, () => randomEdit(prng)),
    recordSize: prng.pick([0, 0, 0, 1, 3, 50, 16_384]),
    after: prng.pick(['renegotiate', 'junk', 'warnings', 'closeNotify', 'http', 'plaintext'] as const),
    resume: prng.int(5) === 0,
  };
}

/** Certificate lists at the edges. */
function chainEdit(kind: number, credentials: ClientCredentials): Buffer[] {
  const leaf = credentials.chain[0] ?? Buffer.alloc(0);
  switch (kind) {
    case 0:
      return [];
    case 1:
      return [Buffer.from('3003020100', 'hex')];
    case 2:
      return Array.from({ length: 300 }, () => leaf);
    case 3:
      return [leaf.subarray(0, leaf.length - 1)];
    case 4:
      return [Buffer.of(0x30)];
    case 5:
      return [...credentials.chain].reverse();
    default:
      return [leaf, Buffer.alloc(60_000, 0x30)];
  }
}

interface Piece {
  readonly name: PieceName;
  /** A handshake message (framed), or the CCS body. */
  bytes: Buffer;
}

/** Builds the pieces of the flight and applies the plan's edits to them. */
function editFlight(plan: Plan, pieces: Piece[], credentials: ClientCredentials): { pieces: Piece[]; isFinishedPlain: boolean } {
  let isFinishedPlain = false;
  let list = pieces;
  for (const edit of plan.edits) {
    const at = list.findIndex((p) => 'piece' in edit && p.name === edit.piece);
    switch (edit.op) {
      case 'chain': {
        const cert = list.find((p) => p.name === 'certificate');
        if (cert !== undefined)
          cert.bytes = frameHandshake(HandshakeType.certificate, encodeCertificate12({ chain: chainEdit(edit.kind, credentials) }));
        break;
      }
      case 'bytes': {
        const piece = list[at];
        if (piece !== undefined) piece.bytes = mutateBytes(new Prng(edit.seed), piece.bytes, 70_000);
        break;
      }
      case 'drop':
        if (at >= 0) list = list.filter((_, i) => i !== at);
        break;
      case 'dup': {
        const piece = list[at];
        if (piece !== undefined) list = [...list.slice(0, at + 1), { ...piece }, ...list.slice(at + 1)];
        break;
      }
      case 'swap': {
        const a = list[at];
        const b = list[at + 1];
        if (a !== undefined && b !== undefined) list = [...list.slice(0, at), b, a, ...list.slice(at + 2)];
        break;
      }
      case 'ccsBody': {
        const ccs = list.find((p) => p.name === 'ccs');
        if (ccs !== undefined) ccs.bytes = Buffer.from(edit.hex, 'hex');
        break;
      }
      case 'plainFinished':
        isFinishedPlain = true;
        break;
      default: // point, scheme, flip: applied when the flight is computed
        break;
    }
  }
  return { pieces: list, isFinishedPlain };
}

/** The wire bytes: plaintext handshake pieces (re-cut when the plan says), the CCS, the Finished sealed after the CCS. */
function render(plan: Plan, pieces: readonly Piece[], isFinishedPlain: boolean, seal: Seal): Buffer {
  const out: Buffer[] = [];
  let pending: Buffer[] = [];
  let isSealing = false;
  const flush = (): void => {
    const bytes = Buffer.concat(pending);
    pending = [];
    if (bytes.length === 0) return;
    const size = plan.recordSize === 0 ? 16_384 : plan.recordSize;
    for (let at = 0; at < bytes.length; at += size) out.push(record(ContentType.handshake, bytes.subarray(at, at + size)));
  };
  for (const piece of pieces) {
    if (piece.name === 'ccs') {
      flush();
      out.push(record(ContentType.change_cipher_spec, piece.bytes));
      isSealing = true;
    } else if (piece.name === 'finished' && isSealing && !isFinishedPlain) {
      flush();
      out.push(seal(ContentType.handshake, piece.bytes));
    } else if (plan.recordSize === 0) {
      pending.push(piece.bytes);
      flush();
    } else pending.push(piece.bytes);
  }
  flush();
  return Buffer.concat(out);
}

/** What goes after a handshake the server finished: each of these must end the connection. */
function afterBytes(after: After, seal: Seal): Buffer {
  switch (after) {
    case 'renegotiate':
      return Buffer.concat(Array.from({ length: 3 }, () => seal(ContentType.handshake, clientHello12())));
    case 'junk':
      return record(ContentType.application_data, Buffer.alloc(100, 0x5a));
    case 'warnings':
      return Buffer.concat(Array.from({ length: 40 }, () => seal(ContentType.alert, Buffer.of(1, 90))));
    case 'closeNotify':
      return seal(ContentType.alert, Buffer.of(1, 0));
    case 'http':
      return seal(ContentType.application_data, Buffer.from('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
    case 'plaintext':
      return record(ContentType.handshake, clientHello12());
  }
}

/** The edits the flight is computed with (the others are applied to its pieces). */
function flightChoices(edits: readonly Edit[]): FlightChoices {
  let point: Buffer | undefined;
  let verifyScheme: number | undefined;
  let finishedFlip: number | undefined;
  for (const e of edits) {
    if (e.op === 'point') point = Buffer.from(e.hex, 'hex');
    if (e.op === 'scheme') verifyScheme = e.scheme;
    if (e.op === 'flip') finishedFlip = 0x80;
  }
  return { point, verifyScheme, finishedFlip };
}

function parsePlan(input: Buffer): Plan | undefined {
  try {
    return JSON.parse(input.toString('utf8')) as Plan;
  } catch {
    return undefined;
  }
}

/** A session to resume: its ticket, master secret and suite. */
interface Ticket {
  readonly ticket: Buffer;
  readonly masterSecret: Buffer;
  readonly suite: Tls12SuiteInfo;
}

/** A full handshake that asks for a ticket (session_ticket empty, RFC 5077 §3.2); undefined when none came. */
async function fetchTicket(port: number, credentials: ClientCredentials): Promise<Ticket | undefined> {
  const wire = await Wire.open(port);
  try {
    const hello = clientHello12((h) => ({
      ...h,
      extensions: [...h.extensions, { type: Tls12ExtensionType.session_ticket, data: Buffer.alloc(0) }],
    }));
    const full = await handshake12(wire, credentials, hello);
    return full?.ticket === undefined || full.ticket.length === 0
      ? undefined
      : { ticket: full.ticket, masterSecret: full.masterSecret, suite: full.suite };
  } finally {
    wire.destroy();
  }
}

/** The abbreviated handshake: the plan's edits on [CCS, Finished], then its after-bytes at once (the server sends nothing more). */
async function runResumed(wire: Wire, plan: Plan, ticket: Ticket, credentials: ClientCredentials, left: () => number): Promise<Outcome> {
  const resumed = await resume12(wire, ticket.ticket, ticket.masterSecret, ticket.suite);
  if (resumed === undefined) return finish(wire, [], await wire.closed(left()));
  const pieces: Piece[] = [
    { name: 'ccs', bytes: Buffer.of(1) },
    { name: 'finished', bytes: resumed.finished },
  ];
  const { pieces: sent, isFinishedPlain } = editFlight(plan, pieces, credentials);
  const seal: Seal = (type, content) => resumed.seal.seal(type, content);
  const flight = render(plan, sent, isFinishedPlain, seal);
  wire.write(Buffer.concat([flight, afterBytes(plan.after, seal)]));
  const chunks: Buffer[] = [];
  for (let r = await wire.next(left()); r !== undefined; r = await wire.next(left())) chunks.push(Buffer.of(r.type));
  return finish(wire, chunks, wire.isClosed);
}

async function runPlan(
  port: number,
  source: string,
  plan: Plan,
  credentials: ClientCredentials,
  ticket: Ticket | undefined,
  boundMs: number,
): Promise<Outcome> {
  const started = performance.now();
  const left = (): number => Math.max(1, boundMs - (performance.now() - started));
  const wire = await Wire.open(port, source);
  const chunks: Buffer[] = [];
  try {
    const hello = clientHello12((h) => ({
      ...h,
      cipherSuites: [...plan.suites, 0x00ff],
      extensions: h.extensions.map((e) => (e.type === 10 ? { type: e.type, data: encodeU16List([...plan.groups]) } : e)),
    }));
    if (plan.resume && ticket !== undefined) return await runResumed(wire, plan, ticket, credentials, left);
    const flight = await readServerFlight(wire, hello, left());
    if (flight === undefined) return finish(wire, chunks, await wire.closed(left()));
    const choices = flightChoices(plan.edits);
    const mine = clientFlight(flight, plan.mtls ? credentials : undefined, choices);
    const pieces: Piece[] = [];
    if (mine.certificate !== undefined) pieces.push({ name: 'certificate', bytes: mine.certificate });
    pieces.push({ name: 'clientKeyExchange', bytes: mine.clientKeyExchange });
    if (mine.certificateVerify !== undefined) pieces.push({ name: 'certificateVerify', bytes: mine.certificateVerify });
    pieces.push({ name: 'ccs', bytes: Buffer.of(1) }, { name: 'finished', bytes: mine.finished });
    const { pieces: sent, isFinishedPlain } = editFlight(plan, pieces, credentials);
    const seal: Seal = (type, content) => mine.seal.seal(type, content);
    wire.write(render(plan, sent, isFinishedPlain, seal));
    for (let r = await wire.next(left()); r !== undefined; r = await wire.next(left())) {
      chunks.push(Buffer.of(r.type));
      if (r.type === ContentType.change_cipher_spec) wire.readProtector = mine.open;
      else if (r.type === ContentType.handshake && r.content[0] === HandshakeType.finished) wire.write(afterBytes(plan.after, seal));
    }
    return finish(wire, chunks, wire.isClosed);
  } finally {
    wire.destroy();
  }
}

function finish(wire: Wire, chunks: readonly Buffer[], isClosed: boolean): Outcome {
  wire.destroy();
  return { status: isClosed ? 'closed' : 'timeout', headers: {}, body: Buffer.concat(chunks) };
}

export class Tls12Target implements FuzzTarget {
  readonly name = 'tls12' as const;
  readonly env = { ...FUZZ_ENV, KEYSMITH_HANDSHAKE_TIMEOUT: `${HANDSHAKE_TIMEOUT_MS / 1_000}s` };
  readonly parallel = 8;

  generate(prng: Prng): Buffer {
    return Buffer.from(JSON.stringify(makePlan(prng)));
  }

  async open(service: HostileService): Promise<TargetSession> {
    const sources = new SourceAddresses();
    const credentials = await loadCredentials(service.paths.adminCert, service.paths.adminKey);
    const boundMs = connectionBoundMs(service);
    const ticket = await fetchTicket(service.port, credentials);
    return {
      send: async (input) => {
        const plan = parsePlan(input);
        if (plan === undefined) return { status: 'error', headers: {}, body: Buffer.from('not a tls12 plan') };
        try {
          return await runPlan(service.port, sources.take(), plan, credentials, ticket, boundMs);
        } catch (err) {
          return { status: 'error', headers: {}, body: Buffer.from(String(err)) };
        }
      },
      checkRefusal: (_input, outcome) =>
        outcome.status === 'closed' ? undefined : `the connection did not end within ${boundMs} ms (${outcome.status})`,
      close: () => {},
    };
  }
}
