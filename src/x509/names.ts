import { DomainError } from '../shared/errors.js';

/** One attribute of a distinguished name, in DER order (most significant first). */
export interface NameAttribute {
  readonly type: 'CN' | 'O' | 'OU';
  readonly value: string;
}
export type DistinguishedName = readonly NameAttribute[];

// RFC 5280 Appendix A: ub-common-name, ub-organization-name, ub-organizational-unit-name.
export const NAME_ATTRIBUTE_MAX_LENGTH: Readonly<Record<NameAttribute['type'], number>> = { CN: 64, O: 64, OU: 64 };

// DNS and IP syntax live in pkix, the one parser of each; re-exported for x509's callers.
export { ipToOctets, normalizeDnsName, normalizeIpAddress, octetsToIp } from '../pkix/index.js';

/** Checks each attribute's length bound and that the value is not empty. */
export function checkDistinguishedName(name: DistinguishedName): void {
  for (const attribute of name) {
    const max = NAME_ATTRIBUTE_MAX_LENGTH[attribute.type];
    if (attribute.value.length === 0 || attribute.value.length > max) {
      throw new DomainError('malformed', `subject ${attribute.type} must be 1 to ${max} characters`);
    }
  }
}
