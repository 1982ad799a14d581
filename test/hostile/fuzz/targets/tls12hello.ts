/**
 * TLS 1.2 ClientHellos (RFC 5246 §7.4.1.2), sent raw over TCP: the
 * extensions a 1.2 client sends are mutated as structures (RFC 7627
 * extended_master_secret missing, duplicated or with a body; RFC 5746
 * renegotiation_info with junk and the SCSV; RFC 8422 ec_point_formats
 * without uncompressed; compression methods; RFC 5077 session_ticket with
 * garbage of every length class; status_request in its 1.2 form, RFC 6066
 * §8; supported_versions naming 1.2 or nonsense), then the record layer is
 * cut up. The input is the bytes sent.
 */
import { ExtensionType, HandshakeType, Tls12ExtensionType, TLS_EMPTY_RENEGOTIATION_INFO_SCSV } from '../../../../src/tls/codec/enums.js';
import { encodeU16List, type RawExtension } from '../../../../src/tls/codec/extensions.js';
import { frameHandshake } from '../../../../src/tls/codec/handshake-frame.js';
import { encodeClientHello, type ClientHello } from '../../../../src/tls/codec/messages/client-hello.js';
import type { Prng } from '../../../robustness/flood-tools.js';
import type { HostileService } from '../../harness.js';
import { record, SIX_SUITES, TLS12_HELLO_EXTENSIONS } from '../../tls12-wire.js';
import { rawTcp, SourceAddresses } from '../client.js';
import { mutateBytes } from '../mutators.js';
import { FUZZ_ENV, type FuzzTarget, type TargetSession } from '../target.js';
import { checkTlsClosed } from './clienthello.js';

const SCSV = TLS_EMPTY_RENEGOTIATION_INFO_SCSV;
/** RFC 7507 TLS_FALLBACK_SCSV, which keysmith does not list: a suite value it must skip. */
const FALLBACK_SCSV = 0x5600;

interface Hello12 {
  legacyVersion: number;
  random: Buffer;
  sessionId: Buffer;
  suites: number[];
  compression: number[];
  extensions: RawExtension[];
}

function baseHello(prng: Prng): Hello12 {
  return {
    legacyVersion: 0x0303,
    random: prng.bytes(32),
    sessionId: Buffer.alloc(0),
    suites: [...SIX_SUITES, SCSV],
    compression: [0],
    // What the wire client offers, and an empty RFC 5077 session_ticket for the ticket mutations to fill.
    extensions: [...TLS12_HELLO_EXTENSIONS, { type: Tls12ExtensionType.session_ticket, data: Buffer.alloc(0) }],
  };
}

/** status_request (RFC 6066 §8): status_type, responder_id_list<0..2^16-1>, request_extensions<0..2^16-1>. */
function statusRequest(prng: Prng): Buffer {
  switch (prng.int(5)) {
    case 0:
      return Buffer.of(1, 0, 0, 0, 0);
    case 1:
      return Buffer.of(prng.pick([0, 2, 0xff]), 0, 0, 0, 0);
    case 2:
      return Buffer.of(1, 0xff, 0xff, 0, 0);
    case 3:
      return Buffer.concat([Buffer.of(1, 0, 6, 0, 4), prng.bytes(4), Buffer.of(0, 3), prng.bytes(3)]);
    default:
      return prng.bytes(prng.int(12));
  }
}

/** Ticket lengths: each length class a decoder branches on (empty, tiny, below/above the sealed header, near the 2^16 cap). */
function ticketLength(prng: Prng): number {
  return prng.pick([0, 1, 2, 15, 16, 31, 32, 33, 48, 64, 100, 255, 256, 1_000, 16_383, 16_384, 40_000, 64_000, prng.int(70_000)]);
}

