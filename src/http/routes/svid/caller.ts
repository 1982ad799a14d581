import type { FastifyRequest } from 'fastify';
import type { SvidCaller } from '../../../svid/index.js';
import { ProblemError } from '../../problem.js';

/** The verified caller; the `workload` and `admin` policies already refused requests without one. */
export function callerOf(request: FastifyRequest): SvidCaller {
  const principal = request.principal;
  if (principal === undefined) throw new ProblemError('certificateRequired', 'This route requires a client certificate.');
  return principal;
}
