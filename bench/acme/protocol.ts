/** Messages between bench/acme/run.ts and its forked server (server.ts). */
import { messageType } from '../common/window-requests.js';

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

export type { WindowRequest as ParentMessage } from '../common/window-requests.js';

export function isServerMessage(value: unknown): value is ServerMessage {
  const type = messageType(value);
  return type === 'ready' || type === 'validated' || type === 'window';
}
