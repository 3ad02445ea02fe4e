/*
 * bench/bench.ts — the gateway against Postfix, in the same run, on loopback (docs/benchmarks.md).
 *
 *   load generator ──SMTP──► system under test ──SMTP──► smtp-sink (counts, no disk)
 *
 * Systems: a private Postfix instance as a plain relay (default, durable settings), and the
 * gateway (mx listener, relay domain corp.test routed by smtp to the sink, tls none). For each:
 * a warm-up, then a timed run with the node client (latency per message) and a run with
 * smtp-source (raw throughput). Then 1,000 idle sessions to a fresh gateway, to measure memory.
 *
 * Run with `npm run bench` (bench/run.sh builds and calls this); `npm run bench -- --help`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDns, type DnsServer } from '../test/e2e/harness/dns.js';
import { GATEWAY_ENTRY, repoRoot, startGateway } from '../test/e2e/harness/gateway.js';
import { startPostfix } from '../test/e2e/harness/postfix.js';
import { startSink, type Sink } from '../test/e2e/harness/sink.js';
import { Scope, sleep, waitFor, which } from '../test/e2e/harness/util.js';
import { closeAll, openIdleSessions, percentile, runLoad, runSmtpSource } from './load.js';
import { sampleMemory, treeCpuMs, treeMemory } from './procstat.js';
import { markdownReport, textTable, updateDoc, type BenchResults, type RunResult, type SystemResult } from './report.js';

const { values: opt } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    sessions: { type: 'string', default: '20' },
    size: { type: 'string', default: '4096' },
    warmup: { type: 'string', default: '3000' },
    systems: { type: 'string', default: 'postfix,gateway' },
    idle: { type: 'string', default: '1000' },
    'idle-limit-mb': { type: 'string', default: '300' },
    workers: { type: 'string', default: '0' },
    'no-smtp-source': { type: 'boolean', default: false },
    'no-node-client': { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
    checks: { type: 'boolean', default: false },
    'timeout-s': { type: 'string', default: '300' },
    'no-docs': { type: 'boolean', default: false },
    'gateway-entry': { type: 'string', default: GATEWAY_ENTRY },
    'node-args': { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});

/**
 * Gateway variants (`--systems gateway:NAME`): top-level config sections that replace the bench's
 * own, so one run can compare the pipeline with a stage switched off or everything switched on.
 */
const bulk = (n: number, f: (i: number) => string, action: 'allow' | 'deny' | 'score') => Array.from({ length: n }, (_, i) => ({ match: f(i), action }));
const rateWindows = [{ windowMs: 60_000, messages: 1e9, recipients: 1e9 }, { windowMs: 3600_000, messages: 1e9, recipients: 1e9, bytes: 1e15 }];
const policyOff = {
  reputation: { enabled: false },
  greylisting: { enabled: false },
  policy: { hygiene: { heloInvalid: 'off', heloOurs: 'off', rejectBareLf: false } },
};
/** policy-all without the named pieces (to find what a piece costs). */
function policyAll(without: readonly string[]): Record<string, unknown> {
  const on = (piece: string): boolean => !without.includes(piece);
  return {
    policy: {
      access: on('access') ? {
        global: {
          clients: [...bulk(50, (i) => `10.${i}.0.0/16`, 'deny'), ...bulk(20, (i) => `*.pool${i}.example.org`, 'score'), { match: '/^dsl-\\d+\\./', action: 'score' }],
          senders: [...bulk(60, (i) => `spam${i}.test`, 'deny'), ...bulk(10, (i) => `/^bounce-${i}-[0-9a-f]+@/`, 'score')],
          recipients: bulk(60, (i) => `closed${i}@corp.test`, 'deny'),
        },
        domains: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`d${i}.test`, { senders: bulk(5, (j) => `p${j}.test`, 'allow') }])),
        users: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`u${i}@corp.test`, { senders: bulk(1, (j) => `friend${j}.test`, 'allow') }])),
      } : {},
      dnsbl: on('dnsbl') ? { zones: ['bl.bench.test=127.0.0.[2..11]*3', 'combo.bench.test=127.0.0.[2;4]*2', 'wl.bench.test*-1'], threshold: 5 } : {},
      hygiene: { checkPtr: on('ptr') },
      recipientVerification: on('rcpt') ? { domains: { 'corp.test': { method: 'static', users: ['to', ...Array.from({ length: 10_000 }, (_, i) => `u${i}`)] } } } : {},
      senderVerification: { enabled: on('sender') },
    },
    reputation: { enabled: on('reputation') },
    greylisting: on('greylist') ? { enabled: true, atRcpt: 'unknown', delayMs: 1000 } : { enabled: false },
    rateLimits: on('rates') ? { inbound: { clientIp: rateWindows, sender: rateWindows, senderDomain: rateWindows } } : {},
  };
}
const POLICY_PIECES = ['access', 'dnsbl', 'ptr', 'rcpt', 'sender', 'reputation', 'greylist', 'rates'];

