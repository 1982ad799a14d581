/** Messages between bench/ocsp/run.ts and its forked server. */
export type ServerMessage =
  | { readonly type: 'ready'; readonly port: number; readonly bundlePem: string; readonly leafDer: string; readonly issuerDer: string }
  | { readonly type: 'cpu'; readonly seconds: number };

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
  return type === 'ready' || type === 'cpu';
}
