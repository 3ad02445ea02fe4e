/*
 * bench/policy.ts — what the session policy stage (issue 5 checks) costs per recipient, with
 * warm caches. Not a test; prints numbers (docs/benchmarks.md "Session policy").
 *
 * In-process, through the same entry points listen/ uses (checkPhase per phase), with the real
 * dns/ resolver pointed at a dnsmasq serving a DNSBL zone, a DNSWL and PTR records, and the
 * recipient callout answered by an smtp-sink (then cached). Config: every issue-5 check on —
 * access lists with 200 global entries (some regexes), 50 domain and 200 user lists; 4 DNSBL
 * specs; PTR/FCrDNS; HELO; sender verification; recipient verification by callout and by a
 * static list of 10,000 users. Each iteration is a fresh session (connect, helo, mail, then R
 * recipients) from one of 8 client addresses, so per-session memos start empty and only the
 * DNS cache and the callout cache are warm, as for a real client connecting again.
 *
 *   npx tsc -p bench/tsconfig.json && node dist/bench/policy.js [--sessions 2000] [--rcpts 5]
 * Baseline: the same loop with the default config (only relay_access and sender_access).
 */
import { parseArgs } from 'node:util';
import { parseConfig, type Config } from '../gateway/src/config/index.js';
import type { Session } from '../gateway/src/core/index.js';
import { createResolver, type ResolveFn } from '../gateway/src/dns/index.js';
import { checkPhase } from '../gateway/src/policy/index.js';
import { startDns } from '../test/e2e/harness/dns.js';
import { startSink } from '../test/e2e/harness/sink.js';
import { Scope } from '../test/e2e/harness/util.js';

const { values: opt } = parseArgs({ options: { sessions: { type: 'string', default: '2000' }, rcpts: { type: 'string', default: '5' } } });
const SESSIONS = Number(opt.sessions);
const RCPTS = Number(opt.rcpts);
const IPS = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);
const rrA = (name: string, ip: string) => ({ name, type: 1, hex: ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('') });

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(label: string, config: Config, resolve: ResolveFn): Promise<void> {
  const perRcpt: number[] = [];
  const perRcptAll: number[] = [];
  const run = async (i: number, record: boolean) => {
    const ip = IPS[i % IPS.length]!;
    const session: Session = { id: `s${i}`, listener: 'mx', kind: 'mx', direction: 'inbound', clientIp: ip, clientPort: 1, ptr: null, helo: 'mail.client.test', tls: null, authUser: null, trustedBy: null };
    const envelope = { mailFrom: `user${i % 20}@client.test`, recipients: [] as string[], size: 0, bodyType: '7bit' as const, smtpUtf8: false };
    const ctx = { config, session, envelope, resolve };
    const t0 = process.hrtime.bigint();
    await checkPhase('connect', ctx);
    await checkPhase('helo', ctx);
    await checkPhase('mail', ctx);
    let rcptNs = 0n;
    for (let r = 0; r < RCPTS; r++) {
      const recipient = r % 2 === 0 ? `u${(i + r) % 50}@corp.test` : `s${(i + r) % 50}@static.test`;
      const t1 = process.hrtime.bigint();
      const d = await checkPhase('rcpt', { ...ctx, recipient });
      const dt = process.hrtime.bigint() - t1;
      rcptNs += dt;
      if (d.action !== 'accept' && ip !== '127.0.0.2') throw new Error(`unexpected ${d.action} for ${recipient} from ${ip}: ${JSON.stringify(d)}`);
      if (record) perRcpt.push(Number(dt) / 1e6);
      envelope.recipients.push(recipient);
    }
    const total = process.hrtime.bigint() - t0;
    if (record) perRcptAll.push(Number(total) / 1e6 / RCPTS);
    return rcptNs;
  };
  for (let i = 0; i < 200; i++) await run(i, false); // warm the DNS and callout caches
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < SESSIONS; i++) await run(i, true);
  const cpu = process.cpuUsage(cpu0);
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  // CPU time is immune to the scheduler: on a busy machine, wall-clock tails include time the
  // process was not running at all.
  const cpuPerRcpt = (cpu.user + cpu.system) / 1000 / (SESSIONS * RCPTS);
  perRcpt.sort((a, b) => a - b);
  perRcptAll.sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(3);
  process.stdout.write(`${label}: ${SESSIONS} sessions x ${RCPTS} rcpts in ${wall.toFixed(0)} ms\n`
    + `  RCPT phase per recipient:            p50 ${f(pct(perRcpt, 50))} ms  p99 ${f(pct(perRcpt, 99))} ms\n`
    + `  connect+helo+mail+rcpt / recipients: p50 ${f(pct(perRcptAll, 50))} ms  p99 ${f(pct(perRcptAll, 99))} ms\n`
    + `  CPU (user+system) per recipient, all phases: ${f(cpuPerRcpt)} ms\n`);
}

