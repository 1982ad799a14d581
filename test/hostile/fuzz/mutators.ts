/**
 * Mutations shared by the targets: byte-level (flips, interesting values,
 * truncation, duplication) and DER-tree (integers, OIDs, tags, lengths,
 * nesting), each driven by the seeded PRNG so a run replays from its seed.
 */
import type { Prng } from '../../robustness/flood-tools.js';
import { cloneDer, encodeDer, encodeOid, nestRaw, TAG, walk, type DerNode, type LengthForm } from './der.js';

/** Values that sit on boundaries parsers get wrong. */
const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x20, 0x0a, 0x0d, 0x30, 0x04];

/** One byte-level edit of `input` (never longer than `maxLength`). */
export function mutateBytes(prng: Prng, input: Buffer, maxLength = 70_000): Buffer {
  const bytes = Buffer.from(input);
  const at = bytes.length === 0 ? 0 : prng.int(bytes.length);
  switch (prng.int(9)) {
    case 0: // flip one bit
      if (bytes.length > 0) bytes[at] = (bytes[at] ?? 0) ^ (1 << prng.int(8));
      return bytes;
    case 1: // an interesting byte
      if (bytes.length > 0) bytes[at] = prng.pick(INTERESTING_BYTES);
      return bytes;
    case 2: // a random byte
      if (bytes.length > 0) bytes[at] = prng.int(256);
      return bytes;
    case 3: // truncate
      return bytes.subarray(0, at);
    case 4: // drop a run
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + prng.int(16)))]);
    case 5: // insert random bytes
      return clip(Buffer.concat([bytes.subarray(0, at), prng.bytes(1 + prng.int(16)), bytes.subarray(at)]), maxLength);
    case 6: {
      // duplicate a run, maybe many times
      const run = bytes.subarray(at, Math.min(bytes.length, at + 1 + prng.int(64)));
      const times = prng.pick([1, 2, 16, 256]);
      return clip(Buffer.concat([bytes.subarray(0, at), ...Array.from({ length: times }, () => run), bytes.subarray(at)]), maxLength);
    }
    case 7: // append junk
      return clip(Buffer.concat([bytes, prng.bytes(1 + prng.int(32))]), maxLength);
    default: {
      // overwrite a 16- or 32-bit field with an edge value
      const edge = prng.pick([0, 1, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x4100, 0x7fff, 0x8000, 0xffff, 0xffffffff]);
      if (bytes.length >= 2 && at + 2 <= bytes.length) bytes.writeUInt16BE(edge & 0xffff, at);
      return bytes;
    }
  }
}

function clip(bytes: Buffer, maxLength: number): Buffer {
  return bytes.length > maxLength ? bytes.subarray(0, maxLength) : bytes;
}

/** Integers that break naive bignum and length handling. */
export function interestingInteger(prng: Prng): Buffer {
  switch (prng.int(10)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return Buffer.from([0]);
    case 2:
      return Buffer.from([0, 0, 0, 1]);
    case 3:
      return Buffer.from([0x80]);
    case 4:
      return Buffer.from([0xff]);
    case 5:
      return Buffer.from([1]);
    case 6:
      return Buffer.concat([Buffer.from([0x7f]), Buffer.alloc(prng.pick([7, 63, 511, 2047]), 0xff)]);
    case 7:
      return Buffer.from([0x01, 0x00, 0x01]);
    case 8:
      return Buffer.from([0x03]);
    default:
      return prng.bytes(1 + prng.int(600));
  }
}

/** OIDs of algorithms, curves and extensions that keys and requests use, plus nonsense. */
export const INTERESTING_OIDS = [
  '1.2.840.10045.2.1', // id-ecPublicKey
  '1.2.840.10045.3.1.7', // P-256
  '1.3.132.0.34', // P-384
  '1.3.132.0.35', // P-521
  '1.3.132.0.10', // secp256k1
  '1.3.132.0.33', // secp224r1
  '1.2.840.10045.3.1.1', // prime192v1
  '1.3.36.3.3.2.8.1.1.7', // brainpoolP256r1
  '1.3.132.1.12', // id-ecDH
  '1.2.156.10197.1.301', // SM2
  '1.2.840.113549.1.1.1', // rsaEncryption
  '1.2.840.113549.1.1.10', // RSASSA-PSS
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3', // ecdsa-with-SHA384
  '1.2.840.10040.4.1', // dsa
  '1.2.840.10046.2.1', // dhpublicnumber
  '1.3.101.110', // X25519
  '1.3.101.111', // X448
  '1.3.101.112', // Ed25519
  '1.3.101.113', // Ed448
  '1.3.14.3.2.26', // sha1
  '2.16.840.1.101.3.4.2.1', // sha256
  '1.3.6.1.5.5.7.48.1.2', // OCSP nonce
  '2.5.29.17', // subjectAltName
  '1.2.840.113549.1.9.14', // extensionRequest
  '2.5.4.3', // commonName
  '0.0',
  '2.999.18446744073709551616',
] as const;

