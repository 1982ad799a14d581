/*
 * The messages between the event loop and a crypto worker (pool.ts,
 * worker.ts). Everything is structured-clonable data: strings, byte arrays,
 * numbers, one Map, and the issuer's KeyObjects (which node:worker_threads
 * clones). Nothing with methods crosses.
 */
import { DomainError, type DomainErrorKind } from '../../shared/errors.js';
import type { ParsedCsr } from '../csr.js';
import type { PolicyKey } from '../key-policy.js';
import type { LeafExpectation, LeafSigningKeys } from '../leaf-signer.js';

/** One unit of work. */
export type CryptoJob =
  /** parseCsr: bounded DER parse, our key policy, then node:crypto's import and verify (csr.ts). */
  | { readonly kind: 'csr'; readonly csr: string | Uint8Array }
  /** Sign a leaf's TBS with issuer `issuer` and check what was signed (leaf-signer.ts). */
  | { readonly kind: 'leaf'; readonly issuer: number; readonly tbs: Uint8Array; readonly expected: LeafExpectation };

export type ToWorker =
  /** Sent to a worker before the first job that names `issuer`; a worker keeps every issuer it was given. */
  | { readonly type: 'issuer'; readonly issuer: number; readonly keys: LeafSigningKeys }
  /** Several jobs in one message, so the hop is paid once for all of them; answered by one or more `FromWorker`s, in order. */
  | { readonly type: 'jobs'; readonly batch: number; readonly jobs: readonly CryptoJob[] }
  /** Throw `message` uncaught, as a bug in the worker would (pool.ts failWorker: tests and diagnostics). */
  | { readonly type: 'fail'; readonly message: string };

/** A CSR job's answer: the parsed request, and the key as the policy read it (so the event loop need not check it again). */
export interface CheckedCsr {
  readonly csr: ParsedCsr;
  readonly policyKey: PolicyKey;
}

export type JobOutcome = { readonly ok: true; readonly value: CheckedCsr | Uint8Array } | { readonly ok: false; readonly error: WireError };

export interface FromWorker {
  readonly batch: number;
  /** The outcomes of the batch's next jobs, in the order of the jobs: a worker answers a long batch in slices, so the first jobs' callers need not wait for the last. */
  readonly outcomes: readonly JobOutcome[];
}

/** An error as it crosses: a DomainError keeps its kind, detail and retry hint; anything else keeps its message. */
export type WireError =
  | { readonly domain: { readonly kind: DomainErrorKind; readonly detail: string; readonly retryAfterSeconds?: number } }
  | { readonly message: string };

export function toWireError(err: unknown): WireError {
  if (err instanceof DomainError) {
    return {
      domain: {
        kind: err.kind,
        detail: err.detail,
        ...(err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds }),
      },
    };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

export function fromWireError(wire: WireError): Error {
  if ('domain' in wire) {
    const { kind, detail, retryAfterSeconds } = wire.domain;
    return new DomainError(kind, detail, retryAfterSeconds === undefined ? {} : { retryAfterSeconds });
  }
  return new Error(wire.message);
}
