/**
 * The parent's requests to a forked bench server that measures its CPU over
 * windows (bench/acme, bench/ocsp): start a window, end it (the child answers
 * with its CPU seconds, all threads), stop.
 */
export type WindowRequest = { readonly type: 'window-start' } | { readonly type: 'window-end' } | { readonly type: 'stop' };

/** The `type` of an IPC message, or undefined when it has none. */
export function messageType(value: unknown): unknown {
  return typeof value === 'object' && value !== null && 'type' in value ? value.type : undefined;
}

export function isWindowRequest(value: unknown): value is WindowRequest {
  const type = messageType(value);
  return type === 'window-start' || type === 'window-end' || type === 'stop';
}

/**
 * Answers the parent's window requests in this child: `reportCpu` gets the CPU
 * seconds of each window; `stop` closes what the child opened, then the
 * process exits (so --cpu-prof writes its profile).
 */
export function answerWindowRequests(options: {
  readonly reportCpu: (cpuSeconds: number) => void;
  readonly stop: () => Promise<void>;
}): void {
  let windowStart = process.cpuUsage();
  process.on('message', (raw: unknown) => {
    if (!isWindowRequest(raw)) return;
    switch (raw.type) {
      case 'window-start':
        windowStart = process.cpuUsage();
        break;
      case 'window-end': {
        const used = process.cpuUsage(windowStart);
        options.reportCpu((used.user + used.system) / 1e6);
        break;
      }
      case 'stop':
        void options.stop().finally(() => process.exit(0));
        break;
      default: {
        const never: never = raw;
        throw new Error(`unknown request ${String(never)}`);
      }
    }
  });
}
