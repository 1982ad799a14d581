/** Messages between bench/ocsp/run.ts and its forked server. */
import { messageType } from '../common/window-requests.js';

export type ServerMessage =
  | { readonly type: 'ready'; readonly port: number; readonly bundlePem: string; readonly leafDer: string; readonly issuerDer: string }
  | { readonly type: 'cpu'; readonly seconds: number };

export type { WindowRequest as ParentMessage } from '../common/window-requests.js';

export function isServerMessage(value: unknown): value is ServerMessage {
  const type = messageType(value);
  return type === 'ready' || type === 'cpu';
}
