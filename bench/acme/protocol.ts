/** Messages between bench/acme/run.ts and its forked server (server.ts). */

export type ServerMessage =
  | {
      readonly type: 'ready';
      readonly port: number;
      readonly bundlePem: string;
      readonly backend: 'sqlite' | 'postgres';
    }
  /** One finished validation, as the server's onValidated hook saw it. */
  | { readonly type: 'validated'; readonly challengeId: string; readonly ok: boolean; readonly durationMs: number }
  /** The server process's CPU (all its threads) since the last 'window-start'. */
  | { readonly type: 'window'; readonly cpuSeconds: number };

export type ParentMessage = { readonly type: 'window-start' } | { readonly type: 'window-end' } | { readonly type: 'stop' };

function typeOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null && 'type' in value ? value.type : undefined;
}

export function isParentMessage(value: unknown): value is ParentMessage {
  const type = typeOf(value);
  return type === 'window-start' || type === 'window-end' || type === 'stop';
}

export function isServerMessage(value: unknown): value is ServerMessage {
  const type = typeOf(value);
  return type === 'ready' || type === 'validated' || type === 'window';
}