const scope = new Scope();
try {
  const dns = await startDns(scope, {
    mx: { 'client.test': 'mail.client.test' },
    a: { 'mail.client.test': '192.0.2.10', 'host3.dyn.example.net': '127.0.0.3', 'ok4.example.net': '127.0.0.4' },
    ptr: { '127.0.0.3': 'host3.dyn.example.net', '127.0.0.4': 'ok4.example.net' },
    rr: [rrA('2.0.0.127.bl.test', '127.0.0.2'), rrA('2.0.0.127.bl.test', '127.0.0.20'), rrA('5.0.0.127.bl.test', '127.0.0.3'), rrA('5.0.0.127.wl.test', '127.0.0.1')],
  }, { ttl: 3600, logQueries: false });
  const sink = await startSink(scope);
  const entries = (n: number, f: (i: number) => string, action: 'allow' | 'deny' | 'score') => Array.from({ length: n }, (_, i) => ({ match: f(i), action }));
  const policy = {
    access: {
      global: {
        clients: [...entries(50, (i) => `10.${i}.0.0/16`, 'deny'), ...entries(20, (i) => `*.pool${i}.example.org`, 'score'), { match: '/^dsl-\\d+\\./', action: 'score' }],
        senders: [...entries(60, (i) => `spam${i}.test`, 'deny'), ...entries(10, (i) => `/^bounce-${i}-[0-9a-f]+@/`, 'score')],
        recipients: entries(60, (i) => `closed${i}@corp.test`, 'deny'),
      },
      domains: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`d${i}.test`, { senders: entries(5, (j) => `p${j}.test`, 'allow') }])),
      users: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`u${i}@corp.test`, { senders: entries(3, (j) => `friend${j}.test`, 'allow') }])),
    },
    dnsbl: { zones: ['bl.test=127.0.0.[2..11]*3', 'bl.test=127.0.0.20', 'combo.test=127.0.0.[2;4]*2', 'wl.test*-1'], threshold: 5 },
    hygiene: { checkPtr: true },
    recipientVerification: {
      domains: { 'corp.test': { method: 'callout' }, 'static.test': { method: 'static', users: Array.from({ length: 10_000 }, (_, i) => `s${i}`) } },
    },
    senderVerification: { enabled: true },
  };
  const route = { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' };
  const on = parseConfig({ hostname: 'gw.bench.test', dns: { servers: [dns.server] }, domains: { 'corp.test': { route }, 'static.test': { route } }, policy });
  const off = parseConfig({ hostname: 'gw.bench.test', dns: { servers: [dns.server] }, domains: { 'corp.test': { route }, 'static.test': { route } } });
  const resolver = createResolver(on.dns);
  await measure('baseline (default config: relay_access, sender_access)', off, resolver.resolve);
  await measure('issue-5 checks on, warm caches', on, resolver.resolve);
  const s = resolver.stats();
  process.stdout.write(`  dns cache: ${s.hits} hits, ${s.misses} misses, ${s.timeouts} timeouts, ${s.coalesced} coalesced\n`);
  resolver.close();
} finally {
  await scope.close();
}
