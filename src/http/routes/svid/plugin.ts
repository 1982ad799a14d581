/**
 * The SVID front end over HTTP (/work/briefs/wire-svid.md): X.509- and
 * JWT-SVIDs for workloads, join-token attestation for nodes
 * (issue-routes.ts), registration entries and join tokens for operators
 * (entry-routes.ts, token-routes.ts).
 * Every rule lives in the SvidApi (src/svid); these handlers only convert
 * the wire form and name the caller.
 */
import type { FastifyInstance } from 'fastify';
import type { SvidApi } from '../../../svid/index.js';
import { registerEntryRoutes } from './entry-routes.js';
import { registerIssueRoutes } from './issue-routes.js';
import { registerTokenRoutes } from './token-routes.js';

export { BATCH_BODY_LIMIT, BATCH_PATH } from './issue-routes.js';

export function registerSvidRoutes(app: FastifyInstance, svid: SvidApi): void {
  registerIssueRoutes(app, svid);
  registerEntryRoutes(app, svid);
  registerTokenRoutes(app, svid);
}
