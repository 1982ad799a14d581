/** The measured window both forked-server benches run: warm-up, then timed traffic bracketed by messages to the server. */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface WindowTiming {
  readonly wallSeconds: number;
  /** CPU this process (the load generator) used inside the window. */
  readonly loadCpuSeconds: number;
}

/**
 * Lets the load run `warmupSeconds` unmeasured, then `seconds` measured:
 * `state.measuring` is true only inside the window, which `start` and `end`
 * announce to the server (so it can take its own CPU over the same span).
 */
export async function measuredWindow(options: {
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly state: { measuring: boolean };
  start(): void;
  end(): void;
}): Promise<WindowTiming> {
  await sleep(options.warmupSeconds * 1000);
  options.start();
  const loadCpu = process.cpuUsage();
  const started = performance.now();
  options.state.measuring = true;
  await sleep(options.seconds * 1000);
  options.state.measuring = false;
  const wallSeconds = (performance.now() - started) / 1000;
  const loadUsed = process.cpuUsage(loadCpu);
  options.end();
  return { wallSeconds, loadCpuSeconds: (loadUsed.user + loadUsed.system) / 1e6 };
}
