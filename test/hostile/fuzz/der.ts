/**
 * A DER tree the fuzzer can edit and re-encode wrongly on purpose: each node
 * keeps its identifier octet and either children (constructed types, and
 * BIT/OCTET STRINGs that wrap DER, like an RSA key in an SPKI) or raw
 * content, plus an optional length encoding that breaks the X.690 §10.1
 * DER rules (long form where short would do, indefinite form, a wrong
 * length). Decoding is bounded in depth and never throws past `decodeDer`:
 * what does not parse stays a leaf of raw bytes.
 */

/** How a node's length octets are written. */
export type LengthForm =
  | { readonly kind: 'definite' }
  /** Long form with `octets` length octets (X.690 §8.1.3.5), e.g. 0x84 00 00 00 20. */
  | { readonly kind: 'long'; readonly octets: number }
  /** 0x80 then the content then 00 00 (X.690 §8.1.3.6; BER only, never DER). */
  | { readonly kind: 'indefinite' }
  /** The true length plus `delta` (a lie). */
  | { readonly kind: 'wrong'; readonly delta: number }
  /** Long form claiming 2^32-1 octets. */
  | { readonly kind: 'huge' };

export interface DerNode {
  tag: number;
  /** Children of a constructed node, or of a BIT/OCTET STRING that wraps DER. */
  children?: DerNode[];
  /** Raw content of a primitive node. */
  content?: Buffer;
  /** For a BIT STRING that wraps DER: the unused-bits octet written before the children. */
  prefix?: Buffer;
  length?: LengthForm;
  /** An already-encoded TLV written as is (deep nestings are built as bytes, not as a deep tree). */
  raw?: Buffer;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8: 0x0c,
  PRINTABLE: 0x13,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const MAX_DEPTH = 64;

export function seq(...children: DerNode[]): DerNode {
  return { tag: TAG.SEQUENCE, children };
}

export function set(...children: DerNode[]): DerNode {
  return { tag: TAG.SET, children };
}

export function explicit(n: number, ...children: DerNode[]): DerNode {
  return { tag: 0xa0 | n, children };
}

export function prim(tag: number, content: Buffer): DerNode {
  return { tag, content };
}

export function int(value: Buffer | number): DerNode {
  if (typeof value === 'number') {
    const hex = value.toString(16);
    let bytes = Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex');
    if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return prim(TAG.INTEGER, bytes);
  }
  return prim(TAG.INTEGER, value);
}

/** An unsigned big-endian magnitude as a DER INTEGER (minimal, positive). */
export function uint(magnitude: Buffer): DerNode {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let bytes = magnitude.subarray(start);
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return prim(TAG.INTEGER, Buffer.from(bytes));
}

export function oid(dotted: string): DerNode {
  return prim(TAG.OID, encodeOid(dotted));
}

export function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((arc) => BigInt(arc));
  const [first = 0n, second = 0n, ...rest] = arcs;
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const groups: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return Buffer.from(out);
}

export function bitString(bytes: Buffer, unusedBits = 0): DerNode {
  return prim(TAG.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

export function octetString(bytes: Buffer): DerNode {
  return prim(TAG.OCTET_STRING, bytes);
}

export const NULL_NODE: DerNode = { tag: TAG.NULL, content: Buffer.alloc(0) };

function encodeLength(length: number, form: LengthForm): Buffer {
  switch (form.kind) {
    case 'indefinite':
      return Buffer.from([0x80]);
    case 'huge':
      return Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]);
    case 'long': {
      const octets = Math.max(1, Math.min(form.octets, 8));
      const out = Buffer.alloc(1 + octets);
      out[0] = 0x80 | octets;
      let v = length;
      for (let i = octets; i >= 1; i--) {
        out[i] = v & 0xff;
        v = Math.floor(v / 256);
      }
      return out;
    }
    case 'wrong':
      return encodeLength(Math.max(0, length + form.delta), { kind: 'definite' });
    case 'definite': {
      if (length < 0x80) return Buffer.from([length]);
      const bytes: number[] = [];
      for (let v = length; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
      return Buffer.from([0x80 | bytes.length, ...bytes]);
    }
  }
}

export function encodeDer(node: DerNode): Buffer {
  if (node.raw !== undefined) return node.raw;
  let content: Buffer;
  if (node.children !== undefined) {
    content = Buffer.concat([node.prefix ?? Buffer.alloc(0), ...node.children.map(encodeDer)]);
  } else {
    content = node.content ?? Buffer.alloc(0);
  }
  const form = node.length ?? { kind: 'definite' };
  const tail = form.kind === 'indefinite' ? Buffer.from([0, 0]) : Buffer.alloc(0);
  return Buffer.concat([Buffer.from([node.tag]), encodeLength(content.length, form), content, tail]);
}

interface Tlv {
  readonly tag: number;
  readonly content: Buffer;
  readonly end: number;
}

function readTlv(bytes: Buffer, offset: number): Tlv | undefined {
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) return undefined;
  let length = first;
  let at = offset + 2;
  if (first & 0x80) {
    const octets = first & 0x7f;
    if (octets === 0 || octets > 4) return undefined;
    length = 0;
    for (let i = 0; i < octets; i++) {
      const b = bytes[at++];
      if (b === undefined) return undefined;
      length = length * 256 + b;
    }
  }
  if (at + length > bytes.length) return undefined;
  return { tag, content: bytes.subarray(at, at + length), end: at + length };
}

