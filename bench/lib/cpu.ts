/**
 * How much CPU went to processes that are not the benchmark's, during a run.
 * The machine has 2 cores and other work may run on it (builds, tests); a run
 * that shared the CPU with them measures them as much as the service. From
 * /proc: the whole machine's busy time, minus the benchmark's own processes
 * (the servers by PID, this runner and the load generators it has waited for).
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function machineBusyTicks(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return total - cpu[3] - cpu[4];
}

/** utime + stime (+ cutime + cstime: children waited for) of a process, in ticks. */
function processTicks(pid: number | 'self', withChildren: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after the command: state(3) … utime(14) stime(15) cutime(16) cstime(17), here 0-based from state
    const [ut, st, cut, cst] = [f[11], f[12], f[13], f[14]].map(Number);
    return ut + st + (withChildren ? cut + cst : 0);
  } catch {
    return 0;
  }
}

export interface CpuMark {
  at: number;
  busy: number;
  own: number;
  /** ticks per named process */
  procs: Record<string, number>;
}

export function mark(pids: Readonly<Record<string, number>>): CpuMark {
  let own = processTicks('self', true);
  const procs: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    procs[name] = processTicks(pid, false);
    own += procs[name];
  }
  return { at: Date.now(), busy: machineBusyTicks(), own, procs };
}

/** CPU microseconds the named processes used between two marks. */
export function processMicros(a: CpuMark, b: CpuMark, names: readonly string[]): number {
  let t = 0;
  for (const n of names) t += (b.procs[n] ?? 0) - (a.procs[n] ?? 0);
  return (t * 1e6) / TICKS_PER_SECOND;
}

/** CPUs' worth of time used by other processes between two marks (0.5 = half a core). */
export function foreignCores(a: CpuMark, b: CpuMark): number {
  const seconds = (b.at - a.at) / 1000;
  if (seconds <= 0) return 0;
  const foreign = b.busy - a.busy - (b.own - a.own);
  return Math.max(0, foreign / TICKS_PER_SECOND / seconds);
}

/** Cores' worth of time the benchmark's own processes used between two marks. */
export function ownCores(a: CpuMark, b: CpuMark): number {
  const seconds = (b.at - a.at) / 1000;
  return seconds > 0 ? (b.own - a.own) / TICKS_PER_SECOND / seconds : 0;
}

/** Seconds that repeated runs may still add, shared by every measurement of a process. */
export interface RetryBudget {
  seconds: number;
}

/**
 * Runs `run` between two marks; when other processes used more than `maxForeign` cores meanwhile,
 * runs it again (twice at most, while `budget` still holds `costSeconds`). Returns the last attempt.
 */
export async function runQuiet<T>(
  pids: Readonly<Record<string, number>>,
  run: () => Promise<T>,
  o: { maxForeign: number; budget: RetryBudget; costSeconds: number; onDisturbed?: (foreign: number, again: boolean) => void },
): Promise<{ result: T; a: CpuMark; b: CpuMark; foreign: number }> {
  for (let attempt = 0; ; attempt++) {
    const a = mark(pids);
    const result = await run();
    const b = mark(pids);
    const foreign = foreignCores(a, b);
    if (foreign <= o.maxForeign) return { result, a, b, foreign };
    const again = attempt < 2 && o.budget.seconds >= o.costSeconds;
    o.onDisturbed?.(foreign, again);
    if (!again) return { result, a, b, foreign };
    o.budget.seconds -= o.costSeconds;
  }
}
