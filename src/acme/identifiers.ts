/**
 * newOrder identifiers (RFC 8555 §7.1.4, §9.7.7; RFC 8738 for ip): normalize,
 * then check against the policy. Deny by default: with nothing configured
 * every identifier is refused, and the detail names the setting to change.
 */
import { BlockList, isIP } from 'node:net';
import { isDomainError } from '../shared/errors.js';
import type { AcmeIdentifierRecord } from '../domain/acme.js';
import { normalizeDnsName, normalizeIpAddress } from '../x509/index.js';
import type { AcmePolicy } from './ports.js';
import { AcmeProblemError, type AcmeErrorType, type Subproblem } from './problems.js';

export const MAX_IDENTIFIERS = 100;

/** What an authorization is for: the name without its wildcard label. */
export interface AuthorizationTarget {
  readonly identifier: AcmeIdentifierRecord;
  readonly isWildcard: boolean;
}

export class IdentifierPolicy {
  private readonly suffixes: readonly string[];
  private readonly ranges: BlockList;
  private readonly hasRanges: boolean;

  constructor(policy: AcmePolicy) {
    this.suffixes = policy.allowedSuffixes.map((suffix) => normalizeDnsName(suffix.replace(/^\.+/, '')));
    this.ranges = new BlockList();
    for (const cidr of policy.allowedIpRanges) addRange(this.ranges, cidr);
    this.hasRanges = policy.allowedIpRanges.length > 0;
  }

  /**
   * Normalizes and checks every identifier; refusals are collected per
   * identifier (RFC 8555 §6.7.1 subproblems) and thrown together.
   */
  check(raw: readonly { readonly type: string; readonly value: string }[]): AcmeIdentifierRecord[] {
    if (raw.length === 0) throw new AcmeProblemError('malformed', 'an order needs at least one identifier');
    if (raw.length > MAX_IDENTIFIERS)
      throw new AcmeProblemError('rejectedIdentifier', `an order may name at most ${MAX_IDENTIFIERS} identifiers`);
    const accepted = new Map<string, AcmeIdentifierRecord>();
    const refused: Subproblem[] = [];
    for (const item of raw) {
      const shown = { type: item.type === 'ip' ? 'ip' : 'dns', value: item.value.slice(0, 253) } as const;
      try {
        const identifier = this.checkOne(item);
        accepted.set(`${identifier.type}:${identifier.value}`, identifier);
      } catch (error) {
        refused.push({ ...refusalOf(error), identifier: shown });
      }
    }
    if (refused.length > 0) throw combined(refused);
    return [...accepted.values()];
  }

  private checkOne(item: { readonly type: string; readonly value: string }): AcmeIdentifierRecord {
    switch (item.type) {
      case 'dns': {
        // RFC 8738 §3: an address goes in an ip identifier, never a dns one.
        if (isIP(item.value) !== 0)
          throw new AcmeProblemError('rejectedIdentifier', `"${item.value}" is an IP address: use an identifier of type ip`);
        const name = normalizeDnsName(item.value, { allowWildcard: true });
        const base = name.startsWith('*.') ? name.slice(2) : name;
        if (!this.isAllowedName(base)) {
          throw new AcmeProblemError(
            'rejectedIdentifier',
            this.suffixes.length === 0
              ? `no DNS names are allowed: set KEYSMITH_ACME_ALLOWED_SUFFIXES to the domains keysmith may issue for`
              : `"${name}" is not under an allowed suffix (KEYSMITH_ACME_ALLOWED_SUFFIXES: ${this.suffixes.join(', ')})`,
          );
        }
        return { type: 'dns', value: name };
      }
      case 'ip': {
        const address = normalizeIpAddress(item.value);
        const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
        if (!this.hasRanges || !this.ranges.check(address, family)) {
          throw new AcmeProblemError(
            'rejectedIdentifier',
            this.hasRanges
              ? `${address} is outside the allowed ranges (KEYSMITH_ACME_ALLOWED_IP_RANGES)`
              : 'no IP addresses are allowed: set KEYSMITH_ACME_ALLOWED_IP_RANGES to the CIDRs keysmith may issue for',
          );
        }
        return { type: 'ip', value: address };
      }
      default:
        throw new AcmeProblemError(
          'unsupportedIdentifier',
          `identifier type '${item.type.slice(0, 32)}' is not supported (dns and ip are)`,
        );
    }
  }

  private isAllowedName(name: string): boolean {
    return this.suffixes.some((suffix) => name === suffix || name.endsWith(`.${suffix}`));
  }
}

/** Order identifier -> authorization target: '*.x' is authorized as x (RFC 8555 §7.1.3 wildcard). */
export function authorizationTarget(identifier: AcmeIdentifierRecord): AuthorizationTarget {
  if (identifier.type === 'dns' && identifier.value.startsWith('*.')) {
    return { identifier: { type: 'dns', value: identifier.value.slice(2) }, isWildcard: true };
  }
  return { identifier, isWildcard: false };
}

function addRange(list: BlockList, cidr: string): void {
  const [address = '', prefixText] = cidr.trim().split('/');
  const version = isIP(address);
  const maxPrefix = version === 6 ? 128 : 32;
  const prefix = prefixText === undefined ? maxPrefix : Number(prefixText);
  if (version === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix) {
    throw new Error(`ACME allowed IP range "${cidr}" is not a CIDR (address/prefix)`);
  }
  list.addSubnet(address, prefix, version === 6 ? 'ipv6' : 'ipv4');
}

function refusalOf(error: unknown): { type: AcmeErrorType; detail: string } {
  if (error instanceof AcmeProblemError) return { type: error.type, detail: error.detail };
  if (isDomainError(error)) return { type: error.kind === 'rejectedIdentifier' ? 'rejectedIdentifier' : 'malformed', detail: error.detail };
  throw error;
}

/** One refusal keeps its own type; several of one type share it; a mix is compound (RFC 8555 §6.7.1). */
function combined(refused: readonly Subproblem[]): AcmeProblemError {
  const [first] = refused;
  if (refused.length === 1 && first !== undefined) return new AcmeProblemError(first.type, first.detail, { subproblems: refused });
  const types = new Set(refused.map((s) => s.type));
  const [only] = types;
  const type = types.size === 1 && only !== undefined ? only : 'compound';
  return new AcmeProblemError(type, `${refused.length} identifiers were refused; see subproblems`, { subproblems: refused });
}
