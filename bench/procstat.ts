/*
 * bench/procstat.ts — CPU time and memory of a process tree, from /proc (Linux only).
 *
 * CPU of a tree = for every live process in it, its own utime+stime plus cutime+cstime (the time
 * of its children that have exited and been reaped). A Postfix smtpd that exits during the run
 * is thus still counted, through master's cutime. Measured before and after a run; the
 * difference is the CPU the system under test spent on it.
 *
 * Memory: RSS summed over the tree (what `ps` shows; counts shared pages once per process, so it
 * overstates multi-process systems such as Postfix) and PSS from smaps_rollup (shared pages
 * divided among their users: the fairer sum). Peaks come from sampling every `intervalMs`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
const PAGE = (() => {
  try {
    return Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;
  } catch {
    return 4096;
  }
})();

interface Stat {
  pid: number;
  ppid: number;
  state: string;
  /** utime+stime, clock ticks */
  self: number;
  /** cutime+cstime, clock ticks */
  children: number;
  rssBytes: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const f = s.slice(close + 2).split(' '); // f[0] = field 3 (state)
    return {
      pid,
      ppid: Number(f[1]),
      state: f[0] ?? '?',
      self: Number(f[11]) + Number(f[12]),
      children: Number(f[13]) + Number(f[14]),
      rssBytes: Number(f[21]) * PAGE,
    };
  } catch {
    return undefined;
  }
}

/** Pids of `root` and all its descendants (live or zombie). */
export function treePids(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (!st) continue;
    const list = byParent.get(st.ppid) ?? [];
    list.push(st.pid);
    byParent.set(st.ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop()!;
    out.push(p);
    for (const c of byParent.get(p) ?? []) stack.push(c);
  }
  return out;
}

/** CPU milliseconds spent so far by the tree under `root` (see the module comment). */
export function treeCpuMs(root: number): number {
  let ticks = 0;
  for (const pid of treePids(root)) {
    const st = readStat(pid);
    if (st) ticks += st.self + st.children;
  }
  return (ticks * 1000) / CLK_TCK;
}

function pssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface Memory {
  rssBytes: number;
  pssBytes: number;
  processes: number;
}

/** Current memory of the tree under `root` (zombies excluded). */
export function treeMemory(root: number): Memory {
  let rss = 0;
  let pss = 0;
  let n = 0;
  for (const pid of treePids(root)) {
    const st = readStat(pid);
    if (!st || st.state === 'Z') continue;
    rss += st.rssBytes;
    pss += pssBytes(pid);
    n++;
  }
  return { rssBytes: rss, pssBytes: pss, processes: n };
}

/** Samples the tree's memory until stopped; returns the peaks. */
export function sampleMemory(root: number, intervalMs = 200): { stop(): Memory & { peakProcesses: number } } {
  let peak: Memory = { rssBytes: 0, pssBytes: 0, processes: 0 };
  let peakProcesses = 0;
  const take = (): void => {
    const m = treeMemory(root);
    peak = { rssBytes: Math.max(peak.rssBytes, m.rssBytes), pssBytes: Math.max(peak.pssBytes, m.pssBytes), processes: m.processes };
    peakProcesses = Math.max(peakProcesses, m.processes);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { ...peak, peakProcesses };
    },
  };
}
