/**
 * Name constraints (RFC 5280 §4.2.1.10): whether one name of a certificate
 * lies within a GeneralSubtree base, and the verdict on all of a
 * certificate's names under one NameConstraints extension.
 */
import { formatIpAddress } from './ip.js';
import { uriHost } from './names.js';

/** A Name as DER plus its RDNs (each RDN's DER), for prefix checks. */
export interface DistinguishedName {
  readonly der: Buffer;
  readonly rdns: readonly Buffer[];
}

/** GeneralName (RFC 5280 §4.2.1.6); forms we do not process keep only their tag. */
export type GeneralName =
  | { readonly kind: 'dNSName'; readonly value: string }
  | { readonly kind: 'uniformResourceIdentifier'; readonly value: string }
  /** 4 or 16 octets in a SAN; 8 or 32 (address then mask) in name constraints. */
  | { readonly kind: 'iPAddress'; readonly value: Buffer }
  | { readonly kind: 'directoryName'; readonly value: DistinguishedName }
  | { readonly kind: 'other'; readonly tag: number };

/** A GeneralName of a form we process. */
export type NameOfForm = Exclude<GeneralName, { readonly kind: 'other' }>;

export interface NameConstraints {
  readonly permitted: readonly GeneralName[];
  readonly excluded: readonly GeneralName[];
}

/** §4.2.1.10 dNSName: the name with zero or more labels added on the left; "" permits every name. */
export function dnsWithin(name: string, constraint: string): boolean {
  const n = name.toLowerCase();
  const c = constraint.toLowerCase();
  if (c === '') return true;
  // A leading period (a common extension, as in Go) means subdomains only.
  if (c.startsWith('.')) return n.endsWith(c);
  return n === c || n.endsWith(`.${c}`);
}

/** §4.2.1.10 URI: ".example.com" is any subdomain; "host.example.com" exactly that host. */
export function uriWithin(host: string, constraint: string): boolean {
  const c = constraint.toLowerCase();
  return c.startsWith('.') ? host.endsWith(c) : host === c;
}

/** §4.2.1.10 iPAddress: the constraint is address then mask (8 or 32 octets); families never match each other. */
export function ipWithin(address: Uint8Array, constraint: Uint8Array): boolean {
  const size = constraint.byteLength / 2;
  if (address.byteLength !== size) return false;
  for (let i = 0; i < size; i++) {
    const mask = constraint[size + i] ?? 0;
    if (((address[i] ?? 0) & mask) !== ((constraint[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** §4.2.1.10 directoryName: the constraint's RDNs are a prefix of the name's. */
export function directoryWithin(name: DistinguishedName, constraint: DistinguishedName): boolean {
  if (constraint.rdns.length > name.rdns.length) return false;
  return constraint.rdns.every((rdn, i) => {
    const other = name.rdns[i];
    return other !== undefined && rdn.equals(other);
  });
}

export function nameWithin(name: NameOfForm, base: GeneralName): boolean {
  switch (name.kind) {
    case 'dNSName':
      return base.kind === 'dNSName' && dnsWithin(name.value, base.value);
    case 'uniformResourceIdentifier': {
      if (base.kind !== 'uniformResourceIdentifier') return false;
      // §4.2.1.10: a URI without a host (or with an IP literal) cannot satisfy a URI constraint.
      const host = uriHost(name.value);
      return host !== undefined && uriWithin(host, base.value);
    }
    case 'iPAddress':
      return base.kind === 'iPAddress' && ipWithin(name.value, base.value);
    case 'directoryName':
      return base.kind === 'directoryName' && directoryWithin(name.value, base.value);
    default: {
      const never: never = name;
      return never;
    }
  }
}

function describeName(name: NameOfForm): string {
  if (name.kind === 'iPAddress') return formatIpAddress(name.value) ?? name.value.toString('hex');
  return name.kind === 'directoryName' ? 'subject' : name.value;
}

/**
 * The first problem with `names` under `constraints`, or undefined when all
 * pass. `otherTags` are the tags of SAN forms we do not interpret.
 */
export function constraintViolation(
  names: readonly NameOfForm[],
  otherTags: readonly number[],
  constraints: NameConstraints,
): string | undefined {
  for (const name of names) {
    // §4.2.1.10: a name within any excluded subtree is invalid, whatever the permitted subtrees say.
    if (constraints.excluded.some((base) => nameWithin(name, base))) return `${describeName(name)} is excluded`;
    const permitted = constraints.permitted.filter((base) => base.kind === name.kind);
    if (permitted.length > 0 && !permitted.some((base) => nameWithin(name, base))) return `${describeName(name)} is not permitted`;
  }
  // §4.2.1.10: a constrained name form we cannot process means we MUST reject certificates carrying it.
  for (const tag of otherTags) {
    const isConstrained = [...constraints.permitted, ...constraints.excluded].some((b) => b.kind === 'other' && b.tag === tag);
    if (isConstrained) return `cannot check names of tag 0x${tag.toString(16)}`;
  }
  return undefined;
}
