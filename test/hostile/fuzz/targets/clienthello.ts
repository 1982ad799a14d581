/**
 * ClientHellos and other TLS records (RFC 8446 §4.1.2, §5.1), sent raw over
 * TCP to the listener. The ClientHello is a structure (versions, random,
 * session id, suites, compression, extensions with key shares) rendered
 * after mutation; then the record layer is mutated: splitting across
 * records, oversized and empty records, wrong content types and versions,
 * stray alerts and ChangeCipherSpec records. The input is the bytes sent.
 */
import type { Prng } from '../../../robustness/flood-tools.js';
import type { HostileService } from '../../harness.js';
import { rawTcp, SourceAddresses, type Outcome } from '../client.js';
import { mutateBytes } from '../mutators.js';
import { FUZZ_ENV, type FuzzTarget, type TargetSession } from '../target.js';

const EXT = {
  serverName: 0,
  supportedGroups: 10,
  signatureAlgorithms: 13,
  alpn: 16,
  preSharedKey: 41,
  earlyData: 42,
  supportedVersions: 43,
  cookie: 44,
  pskModes: 45,
  keyShare: 51,
} as const;

const GROUP = { x25519: 0x001d, secp256r1: 0x0017, secp384r1: 0x0018, secp521r1: 0x0019, x448: 0x001e, ffdhe2048: 0x0100 } as const;

/** RFC 8448 §3's client share: a valid X25519 public key. */
const X25519_SHARE = Buffer.from('99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c', 'hex');
/** P-256's generator (SEC 2 §2.4.2): a valid point. */
const P256_SHARE = Buffer.from(
  '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5',
  'hex',
);

interface KeyShare {
  group: number;
  key: Buffer;
}

interface Extension {
  type: number;
  data: Buffer;
}

interface Hello {
  legacyVersion: number;
  random: Buffer;
  sessionId: Buffer;
  suites: number[];
  compression: number[];
  extensions: Extension[];
  shares: KeyShare[];
}

function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}
function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}
function vec16(data: Buffer): Buffer {
  return Buffer.concat([u16(data.length), data]);
}
function vec8(data: Buffer): Buffer {
  return Buffer.concat([u8(data.length), data]);
}
function list16(values: readonly number[]): Buffer {
  return vec16(Buffer.concat(values.map(u16)));
}

function baseHello(): Hello {
  return {
    legacyVersion: 0x0303,
    random: Buffer.alloc(32, 0x42),
    sessionId: Buffer.alloc(32, 0x24),
    suites: [0x1301, 0x1302, 0x1303],
    compression: [0],
    shares: [{ group: GROUP.x25519, key: X25519_SHARE }],
    extensions: [
      { type: EXT.serverName, data: vec16(Buffer.concat([u8(0), vec16(Buffer.from('localhost'))])) },
      { type: EXT.supportedGroups, data: list16([GROUP.x25519, GROUP.secp256r1, GROUP.secp384r1]) },
      { type: EXT.signatureAlgorithms, data: list16([0x0403, 0x0503, 0x0804, 0x0805, 0x0807, 0x0401]) },
      { type: EXT.alpn, data: vec16(vec8(Buffer.from('http/1.1'))) },
      { type: EXT.supportedVersions, data: vec8(Buffer.concat([u16(0x0304)])) },
      { type: EXT.pskModes, data: vec8(u8(1)) },
      { type: EXT.keyShare, data: Buffer.alloc(0) }, // filled from `shares` when rendered
    ],
  };
}

function renderHello(hello: Hello): Buffer {
  const shares = vec16(Buffer.concat(hello.shares.map((s) => Buffer.concat([u16(s.group), vec16(s.key)]))));
  const extensions = Buffer.concat(
    hello.extensions.map((e) => Buffer.concat([u16(e.type), vec16(e.type === EXT.keyShare && e.data.length === 0 ? shares : e.data)])),
  );
  const body = Buffer.concat([
    u16(hello.legacyVersion),
    hello.random,
    vec8(hello.sessionId),
    list16(hello.suites),
    vec8(Buffer.from(hello.compression)),
    vec16(extensions),
  ]);
  return Buffer.concat([u8(1), u24(body.length), body]);
}