function decodeAll(bytes: Buffer, depth: number): DerNode[] | undefined {
  const nodes: DerNode[] = [];
  let at = 0;
  while (at < bytes.length) {
    const tlv = readTlv(bytes, at);
    if (tlv === undefined) return undefined;
    nodes.push(decodeNode(tlv, depth));
    at = tlv.end;
  }
  return nodes;
}

function decodeNode(tlv: Tlv, depth: number): DerNode {
  const { tag, content } = tlv;
  if (depth < MAX_DEPTH && tag & 0x20) {
    const children = decodeAll(content, depth + 1);
    if (children !== undefined) return { tag, children };
  }
  // A BIT STRING with no unused bits or an OCTET STRING may wrap DER (an RSA key, an extension value).
  if (depth < MAX_DEPTH && tag === TAG.BIT_STRING && content[0] === 0 && content[1] === TAG.SEQUENCE) {
    const children = decodeAll(content.subarray(1), depth + 1);
    if (children !== undefined && children.length === 1) return { tag, prefix: Buffer.from([0]), children };
  }
  if (
    depth < MAX_DEPTH &&
    tag === TAG.OCTET_STRING &&
    content.length > 1 &&
    (content[0] === TAG.SEQUENCE || content[0] === TAG.OCTET_STRING)
  ) {
    const children = decodeAll(content, depth + 1);
    if (children !== undefined && children.length === 1) return { tag, children };
  }
  return { tag, content: Buffer.from(content) };
}

/** The tree of one DER value; bytes that do not parse as one TLV become a single opaque leaf. */
export function decodeDer(bytes: Buffer): DerNode {
  const tlv = readTlv(bytes, 0);
  if (tlv === undefined || tlv.end !== bytes.length) return { tag: bytes[0] ?? 0, content: Buffer.from(bytes.subarray(2)) };
  return decodeNode(tlv, 0);
}

/** `inner` wrapped in `depth` constructed TLVs, built from the inside out without recursion. */
export function nestRaw(inner: Buffer, depth: number, tagAt: (level: number) => number): Buffer {
  let bytes = inner;
  for (let level = 0; level < depth; level++) {
    bytes = Buffer.concat([Buffer.from([tagAt(level)]), encodeLength(bytes.length, { kind: 'definite' }), bytes]);
  }
  return bytes;
}

/** Every node of the tree, depth first, with its parent (undefined for the root). */
export function walk(root: DerNode): { node: DerNode; parent: DerNode | undefined }[] {
  const out: { node: DerNode; parent: DerNode | undefined }[] = [];
  const visit = (node: DerNode, parent: DerNode | undefined): void => {
    out.push({ node, parent });
    for (const child of node.children ?? []) visit(child, node);
  };
  visit(root, undefined);
  return out;
}

export function cloneDer(node: DerNode): DerNode {
  const copy: DerNode = { tag: node.tag };
  if (node.children !== undefined) copy.children = node.children.map(cloneDer);
  if (node.content !== undefined) copy.content = Buffer.from(node.content);
  if (node.prefix !== undefined) copy.prefix = Buffer.from(node.prefix);
  if (node.length !== undefined) copy.length = node.length;
  if (node.raw !== undefined) copy.raw = node.raw;
  return copy;
}