function mutateHello(prng: Prng, hello: Hello12): void {
  const set = (type: number, data: Buffer): void => {
    hello.extensions = [...hello.extensions.filter((e) => e.type !== type), { type, data }];
  };
  switch (prng.int(14)) {
    case 0: // extended_master_secret missing, twice, or with a body (RFC 7627 §5.1: empty)
      switch (prng.int(3)) {
        case 0:
          hello.extensions = hello.extensions.filter((e) => e.type !== Tls12ExtensionType.extended_master_secret);
          return;
        case 1:
          hello.extensions.push({ type: Tls12ExtensionType.extended_master_secret, data: Buffer.alloc(0) });
          return;
        default:
          set(Tls12ExtensionType.extended_master_secret, prng.bytes(1 + prng.int(8)));
          return;
      }
    case 1: // renegotiation_info junk (RFC 5746 §3.2), or missing with or without the SCSV
      if (prng.int(2) === 0)
        set(Tls12ExtensionType.renegotiation_info, prng.pick([Buffer.alloc(0), Buffer.of(12), prng.bytes(13), prng.bytes(255)]));
      else hello.extensions = hello.extensions.filter((e) => e.type !== Tls12ExtensionType.renegotiation_info);
      if (prng.int(2) === 0) hello.suites = hello.suites.filter((s) => s !== SCSV);
      return;
    case 2:
      hello.suites.push(prng.pick([SCSV, FALLBACK_SCSV]));
      return;
    case 3: // ec_point_formats without uncompressed, empty, or with a bad length
      set(
        Tls12ExtensionType.ec_point_formats,
        prng.pick([Buffer.of(1, 1), Buffer.of(2, 1, 2), Buffer.of(0), Buffer.alloc(0), Buffer.of(5, 0)]),
      );
      return;
    case 4:
      hello.compression = prng.pick([[], [1], [1, 0], [0, 0], [64], Array.from({ length: 255 }, (_, i) => i)]);
      return;
    case 5:
    case 6:
      set(Tls12ExtensionType.session_ticket, prng.bytes(Math.min(64_000, ticketLength(prng))));
      return;
    case 7:
      set(ExtensionType.status_request, statusRequest(prng));
      return;
    case 8: // supported_versions in a 1.2 hello: only 1.2, an unknown version, or a bad vector
      set(
        ExtensionType.supported_versions,
        prng.pick([Buffer.of(2, 3, 3), Buffer.of(2, 0x7f, 0x1c), Buffer.of(4, 3, 3, 3, 2), Buffer.of(3, 3, 3)]),
      );
      return;
    case 9:
      hello.legacyVersion = prng.pick([0x0300, 0x0301, 0x0302, 0x0304, 0x03ff, 0x0203]);
      return;
    case 10:
      hello.suites = prng.pick([[SIX_SUITES[0] ?? 0], [0xc02f], [0x0035, 0x000a, 0xc013], [SCSV], [...SIX_SUITES].reverse(), []]);
      return;
    case 11:
      set(
        ExtensionType.signature_algorithms,
        prng.pick([encodeU16List([0x0201, 0x0203]), encodeU16List([0x0807]), encodeU16List([]), prng.bytes(5)]),
      );
      return;
    case 12:
      hello.sessionId = prng.pick([prng.bytes(32), prng.bytes(33), Buffer.alloc(0)]);
      return;
    default: {
      const at = prng.int(hello.extensions.length);
      hello.extensions = hello.extensions.map((e, i) => (i === at ? { type: e.type, data: mutateBytes(prng, e.data) } : e));
    }
  }
}

/** extensions<8..2^16-1> (RFC 5246 §7.4.1.2): edits that overflow it are cut back on the largest extension, so the hello still encodes. */
function fitExtensions(extensions: readonly RawExtension[]): RawExtension[] {
  const excess = extensions.reduce((sum, e) => sum + 4 + e.data.length, 0) - 0xffff;
  if (excess <= 0) return [...extensions];
  const largest = extensions.reduce((a, b) => (b.data.length > a.data.length ? b : a));
  return extensions.map((e) => (e === largest ? { type: e.type, data: e.data.subarray(0, Math.max(0, e.data.length - excess)) } : e));
}

function render(hello: Hello12): Buffer {
  const message: ClientHello = {
    legacyVersion: hello.legacyVersion,
    random: hello.random,
    legacySessionId: hello.sessionId.subarray(0, 32),
    cipherSuites: hello.suites,
    legacyCompressionMethods: Buffer.from(hello.compression),
    extensions: fitExtensions(hello.extensions),
  };
  const body = encodeClientHello(message);
  // A 33-byte session id (over legacy_session_id<0..32>) cannot go through the encoder: splice it in after the random.
  if (hello.sessionId.length <= 32) return frameHandshake(HandshakeType.client_hello, body);
  const spliced = Buffer.concat([body.subarray(0, 34), Buffer.of(33), hello.sessionId.subarray(0, 33), body.subarray(67)]);
  return frameHandshake(HandshakeType.client_hello, spliced);
}

/** The records around the ClientHello: one per 2^14 bytes, or smaller pieces, or the whole in one oversized record. */
function frame(prng: Prng, hello: Buffer): Buffer {
  const size = prng.pick([16_384, 16_384, 16_384, 1, 7, 512, 16_385]);
  const parts: Buffer[] = [];
  for (let at = 0; at < hello.length; at += size)
    parts.push(record(22, hello.subarray(at, at + size), prng.pick([0x0301, 0x0303, 0x0303])));
  return Buffer.concat(parts);
}

export class Tls12HelloTarget implements FuzzTarget {
  readonly name = 'tls12hello' as const;
  readonly env = FUZZ_ENV;
  readonly parallel = 16;

  generate(prng: Prng): Buffer {
    const hello = baseHello(prng);
    const edits = 1 + prng.int(3);
    for (let i = 0; i < edits; i++) mutateHello(prng, hello);
    let bytes = frame(prng, render(hello));
    if (prng.int(10) === 0) bytes = mutateBytes(prng, bytes, 140_000);
    return bytes;
  }

  async open(service: HostileService): Promise<TargetSession> {
    const sources = new SourceAddresses();
    return {
      send: (input) => rawTcp(service.port, sources.take(), input, { idleMs: 30, timeoutMs: 300 }),
      checkRefusal: (_input, outcome) => checkTlsClosed(outcome),
      close: () => {},
    };
  }
}