export function record(type: number, payload: Buffer, version = 0x0301): Buffer {
  return Buffer.concat([u8(type), u16(version), u16(payload.length), payload]);
}

/** Key shares at the edges: the point at infinity, off-curve, wrong lengths, zero (a small-order X25519 point), unknown groups. */
function shareEdge(prng: Prng): KeyShare {
  const group = prng.pick([
    GROUP.x25519,
    GROUP.secp256r1,
    GROUP.secp384r1,
    GROUP.secp521r1,
    GROUP.x448,
    GROUP.ffdhe2048,
    0x0000,
    0xffff,
    0x0a0a,
  ]);
  switch (prng.int(10)) {
    case 0:
      return { group, key: Buffer.from([0]) };
    case 1:
      return { group, key: Buffer.alloc(0) };
    case 2:
      return { group, key: Buffer.alloc(32) };
    case 3:
      return { group, key: Buffer.concat([Buffer.from([4]), Buffer.alloc(prng.pick([64, 96, 132]))]) };
    case 4: {
      const offCurve = Buffer.from(P256_SHARE);
      offCurve[64] = (offCurve[64] ?? 0) ^ 1;
      return { group, key: offCurve };
    }
    case 5:
      return { group, key: Buffer.concat([Buffer.from([prng.pick([2, 3])]), P256_SHARE.subarray(1, 33)]) };
    case 6:
      return { group, key: Buffer.alloc(prng.pick([31, 33, 56, 255, 256, 512]), 0xff) };
    case 7:
      return { group, key: prng.int(2) === 0 ? P256_SHARE : X25519_SHARE };
    case 8:
      return { group, key: Buffer.alloc(prng.pick([1000, 65_000]), 1) };
    default:
      return { group, key: prng.bytes(prng.int(140)) };
  }
}

function mutateHello(prng: Prng, hello: Hello): void {
  switch (prng.int(12)) {
    case 0:
      hello.legacyVersion = prng.pick([0x0000, 0x0102, 0x0200, 0x0300, 0x0301, 0x0302, 0x0304, 0x7f1c, 0xffff]);
      return;
    case 1:
    case 2: {
      const share = shareEdge(prng);
      if (prng.int(2) === 0) hello.shares = [share];
      else hello.shares.push(...Array.from({ length: prng.pick([1, 2, 40]) }, () => share));
      return;
    }
    case 3: {
      const ext = prng.pick(hello.extensions);
      const at = hello.extensions.indexOf(ext);
      switch (prng.int(4)) {
        case 0:
          hello.extensions.splice(at, 1);
          return;
        case 1:
          hello.extensions.push({ type: ext.type, data: ext.data });
          return;
        case 2:
          ext.data = prng.int(2) === 0 ? Buffer.alloc(0) : mutateBytes(prng, ext.data);
          return;
        default:
          ext.data = Buffer.alloc(prng.pick([255, 256, 16_384, 65_000]), prng.int(256));
          return;
      }
    }
    case 4: {
      const supported = hello.extensions.find((e) => e.type === EXT.supportedVersions);
      const versions = prng.pick([[], [0x0303], [0x0304, 0x0304], [0x7f1c], [0x0a0a, 0x0304], Array.from({ length: 127 }, () => 0x0304)]);
      const data = prng.int(5) === 0 ? Buffer.from([3, 3, 4, 3]) : vec8(Buffer.concat(versions.map(u16)));
      if (supported !== undefined) supported.data = data;
      return;
    }
    case 5:
      hello.suites = prng.pick([
        [],
        [0x1301],
        [0x002f, 0xc02b],
        [0x1304, 0x1305],
        Array.from({ length: 32_000 }, (_, i) => i),
        [0x00ff, 0x5600],
      ]);
      return;
    case 6:
      hello.compression = prng.pick([[], [1], [0, 1], Array.from({ length: 255 }, () => 0)]);
      return;
    case 7:
      hello.sessionId = prng.pick([Buffer.alloc(0), Buffer.alloc(33), Buffer.alloc(255)]);
      return;
    case 8: {
      const sig = hello.extensions.find((e) => e.type === EXT.signatureAlgorithms);
      if (sig !== undefined)
        sig.data = prng.pick([list16([]), list16(Array.from({ length: 32_715 }, () => 0x0403)), Buffer.from([0, 3, 4, 3, 8])]);
      return;
    }
    case 9:
      // a pre_shared_key that is not last, or with nonsense binders; early_data
      hello.extensions.splice(prng.int(hello.extensions.length), 0, {
        type: prng.pick([EXT.preSharedKey, EXT.earlyData, EXT.cookie, 0xff01, 0x0a0a]),
        data: prng.bytes(prng.pick([0, 4, 40, 300])),
      });
      return;
    case 10: {
      const groups = hello.extensions.find((e) => e.type === EXT.supportedGroups);
      if (groups !== undefined)
        groups.data = prng.pick([list16([]), list16([GROUP.secp521r1]), list16([GROUP.ffdhe2048, GROUP.x448]), Buffer.from([0, 1, 0])]);
      return;
    }
    default:
      hello.extensions.reverse();
  }
}