const VARIANTS: Record<string, { describe: string; config: Record<string, unknown> }> = {
  'policy-off': { describe: 'no session policy beyond relay access: reputation, greylisting and HELO/bare-LF hygiene off', config: policyOff },
  'policy-all': {
    describe: 'every issue-5 check on: 330 access entries at three levels, 3 DNSBL/DNSWL zones, PTR/FCrDNS, HELO, static recipient list of 10,001 users, sender verification, reputation, greylisting of unknown clients (the bench triplet primed), 3 inbound rate keys x 2 windows; policy-all-PIECE[-PIECE…] leaves pieces out (access, dnsbl, ptr, rcpt, sender, reputation, greylist, rates)',
    config: policyAll([]),
  },
  'rules-off': { describe: 'the rules engine off (no rule directories)', config: { rules: { dirs: [] } } },
  bare: { describe: 'policy-off and rules-off together: the relay path of issue 2', config: { ...policyOff, rules: { dirs: [] } } },
};

if (opt.help) {
  process.stdout.write(`usage: npm run bench -- [options]
  --messages N        messages per timed run (default 5000)
  --sessions N        concurrent client sessions (default 20)
  --size BYTES        body size per message (default 4096)
  --warmup N          messages sent before measuring (default 3000: V8 is still compiling the hot
                      paths after a few hundred; a daemon runs for days)
  --systems LIST      postfix,gateway (default both); gateway:VARIANT is the gateway with one
                      of these config variants (compared with gateway:policy-off):
${Object.entries(VARIANTS).map(([k, v]) => `                        ${k}: ${v.describe}`).join('\n')}
  --idle N            idle sessions to the gateway (default 1000; 0 skips)
  --idle-limit-mb MB  the floor for the idle scenario (default 300)
  --workers N         gateway receiver workers (default 0 = one per core)
  --reuse             the node client sends many messages per connection
  --checks            the gateway with its content checks on (sender authentication…);
                      default off: the core relay scenario of issue 2, like for like with Postfix
  --no-smtp-source    skip the smtp-source throughput runs
  --no-node-client    skip the node client runs (no latency figures)
  --timeout-s S       limit per run (default 300)
  --no-docs           do not rewrite the results section of docs/benchmarks.md
  --node-args=ARGS    Node.js options for the gateway, e.g. --node-args="--cpu-prof --cpu-prof-dir=DIR"
                      (a CPU profile per process; docs/development.md, "Profiling")
  --gateway-entry JS  the daemon's script (default ${GATEWAY_ENTRY}; for testing the bench)
`);
  process.exit(0);
}

const N = Number(opt.messages);
const SESSIONS = Number(opt.sessions);
const SIZE = Number(opt.size);
const WARMUP = Number(opt.warmup);
const TIMEOUT_MS = Number(opt['timeout-s']) * 1000;
const FROM = 'from@bench.test';
const TO = 'to@corp.test';
const root = repoRoot();
const ENTRY = String(opt['gateway-entry']);
const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);