export function interestingOid(prng: Prng): Buffer {
  if (prng.int(10) === 0) return prng.bytes(prng.int(12));
  if (prng.int(20) === 0) return Buffer.alloc(0);
  return encodeOid(prng.pick(INTERESTING_OIDS));
}

function randomLength(prng: Prng): LengthForm {
  switch (prng.int(5)) {
    case 0:
      return { kind: 'long', octets: 1 + prng.int(4) };
    case 1:
      return { kind: 'indefinite' };
    case 2:
      return { kind: 'huge' };
    case 3:
      return { kind: 'wrong', delta: prng.pick([-2, -1, 1, 2, 128]) };
    default:
      return { kind: 'long', octets: 8 };
  }
}

/** One structural edit somewhere in the tree (the root may be replaced: use the returned node). */
export function mutateTree(prng: Prng, root: DerNode): DerNode {
  const nodes = walk(root);
  const { node, parent } = prng.pick(nodes);
  switch (prng.int(11)) {
    case 0: // integer edge
      if (node.tag === TAG.INTEGER || node.content !== undefined) {
        delete node.children;
        node.content = interestingInteger(prng);
      }
      return root;
    case 1: // OID swap
      if (node.tag === TAG.OID) node.content = interestingOid(prng);
      else {
        const oids = nodes.filter((n) => n.node.tag === TAG.OID);
        if (oids.length > 0) prng.pick(oids).node.content = interestingOid(prng);
      }
      return root;
    case 2: // tag change
      node.tag = prng.pick([
        TAG.SEQUENCE,
        TAG.SET,
        TAG.INTEGER,
        TAG.OCTET_STRING,
        TAG.BIT_STRING,
        TAG.NULL,
        TAG.OID,
        0xa0,
        0xa3,
        0x80,
        0x1f,
        prng.int(256),
      ]);
      return root;
    case 3: // a length encoding DER forbids
      node.length = randomLength(prng);
      return root;
    case 4: // drop a child
      if (parent?.children !== undefined) parent.children.splice(parent.children.indexOf(node), 1);
      return root;
    case 5: // duplicate a child
      if (parent?.children !== undefined) {
        const copies = prng.pick([1, 1, 2, 40, 400]);
        parent.children.splice(parent.children.indexOf(node), 0, ...Array.from({ length: copies }, () => cloneDer(node)));
      }
      return root;
    case 6: // swap two siblings
      if (parent?.children !== undefined && parent.children.length > 1) {
        const i = prng.int(parent.children.length);
        const j = prng.int(parent.children.length);
        const a = parent.children[i];
        const b = parent.children[j];
        if (a !== undefined && b !== undefined) {
          parent.children[i] = b;
          parent.children[j] = a;
        }
      }
      return root;
    case 7: {
      // nest the node deeply (stack depth of recursive decoders)
      const depth = prng.pick([2, 16, 200, 2_000, 5_000]);
      const tags = [prng.int(2) === 0 ? TAG.SEQUENCE : 0xa0, prng.pick([TAG.SEQUENCE, TAG.SET, 0xa0, 0xa3])];
      replace(node, { tag: node.tag, raw: nestRaw(encodeDer(node), depth, (level) => tags[level % 2] ?? TAG.SEQUENCE) });
      return root;
    }
    case 8: // content edits
      if (node.content !== undefined) node.content = mutateBytes(prng, node.content);
      return root;
    case 9: // empty a constructed node
      if (node.children !== undefined) node.children = [];
      return root;
    default: // BIT STRING unused-bits octet
      if (node.tag === TAG.BIT_STRING) {
        if (node.prefix !== undefined) node.prefix = Buffer.from([prng.pick([1, 7, 8, 0xff])]);
        else if (node.content !== undefined && node.content.length > 0) node.content[0] = prng.pick([1, 7, 8, 0xff]);
      }
      return root;
  }
}

/** Overwrites `target` in place with `source`'s fields. */
export function replace(target: DerNode, source: DerNode): void {
  delete target.children;
  delete target.content;
  delete target.prefix;
  delete target.length;
  delete target.raw;
  Object.assign(target, source);
}