/** The record layer around the handshake message. */
function frame(prng: Prng, handshake: Buffer): Buffer {
  switch (prng.int(10)) {
    case 0: {
      // split across records of random sizes
      const parts: Buffer[] = [];
      for (let at = 0; at < handshake.length;) {
        const size = 1 + prng.int(Math.max(1, Math.min(handshake.length - at, prng.pick([1, 5, 100, 16_384]))));
        parts.push(record(22, handshake.subarray(at, at + size)));
        at += size;
      }
      return Buffer.concat(parts);
    }
    case 1: // a record over the 2^14 + 256 bound (RFC 8446 §5.1, §5.2)
      return record(22, Buffer.concat([handshake, Buffer.alloc(Math.max(0, 16_641 - handshake.length))]));
    case 2: // unknown or wrong content type
      return record(prng.pick([0, 19, 21, 23, 24, 25, 0xff]), handshake);
    case 3: // an alert of odd length (RFC 8446 §6: two octets)
      return Buffer.concat([record(21, prng.bytes(prng.pick([0, 1, 3, 7]))), record(22, handshake)]);
    case 4: // ChangeCipherSpec with a body other than 0x01 (RFC 8446 §5)
      return Buffer.concat([
        record(20, prng.pick([Buffer.alloc(0), Buffer.from([2]), Buffer.from([1, 1]), Buffer.from([0])])),
        record(22, handshake),
      ]);
    case 5: // an empty handshake record first
      return Buffer.concat([record(22, Buffer.alloc(0)), record(22, handshake)]);
    case 6: // record version edges
      return record(22, handshake, prng.pick([0x0000, 0x0300, 0x0303, 0x0304, 0xffff]));
    case 7: // another handshake message type first
      return Buffer.concat([
        record(22, Buffer.concat([u8(prng.pick([0, 2, 4, 8, 11, 13, 15, 20, 24, 254])), u24(4), prng.bytes(4)])),
        record(22, handshake),
      ]);
    case 8: // the ClientHello twice in one record
      return record(22, Buffer.concat([handshake, handshake]));
    default:
      return record(22, handshake);
  }
}

export class ClientHelloTarget implements FuzzTarget {
  readonly name = 'clienthello' as const;
  readonly env = FUZZ_ENV;
  readonly parallel = 16;

  generate(prng: Prng): Buffer {
    const hello = baseHello();
    const edits = prng.int(4);
    for (let i = 0; i < edits; i++) mutateHello(prng, hello);
    let handshake = renderHello(hello);
    if (prng.int(6) === 0) handshake = mutateBytes(prng, handshake, 140_000);
    let bytes = frame(prng, handshake);
    if (prng.int(8) === 0) bytes = mutateBytes(prng, bytes, 140_000);
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

/** A ClientHello the server refuses ends with an alert record and a close; one it accepts gets a ServerHello. */
export function checkTlsClosed(outcome: Outcome): string | undefined {
  const first = outcome.body[0];
  if (first === 21 || first === 22) return undefined;
  if (outcome.status === 'closed' || outcome.status === 'reset') return undefined;
  return `expected a handshake or an alert, got ${outcome.status} with ${outcome.body.length} bytes`;
}

/** The unmutated seed: a TLS 1.3 ClientHello (X25519 share, SNI localhost, ALPN http/1.1) in one record. */
export function validClientHello(): Buffer {
  return record(22, renderHello(baseHello()));
}
