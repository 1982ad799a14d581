/**
 * An SvidApi that refuses everything, for building the app only to render
 * its OpenAPI document (http/openapi-generate.ts stubDeps): the SVID routes
 * are registered only when an SvidApi is given.
 */
import { DomainError } from '../../../shared/errors.js';
import type { SvidApi } from '../../../svid/index.js';

function refuse(): Promise<never> {
  return Promise.reject(new DomainError('notFound', 'the SVID service is a stub here'));
}

export const svidApiStub: SvidApi = {
  issueX509: refuse,
  issueX509Batch: refuse,
  issueJwt: refuse,
  attestJoinToken: refuse,
  createJoinToken: refuse,
  listJoinTokens: refuse,
  revokeJoinToken: refuse,
  createEntry: refuse,
  getEntry: refuse,
  listEntries: refuse,
  updateEntry: refuse,
  deleteEntry: refuse,
  jwtAuthorities: () => [],
};
