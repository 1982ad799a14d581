import { DomainError } from '../shared/errors.js';
import { isPathUnder, parseSpiffeId, type SpiffeId } from '../shared/spiffe-id.js';

// The same paths the Authority's profiles use (src/ca/profiles.ts); svid does not import ca (STYLE §2.3).
const ADMIN_PATH = '/admin';
const NODE_PATH = '/node';

/**
 * The SPIFFE ID rules the SVID front end applies before anything reaches the
 * ledger or the Authority: syntax (`malformed`), then trust domain and path
 * (`rejectedIdentifier`).
 */

/** A valid SPIFFE ID of this trust domain; `what` names the field in the detail. */
export function requireOwnTrustDomain(input: string, trustDomain: string, what: string): SpiffeId {
  const id = parseSpiffeId(input);
  if (id.trustDomain !== trustDomain) throw new DomainError('rejectedIdentifier', `${what} ${input} is not in trust domain ${trustDomain}`);
  return id;
}

/** A workload SPIFFE ID: of this trust domain, with a path, not under /node/ (node identities come only from join tokens or `keysmith issue`). */
export function requireWorkloadId(input: string, trustDomain: string, what = 'SPIFFE ID'): SpiffeId {
  const id = requireOwnTrustDomain(input, trustDomain, what);
  // SPIFFE-ID §2.2: the trust domain's own ID names no workload.
  if (id.path === '')
    throw new DomainError('rejectedIdentifier', `${what} ${input} has no path: it names the trust domain, not a workload`);
  if (isPathUnder(id.path, NODE_PATH)) {
    throw new DomainError('rejectedIdentifier', `${what} ${input}: node identities come only from join tokens or keysmith issue`);
  }
  if (id.path === ADMIN_PATH) throw new DomainError('rejectedIdentifier', `${what} ${input}: admin identities are ${ADMIN_PATH}/<name>`);
  return id;
}

/** A node identity: spiffe://<td>/node/<name...>. */
export function requireNodeId(input: string, trustDomain: string): SpiffeId {
  const id = requireOwnTrustDomain(input, trustDomain, 'SPIFFE ID');
  if (!id.path.startsWith(`${NODE_PATH}/`))
    throw new DomainError('rejectedIdentifier', `${input}: join tokens attest node identities, which lie under ${NODE_PATH}/`);
  return id;
}

/** Whether a workload path names an admin identity (under /admin/<name>). */
export function isAdminPath(path: string): boolean {
  return path.startsWith(`${ADMIN_PATH}/`);
}
