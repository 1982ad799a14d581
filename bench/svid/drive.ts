/**
 * The load loops of bench/svid: one request in flight per connection. A
 * connection either stays for the whole window (one identity, keep-alive)
 * or, for the fleet loads, is closed after `itemsPerConnection` SVIDs and
 * replaced by a connection presenting the next identity of the fleet, as
 * workloads come and go: no cache keyed by one client helps more than a few
 * requests.
 */
import type { TLSSocket } from 'node:tls';
import { ResponseReader, type HttpResponse } from '../common/http-responses.js';

export interface Totals {
  /** Successful calls (responses) and what they delivered (SVIDs, or responses for the trivial route). */
  calls: number;
  items: number;
  errors: number;
  lastError: string;
  readonly latenciesUs: number[];
}

export interface Lane {
  /** The connection to start with (opened before the window). */
  readonly socket: TLSSocket;
  /** The next request on this lane's current connection. */
  make(): Buffer;
  /** Fleet loads: a connection as the next identity, and that identity's request maker. */
  reopen?(): Promise<Lane>;
}

export interface DriveOptions {
  /** SVIDs a response must carry to count as whole (the batch size, or 1). */
  readonly itemsPerCall: number;
  readonly count: (response: HttpResponse) => number;
  /** Fleet loads: SVIDs after which a lane moves to its next connection; Infinity keeps one connection. */
  readonly itemsPerConnection: number;
}

export function drive(
  lanes: readonly Lane[],
  options: DriveOptions,
  totals: Totals,
  state: { running: boolean; measuring: boolean },
  opened: TLSSocket[],
): Promise<void>[] {
  return lanes.map(
    (first) =>
      new Promise<void>((resolve) => {
        const run = (lane: Lane): void => {
          const { socket } = lane;
          const reader = new ResponseReader();
          let sentAt = 0;
          let served = 0;
          const send = (): void => {
            if (!state.running || socket.destroyed) {
              resolve();
              return;
            }
            if (served >= options.itemsPerConnection && lane.reopen !== undefined) {
              socket.destroy();
              lane.reopen().then(
                (next) => {
                  opened.push(next.socket);
                  run(next);
                },
                (err: unknown) => {
                  totals.errors++;
                  totals.lastError = err instanceof Error ? err.message : String(err);
                  resolve();
                },
              );
              return;
            }
            sentAt = performance.now();
            socket.write(lane.make());
          };
          socket.on('data', (chunk: Buffer) => {
            for (const response of reader.push(chunk)) {
              const items = options.count(response);
              served += Math.max(items, 1);
              if (state.measuring) {
                if (items > 0) {
                  totals.calls++;
                  totals.items += items;
                  totals.latenciesUs.push((performance.now() - sentAt) * 1000);
                }
                if (items < options.itemsPerCall) {
                  totals.errors++;
                  totals.lastError = `${response.status} ${response.body.toString('utf8').slice(0, 200)}`;
                }
              }
              send();
            }
          });
          socket.once('close', () => {
            if (served < options.itemsPerConnection || lane.reopen === undefined) resolve();
          });
          socket.on('error', (err) => {
            totals.errors++;
            totals.lastError = err.message;
          });
          send();
        };
        run(first);
      }),
  );
}