interface SystemUnderTest {
  port: number;
  /** Root of the process tree whose CPU and memory are measured. */
  pid: number;
  version: string;
  /** A graceful stop before the scope's teardown (so `--cpu-prof` profiles get written). */
  stop?: () => Promise<unknown>;
}

/** The zone the gateway's checks may look at: sender domain SPF, the client's PTR. */
const benchZone = {
  a: { 'client.bench.test': '127.0.0.1' },
  ptr: { '127.0.0.1': 'client.bench.test' },
  txt: { 'bench.test': 'v=spf1 ip4:127.0.0.0/8 -all', '_dmarc.bench.test': 'v=DMARC1; p=none' },
  mx: { 'corp.test': 'mx.corp.test', 'bench.test': 'client.bench.test' },
};

function postfixVersion(): string {
  try {
    return execFileSync(which('postconf', 'postfix'), ['-dh', 'mail_version'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

function gatewayVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

function variantConfig(name: string): Record<string, unknown> | undefined {
  if (VARIANTS[name]) return VARIANTS[name].config;
  const m = /^policy-all-(.+)$/.exec(name);
  const without = m?.[1]!.split('-') ?? [];
  return m && without.every((p) => POLICY_PIECES.includes(p)) ? policyAll(without) : undefined;
}

function gatewayConfig(sink: Sink, dns: DnsServer, maxConn = 1000, variant?: string): Record<string, unknown> {
  return {
    hostname: 'gw.bench.test',
    workers: Number(opt.workers),
    listeners: { mx: { kind: 'mx', tls: 'none', maxConnections: maxConn, maxConnectionsPerIp: maxConn } },
    domains: { 'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } } },
    dns: { servers: [dns.server] },
    // The core scenario compares relaying like for like; --checks measures the filtering cost.
    authentication: { enabled: opt.checks },
    spam: { enabled: opt.checks },
    ...(variant ? variantConfig(variant) : {}),
  };
}

async function startSystem(name: string, scope: Scope, sink: Sink): Promise<SystemUnderTest> {
  if (name === 'postfix') {
    const pf = await startPostfix(scope, { relayTo: sink.hostPort, fastRetry: false, myhostname: 'postfix.bench.test' });
    return { port: pf.port, pid: pf.masterPid(), version: `Postfix ${postfixVersion()}` };
  }
  const [base, variant] = name.split(':');
  if (base === 'gateway') {
    if (variant !== undefined && !variantConfig(variant)) throw new Error(`unknown gateway variant ${variant} (${Object.keys(VARIANTS).join(', ')})`);
    if (!existsSync(join(root, ENTRY))) throw new Error(`${ENTRY} is missing: the build produced no daemon`);
    const dns = await startDns(scope, benchZone, { logQueries: false, ttl: 3600 });
    const gw = await startGateway(scope, { entry: ENTRY, config: gatewayConfig(sink, dns, 1000, variant), nodeArgs: String(opt['node-args']).split(' ').filter(Boolean) });
    const port = gw.ports['mx']!;
    if (variant?.startsWith('policy-all') && !variant.split('-').includes('greylist')) {
      // Greylisting of unknown clients: the first attempt of the bench triplet is refused; the
      // retry after the delay passes it, as a regular sender's would have long ago.
      await runLoad({ port, messages: 1, sessions: 1, size: SIZE, from: FROM, to: TO, timeoutMs: TIMEOUT_MS });
      await sleep(1200);
    }
    return { port, pid: gw.pid(), version: `TuxHat ${gatewayVersion()}${variant ? ` (${variant})` : ''}`, stop: () => gw.stop(30_000) };
  }
  throw new Error(`unknown system ${name}`);
}

async function waitForSink(sink: Sink, target: number, what: string): Promise<void> {
  await waitFor(() => sink.count() >= target, {
    timeoutMs: TIMEOUT_MS,
    intervalMs: 20,
    what: `${what}: ${target} messages at the sink`,
    detail: () => `the sink has ${sink.count()}`,
  });
}

async function measure(driver: 'node' | 'smtp-source', sys: SystemUnderTest, sink: Sink): Promise<RunResult> {
  const base = sink.count();
  const cpu0 = treeCpuMs(sys.pid);
  const mem = sampleMemory(sys.pid);
  const t0 = performance.now();
  let sent = 0;
  let errors = 0;
  let errorSamples: string[] = [];
  let lat: number[] = [];
  let acceptMs = 0;
  if (driver === 'node') {
    const r = await runLoad({ port: sys.port, messages: N, sessions: SESSIONS, size: SIZE, from: FROM, to: TO, reuse: opt.reuse, timeoutMs: TIMEOUT_MS });
    sent = r.sent;
    errors = r.errors;
    errorSamples = r.errorSamples;
    lat = r.latenciesMs.sort((a, b) => a - b);
    acceptMs = r.finishedAt - t0;
  } else {
    const r = await runSmtpSource({ port: sys.port, messages: N, sessions: SESSIONS, size: SIZE, from: FROM, to: TO, timeoutMs: TIMEOUT_MS });
    acceptMs = performance.now() - t0;
    if (r.code !== 0) {
      errors = 1;
      errorSamples = [r.output.trim().split('\n').slice(-3).join(' ')];
    }
    // smtp-source reports nothing per message: what arrives at the sink is what was accepted.
    await sleep(200);
    sent = r.code === 0 ? N : sink.count() - base;
  }
  let complete = true;
  try {
    await waitForSink(sink, base + sent, `${driver} run`);
  } catch (err) {
    complete = false;
    errorSamples.push(String((err as Error).message).split('\n')[0]!);
  }
  const wallMs = performance.now() - t0;
  const peak = mem.stop();
  const cpuMs = treeCpuMs(sys.pid) - cpu0;
  const delivered = sink.count() - base;
  return {
    driver,
    messages: N,
    accepted: sent,
    delivered,
    errors,
    errorSamples,
    complete,
    wallMs,
    acceptMs,
    msgsPerSec: (delivered / wallMs) * 1000,
    p50Ms: lat.length ? percentile(lat, 50) : null,
    p99Ms: lat.length ? percentile(lat, 99) : null,
    cpuMsPerMsg: delivered ? cpuMs / delivered : null,
    peakRssBytes: peak.rssBytes,
    peakPssBytes: peak.pssBytes,
    peakProcesses: peak.peakProcesses,
  };
}

async function benchSystem(name: string): Promise<SystemResult> {
  const scope = new Scope();
  try {
    const sink = await startSink(scope, { dump: false, maxConnections: 512 });
    log(`${name}: starting`);
    const sys = await startSystem(name, scope, sink);
    log(`${name}: ${sys.version} on 127.0.0.1:${sys.port}, pid ${sys.pid}; warm-up ${WARMUP}`);
    if (WARMUP > 0) {
      const w = await runLoad({ port: sys.port, messages: WARMUP, sessions: SESSIONS, size: SIZE, from: FROM, to: TO, timeoutMs: TIMEOUT_MS });
      if (w.sent === 0) throw new Error(`warm-up: no message accepted (${w.errorSamples.join('; ')})`);
      await waitForSink(sink, w.sent, 'warm-up');
    }
    const runs: RunResult[] = [];
    log(`${name}: node client, ${N} messages, ${SESSIONS} sessions, ${SIZE} bytes`);
    if (!opt['no-node-client']) runs.push(await measure('node', sys, sink));
    if (!opt['no-smtp-source']) {
      log(`${name}: smtp-source, ${N} messages, ${SESSIONS} sessions`);
      runs.push(await measure('smtp-source', sys, sink));
    }
    const idle = treeMemory(sys.pid);
    await sys.stop?.();
    return { name, version: sys.version, runs, idleRssBytes: idle.rssBytes, idlePssBytes: idle.pssBytes };
  } catch (err) {
    const msg = String((err as Error).message ?? err);
    log(`${name}: NOT MEASURED: ${msg.split('\n').slice(0, 12).join('\n')}`);
    return { name, version: '', runs: [], error: msg.split('\n')[0]! };
  } finally {
    await scope.close();
  }
}

async function benchIdle(count: number): Promise<BenchResults['idle']> {
  const scope = new Scope();
  try {
    log(`idle: ${count} sessions to a fresh gateway`);
    const sink = await startSink(scope, { dump: false });
    if (!existsSync(join(root, ENTRY))) throw new Error(`${ENTRY} is missing`);
    const dns = await startDns(scope, benchZone, { logQueries: false, ttl: 3600 });
    const gw = await startGateway(scope, { entry: ENTRY, config: gatewayConfig(sink, dns, count + 100) });
    await sleep(500);
    const before = treeMemory(gw.pid());
    const t0 = performance.now();
    const { clients, ready, failures } = await openIdleSessions(gw.ports['mx']!, count, { timeoutMs: 120_000 });
    const openMs = performance.now() - t0;
    await sleep(2000); // let the event loops settle
    const after = treeMemory(gw.pid());
    // Are they still alive? A server that drops sessions would look cheap.
    const alive = clients.filter((c) => !c.isClosed).length;
    closeAll(clients);
    const limit = Number(opt['idle-limit-mb']) * 1024 * 1024;
    return {
      sessions: count,
      ready,
      alive,
      openMs,
      failures,
      baselineRssBytes: before.rssBytes,
      rssBytes: after.rssBytes,
      pssBytes: after.pssBytes,
      processes: after.processes,
      perSessionKb: ready ? (after.rssBytes - before.rssBytes) / 1024 / ready : null,
      limitBytes: limit,
      pass: ready === count && alive === count && after.rssBytes < limit,
    };
  } catch (err) {
    const msg = String((err as Error).message ?? err);
    log(`idle: NOT MEASURED: ${msg.split('\n').slice(0, 12).join('\n')}`);
    return { sessions: count, error: msg.split('\n')[0]! };
  } finally {
    await scope.close();
  }
}

async function main(): Promise<number> {
  const systems = String(opt.systems).split(',').map((s) => s.trim()).filter(Boolean);
  const results: BenchResults = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, postfix: postfixVersion() },
    params: { messages: N, sessions: SESSIONS, size: SIZE, warmup: WARMUP, reuse: opt.reuse, checks: opt.checks, workers: Number(opt.workers) },
    systems: [],
  };
  for (const s of systems) results.systems.push(await benchSystem(s));
  const idleCount = Number(opt.idle);
  if (idleCount > 0 && systems.includes('gateway')) {
    const gw = results.systems.find((s) => s.name === 'gateway');
    results.idle = gw?.error ? { sessions: idleCount, error: 'the gateway did not start (see above)' } : await benchIdle(idleCount);
  }

  process.stdout.write(`\n${textTable(results)}\n`);
  const dir = join(root, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const stamp = results.date.replace(/[:.]/g, '-');
  await writeFile(join(dir, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(dir, `${stamp}.md`), markdownReport(results));
  await writeFile(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  log(`results: bench/results/${stamp}.json`);
  if (!opt['no-docs']) {
    await updateDoc(join(root, 'docs', 'benchmarks.md'), markdownReport(results));
    log('docs/benchmarks.md: results section updated');
  }
  const failed = results.systems.some((s) => s.error || s.runs.some((r) => !r.complete || r.delivered < r.messages)) || (results.idle !== undefined && ('error' in results.idle || !results.idle.pass));
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[bench] failed: ${String((err as Error).stack ?? err)}\n`);
    process.exit(2);
  },
);
