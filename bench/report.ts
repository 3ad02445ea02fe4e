/*
 * bench/report.ts — result types, the console table, and the markdown for docs/benchmarks.md.
 */
import { readFile, writeFile } from 'node:fs/promises';

export interface RunResult {
  driver: 'node' | 'smtp-source';
  messages: number;
  /** Accepted by the system (250 after DATA). */
  accepted: number;
  /** Arrived at the sink. */
  delivered: number;
  errors: number;
  errorSamples: string[];
  /** Every accepted message reached the sink within the time limit. */
  complete: boolean;
  /** First connect → the sink has them all. */
  wallMs: number;
  /** First connect → the last message accepted. */
  acceptMs: number;
  /** delivered / wallMs: end-to-end throughput. */
  msgsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  cpuMsPerMsg: number | null;
  peakRssBytes: number;
  peakPssBytes: number;
  peakProcesses: number;
}

export interface SystemResult {
  name: string;
  version: string;
  runs: RunResult[];
  idleRssBytes?: number;
  idlePssBytes?: number;
  error?: string;
}

export type IdleResult =
  | {
      sessions: number;
      ready: number;
      alive: number;
      openMs: number;
      failures: string[];
      baselineRssBytes: number;
      rssBytes: number;
      pssBytes: number;
      processes: number;
      perSessionKb: number | null;
      limitBytes: number;
      pass: boolean;
    }
  | { sessions: number; error: string };

export interface BenchResults {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; postfix: string };
  params: { messages: number; sessions: number; size: number; warmup: number; reuse: boolean; checks?: boolean; workers: number };
  systems: SystemResult[];
  idle?: IdleResult;
}

const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);
const num = (v: number | null, d = 1): string => (v === null || Number.isNaN(v) ? '–' : v.toFixed(d));

const HEAD = ['system', 'client', 'msgs', 'msgs/s', 'p50 ms', 'p99 ms', 'CPU ms/msg', 'peak RSS MB', 'peak PSS MB', 'procs', 'errors'];

function rows(r: BenchResults): string[][] {
  const out: string[][] = [];
  for (const s of r.systems) {
    if (s.error) {
      out.push([s.name, '–', '–', '–', '–', '–', '–', '–', '–', '–', `not measured: ${s.error}`]);
      continue;
    }
    for (const run of s.runs) {
      out.push([
        s.name,
        run.driver,
        `${run.delivered}/${run.messages}`,
        num(run.msgsPerSec, 0),
        num(run.p50Ms),
        num(run.p99Ms),
        num(run.cpuMsPerMsg, 2),
        mb(run.peakRssBytes),
        mb(run.peakPssBytes),
        String(run.peakProcesses),
        run.errors || !run.complete ? `${run.errors}${run.complete ? '' : ' (incomplete)'}: ${run.errorSamples[0] ?? ''}` : '0',
      ]);
    }
  }
  return out;
}

/** The gateway variants compared with `gateway:policy-off` (issue 5: the policy stage's cost). */
export function variantPairs(r: BenchResults): Array<[string, string]> {
  const base = 'gateway:policy-off';
  if (!r.systems.some((s) => s.name === base && !s.error)) return [];
  return r.systems.filter((s) => s.name.startsWith('gateway') && s.name !== base && !s.error).map((s) => [s.name, base]);
}

/** `a` ÷ `b` (default gateway ÷ postfix) for each metric and client, where both were measured. */
export function ratios(r: BenchResults, a = 'gateway', b = 'postfix'): Array<{ driver: string; metric: string; gateway: number; postfix: number; ratio: number }> {
  const gw = r.systems.find((s) => s.name === a && !s.error);
  const pf = r.systems.find((s) => s.name === b && !s.error);
  if (!gw || !pf) return [];
  const out: Array<{ driver: string; metric: string; gateway: number; postfix: number; ratio: number }> = [];
  for (const g of gw.runs) {
    const p = pf.runs.find((x) => x.driver === g.driver);
    if (!p) continue;
    const add = (metric: string, a: number | null, b: number | null): void => {
      if (a !== null && b !== null && b !== 0 && !Number.isNaN(a) && !Number.isNaN(b)) out.push({ driver: g.driver, metric, gateway: a, postfix: b, ratio: a / b });
    };
    add('msgs/s', g.msgsPerSec, p.msgsPerSec);
    add('p50 ms', g.p50Ms, p.p50Ms);
    add('p99 ms', g.p99Ms, p.p99Ms);
    add('CPU ms/msg', g.cpuMsPerMsg, p.cpuMsPerMsg);
    add('peak RSS', g.peakRssBytes, p.peakRssBytes);
    add('peak PSS', g.peakPssBytes, p.peakPssBytes);
  }
  return out;
}

