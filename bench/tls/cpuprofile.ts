/**
 * Reads a V8 .cpuprofile (from `node --cpu-prof`) and ranks functions by
 * self time and by total (inclusive) time, mapping compiled dist/ locations
 * back to the TypeScript sources through the emitted source maps.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileEntry {
  readonly name: string;
  /** src/tls/handshake/server/flight.ts:123, node:internal/..., or a V8 category like (garbage collector). */
  readonly location: string;
  readonly selfMs: number;
  readonly totalMs: number;
  readonly selfShare: number;
  readonly totalShare: number;
}

/** Time of a src/ function plus everything it calls outside src/ (node:crypto, Buffer, streams). */
export interface ChargedEntry {
  readonly name: string;
  readonly location: string;
  readonly chargedMs: number;
  readonly share: number;
  /** The biggest non-src callees charged here, e.g. "Hmac 195 ms". */
  readonly topCallees: readonly { readonly name: string; readonly ms: number }[];
}

export interface ProfileSummary {
  /** Sampled time the process was not idle, in ms. */
  readonly busyMs: number;
  readonly bySelf: readonly ProfileEntry[];
  /** Self time summed per file (ours only), for a coarse picture. */
  readonly byFile: readonly { readonly file: string; readonly selfMs: number; readonly share: number }[];
  /** Self time charged to the innermost src/ frame on the stack. */
  readonly charged: readonly ChargedEntry[];
}

function isProfile(value: unknown): value is CpuProfile {
  const v = value as Partial<CpuProfile> | null;
  return typeof v === 'object' && v !== null && Array.isArray(v.nodes) && Array.isArray(v.samples) && Array.isArray(v.timeDeltas);
}

function isMapping(value: object): value is { originalSource: string; originalLine: number } {
  return 'originalSource' in value && 'originalLine' in value;
}

export function analyzeProfile(path: string, repoRoot: string): ProfileSummary {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isProfile(parsed)) throw new Error(`${path} is not a V8 cpuprofile`);
  const profile = parsed;

  const maps = new Map<string, SourceMap | undefined>();
  const sourceMapFor = (file: string): SourceMap | undefined => {
    if (!maps.has(file)) {
      const mapPath = `${file}.map`;
      let map: SourceMap | undefined;
      if (existsSync(mapPath)) {
        try {
          map = new SourceMap(JSON.parse(readFileSync(mapPath, 'utf8')) as SourceMapPayload);
        } catch {
          map = undefined;
        }
      }
      maps.set(file, map);
    }
    return maps.get(file);
  };

  const locate = (frame: CallFrame): string => {
    if (frame.url === '') return frame.functionName.startsWith('(') ? '' : '(native)';
    if (!frame.url.startsWith('file://')) return `${frame.url}:${frame.lineNumber + 1}`;
    const file = fileURLToPath(frame.url);
    const map = sourceMapFor(file);
    if (map !== undefined) {
      const entry = map.findEntry(frame.lineNumber, frame.columnNumber);
      if (isMapping(entry)) {
        const original = resolve(dirname(file), entry.originalSource.replace(/^file:\/\//, ''));
        return `${relative(repoRoot, original)}:${entry.originalLine + 1}`;
      }
    }
    return `${relative(repoRoot, file)}:${frame.lineNumber + 1}`;
  };

  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);

  // Self time per node: each sample owns the interval up to the next sample.
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }

  const keyOf = (node: ProfileNode): string => `${node.callFrame.functionName || '(anonymous)'}\u0000${locate(node.callFrame)}`;
  const selfByKey = new Map<string, number>();
  const totalByKey = new Map<string, number>();
  let idleUs = 0;
  let allUs = 0;

  // Walk the tree once: inclusive time per node, credited once per key on a path (recursion-safe).
  const root = profile.nodes[0];
  if (root === undefined) throw new Error('empty profile');
  const chargedByKey = new Map<string, number>();
  const calleesByKey = new Map<string, Map<string, number>>();
  const walk = (node: ProfileNode, onPath: Set<string>, owner: string | undefined): number => {
    const key = keyOf(node);
    const self = selfUs.get(node.id) ?? 0;
    const isOurs = locate(node.callFrame).startsWith('src/');
    const charge = isOurs ? key : owner;
    if (charge !== undefined && self > 0) {
      chargedByKey.set(charge, (chargedByKey.get(charge) ?? 0) + self);
      if (!isOurs) {
        const callees = calleesByKey.get(charge) ?? new Map<string, number>();
        const name = node.callFrame.functionName || '(anonymous)';
        callees.set(name, (callees.get(name) ?? 0) + self);
        calleesByKey.set(charge, callees);
      }
    }
    if (node.callFrame.functionName === '(idle)') idleUs += self;
    allUs += self;
    selfByKey.set(key, (selfByKey.get(key) ?? 0) + self);
    const isFirst = !onPath.has(key);
    if (isFirst) onPath.add(key);
    let total = self;
    for (const childId of node.children ?? []) {
      const child = byId.get(childId);
      if (child !== undefined) total += walk(child, onPath, charge);
    }
    if (isFirst) {
      onPath.delete(key);
      totalByKey.set(key, (totalByKey.get(key) ?? 0) + total);
    }
    return total;
  };
  walk(root, new Set(), undefined);

  const busyUs = Math.max(1, allUs - idleUs);
  const entries: ProfileEntry[] = [];
  for (const [key, self] of selfByKey) {
    const [name, location] = key.split('\u0000') as [string, string];
    if (name === '(idle)' || name === '(root)') continue;
    const total = totalByKey.get(key) ?? self;
    entries.push({ name, location, selfMs: self / 1000, totalMs: total / 1000, selfShare: self / busyUs, totalShare: total / busyUs });
  }
  entries.sort((a, b) => b.selfMs - a.selfMs);

  const files = new Map<string, number>();
  for (const e of entries) {
    if (!e.location.startsWith('src/')) continue;
    const file = e.location.replace(/:\d+$/, '');
    files.set(file, (files.get(file) ?? 0) + e.selfMs);
  }
  const byFile = [...files]
    .map(([file, selfMs]) => ({ file, selfMs, share: (selfMs * 1000) / busyUs }))
    .sort((a, b) => b.selfMs - a.selfMs);

  const charged: ChargedEntry[] = [...chargedByKey]
    .map(([key, us]) => {
      const [name, location] = key.split('\u0000') as [string, string];
      const topCallees = [...(calleesByKey.get(key) ?? new Map<string, number>())]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([callee, calleeUs]) => ({ name: callee, ms: calleeUs / 1000 }));
      return { name, location, chargedMs: us / 1000, share: us / busyUs, topCallees };
    })
    .sort((a, b) => b.chargedMs - a.chargedMs);

  return { busyMs: busyUs / 1000, bySelf: entries, byFile, charged };
}
