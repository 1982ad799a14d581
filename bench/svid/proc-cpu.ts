/**
 * CPU time of other processes, read from /proc/<pid>/stat (Linux): what lets
 * the bench say where a configuration's CPU goes (keysmith nodes, the
 * PostgreSQL processes, HAProxy) instead of only the node's own view.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of utime/stime (USER_HZ; 100 on every Linux we run on, asked of getconf). */
const TICKS_PER_SECOND = ((): number => {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const value = Number(result.stdout.trim());
  return result.status === 0 && Number.isFinite(value) && value > 0 ? value : 100;
})();

interface ProcStat {
  readonly ppid: number;
  /** utime + stime of the process (all its threads), seconds. */
  readonly ownSeconds: number;
  /** cutime + cstime: children it has waited for (a backend that ended mid-window lands here). */
  readonly reapedChildrenSeconds: number;
}

/** Fields of /proc/<pid>/stat (or of one thread: /proc/<pid>/task/<tid>/stat), or undefined when it is gone. */
function procStat(pid: number, tid?: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17); index = field - 3.
  const field = (n: number): number => Number(fields[n - 3] ?? 0);
  return {
    ppid: field(4),
    ownSeconds: (field(14) + field(15)) / TICKS_PER_SECOND,
    reapedChildrenSeconds: (field(16) + field(17)) / TICKS_PER_SECOND,
  };
}

/** utime + stime of these processes, summed (a process that is gone counts 0). */
export function processesCpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (procStat(pid)?.ownSeconds ?? 0), 0);
}

/**
 * CPU of each process's main thread (thread id = pid): for a node, its event
 * loop. Near 1 s per second, the event loop is what bounds the node, whatever
 * the other core is doing.
 */
export function mainThreadCpuSeconds(pids: readonly number[]): number[] {
  return pids.map((pid) => procStat(pid, pid)?.ownSeconds ?? 0);
}

/** The parent of a process, or undefined when it is not on this host's /proc. */
export function parentOf(pid: number): number | undefined {
  return procStat(pid)?.ppid;
}

/** Live children of `pid` (the postmaster's backends and background workers; as `pgrep -P` lists them). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat?.ppid === pid) children.push(Number(name));
  }
  return children;
}

/**
 * CPU of a PostgreSQL server: the postmaster, every live child (backends,
 * WAL writer, checkpointer, autovacuum) and the children it reaped, so that
 * a backend ending inside a window is not lost.
 */
export function postgresCpuSeconds(postmasterPid: number): number {
  const postmaster = procStat(postmasterPid);
  if (postmaster === undefined) return 0;
  return postmaster.ownSeconds + postmaster.reapedChildrenSeconds + processesCpuSeconds(childrenOf(postmasterPid));
}

/**
 * Busy CPU seconds of the whole machine (every core: user, nice, system and
 * steal from /proc/stat's first line): less what the bench's own processes
 * used, it is what other tenants of a shared VM took in a window. Interrupt
 * and softirq time are left out: on loopback much of it is the bench's own
 * packets, which no process is charged for.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '';
  const [, user = 0, nice = 0, system = 0, , , , , steal = 0] = line.trim().split(/\s+/).map(Number);
  return (user + nice + system + steal) / TICKS_PER_SECOND;
}