function idleLines(r: BenchResults): string[] {
  const i = r.idle;
  if (!i) return [];
  if ('error' in i) return [`idle sessions (${i.sessions}): not measured: ${i.error}`];
  return [
    `idle sessions: ${i.ready}/${i.sessions} open after EHLO (${i.alive} still open 2 s later), opened in ${(i.openMs / 1000).toFixed(1)} s`,
    `  gateway RSS ${mb(i.rssBytes)} MB (PSS ${mb(i.pssBytes)} MB, ${i.processes} processes), ${mb(i.baselineRssBytes)} MB before: ${num(i.perSessionKb)} KB per session`,
    `  floor: under ${mb(i.limitBytes)} MB with every session open — ${i.pass ? 'PASS' : 'FAIL'}`,
  ];
}

export function textTable(r: BenchResults): string {
  const all = [HEAD, ...rows(r)];
  const w = HEAD.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)));
  const fmt = (row: string[]): string => row.map((cell, c) => (c >= 2 && c < 10 ? cell.padStart(w[c]!) : cell.padEnd(w[c]!))).join('  ');
  const lines = [fmt(HEAD), w.map((n) => '-'.repeat(n)).join('  '), ...rows(r).map(fmt)];
  const rat = ratios(r);
  if (rat.length > 0) {
    lines.push('', 'gateway / postfix:');
    for (const x of rat) lines.push(`  ${x.driver.padEnd(11)} ${x.metric.padEnd(11)} ${x.ratio.toFixed(2)}×`);
  }
  for (const [a, b] of variantPairs(r)) {
    lines.push('', `${a} / ${b}:`);
    for (const x of ratios(r, a, b).filter((x) => !x.metric.startsWith('peak'))) lines.push(`  ${x.driver.padEnd(11)} ${x.metric.padEnd(11)} ${x.ratio.toFixed(2)}×`);
  }
  const idle = idleLines(r);
  if (idle.length) lines.push('', ...idle);
  return lines.join('\n');
}

export function markdownReport(r: BenchResults): string {
  const m = r.machine;
  const p = r.params;
  const lines = [
    `Run of ${r.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, Node ${m.node}, Postfix ${m.postfix}.`,
    `${p.messages} messages of ${p.size} body bytes per run, ${p.sessions} concurrent sessions, ${p.reuse ? 'many messages per connection' : 'one message per connection'}, after ${p.warmup} warm-up messages; gateway workers: ${p.workers === 0 ? 'one per core' : p.workers}; gateway content checks ${p.checks ? 'on' : 'off'}.`,
    '',
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map((_, i) => (i >= 2 && i < 10 ? '---:' : '---')).join('|')}|`,
    ...rows(r).map((row) => `| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
  ];
  const rat = ratios(r);
  if (rat.length > 0) {
    lines.push('', '| gateway ÷ postfix | client | gateway | postfix | ratio |', '|---|---|---:|---:|---:|');
    for (const x of rat) {
      const f = (v: number): string => (x.metric.startsWith('peak') ? `${mb(v)} MB` : v.toFixed(x.metric === 'CPU ms/msg' ? 2 : 1));
      lines.push(`| ${x.metric} | ${x.driver} | ${f(x.gateway)} | ${f(x.postfix)} | ${x.ratio.toFixed(2)}× |`);
    }
  }
  const pairs = variantPairs(r);
  if (pairs.length > 0) {
    lines.push('', '| variant ÷ gateway:policy-off | client | variant | policy-off | ratio |', '|---|---|---:|---:|---:|');
    for (const [a, b] of pairs) {
      for (const x of ratios(r, a, b).filter((x) => x.metric === 'msgs/s' || x.metric === 'CPU ms/msg' || x.metric.startsWith('p'))) {
        if (x.metric.startsWith('peak')) continue;
        lines.push(`| ${a.replace('gateway:', '') || a} ${x.metric} | ${x.driver} | ${x.gateway.toFixed(x.metric === 'CPU ms/msg' ? 2 : 1)} | ${x.postfix.toFixed(x.metric === 'CPU ms/msg' ? 2 : 1)} | ${x.ratio.toFixed(2)}× |`);
      }
    }
  }
  const idle = idleLines(r);
  if (idle.length) lines.push('', ...idle.map((l) => (l.startsWith('  ') ? `  ${l.trim()}` : `- ${l}`)).map((l) => (l.startsWith('  ') ? `  - ${l.trim()}` : l)));
  return `${lines.join('\n')}\n`;
}

export const RESULTS_START = '<!-- bench:results:start (written by npm run bench) -->';
export const RESULTS_END = '<!-- bench:results:end -->';

/** Replaces the results section of docs/benchmarks.md (appends one if the markers are missing). */
export async function updateDoc(file: string, md: string): Promise<void> {
  const doc = await readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  const block = `${RESULTS_START}\n${md}${RESULTS_END}`;
  const a = doc.indexOf(RESULTS_START);
  const b = doc.indexOf(RESULTS_END);
  const next = a >= 0 && b > a ? `${doc.slice(0, a)}${block}${doc.slice(b + RESULTS_END.length)}` : `${doc.trimEnd()}\n\n## Latest results\n\n${block}\n`;
  await writeFile(file, next);
}
