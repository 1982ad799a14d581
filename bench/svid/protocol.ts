/** Messages between bench/svid/run.ts and its forked server. */
import type { IssueStep } from '../../src/ca/index.js';

export const ISSUE_STEPS: readonly IssueStep[] = ['validate', 'serial', 'build', 'sign', 'check', 'record'];

/** A record with one value per issuance step. */
export function perStep<T>(value: (step: IssueStep) => T): Record<IssueStep, T> {
  return {
    validate: value('validate'),
    serial: value('serial'),
    build: value('build'),
    sign: value('sign'),
    check: value('check'),
    record: value('record'),
  };
}

/** Sum and count of one step's wall times (ms) over a window. */
export interface StepTotal {
  readonly count: number;
  readonly totalMs: number;
}

/** One workload of the fleet loads: its SPIFFE ID and the SVID (chain) and key it presents. */
export interface FleetIdentity {
  readonly spiffeId: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export type ServerMessage =
  | {
      readonly type: 'ready';
      readonly port: number;
      /** The node's data directory (a second node of a cluster starts with a copy of its ca/). */
      readonly dataDir: string;
      readonly backend: 'sqlite' | 'postgres';
      readonly trustDomain: string;
      readonly bundlePem: string;
      /** The bench client's identity: a workload SVID (leaf + intermediate) and its PKCS#8 key. */
      readonly clientId: string;
      readonly clientCertPem: string;
      readonly clientKeyPem: string;
      /** The bootstrap admin identity `serve` made, for POST /v1/entries. */
      readonly adminCertPem: string;
      readonly adminKeyPem: string;
      /** BENCH_IDENTITIES distinct workloads, each allowed to renew its own SPIFFE ID. */
      readonly fleet: readonly FleetIdentity[];
    }
  | { readonly type: 'window'; readonly cpuSeconds: number; readonly steps: Readonly<Record<IssueStep, StepTotal>> }
  | { readonly type: 'calibration'; readonly parseCsrCpuUs: number; readonly samples: number };

export type ParentMessage =
  | { readonly type: 'window-start' }
  | { readonly type: 'window-end' }
  | { readonly type: 'calibrate'; readonly csrs: readonly string[] }
  | { readonly type: 'stop' };

function typeOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null && 'type' in value ? value.type : undefined;
}

export function isParentMessage(value: unknown): value is ParentMessage {
  const type = typeOf(value);
  return type === 'window-start' || type === 'window-end' || type === 'calibrate' || type === 'stop';
}

export function isServerMessage(value: unknown): value is ServerMessage {
  const type = typeOf(value);
  return type === 'ready' || type === 'window' || type === 'calibration';
}
