/*
 * bench/policy-stage.ts — what reputation, greylisting and rate limits add to the policy stage
 * (issue 5: ≤ 1 ms per recipient with warm caches). In-process, against a real LMDB state
 * directory (the cache environment as the daemon opens it), no network.
 *
 * For N recipients it times the mail + rcpt phases of the real check list (policy/checks) twice:
 * "off" (greylisting and reputation disabled, no rate limits: the checks that were there
 * before) and "on" (reputation on, 4 inbound rate keys × 2 windows, greylisting at RCPT for
 * every client without good reputation, every triplet already known: warm), and "defaults" (the
 * shipped configuration: reputation on, greylisting only for bad clients, no limits). Also the after-DATA
 * part per message (reputation symbols, greylist/rate decision, learning from the verdict).
 * Prints p50/p99 per recipient. Run: npx tsc -p bench/tsconfig.json && node dist/bench/policy-stage.js [N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { configSchema } from '../gateway/src/config/schema.js';
import type { Session, Verdict } from '../gateway/src/core/index.js';
import { checkPhase } from '../gateway/src/policy/index.js';
import { afterVerdict, learnFromVerdict, reputationHits } from '../gateway/src/policy/checks/policy-state.js';
import { openState, policyStores } from '../gateway/src/state/index.js';
import type { ResolveFn } from '../gateway/src/dns/index.js';

// The LMDB-backed checks measured here look nothing up; a DNS question would be a bench bug.
const resolve = (async () => { throw new Error('no DNS in this bench'); }) as unknown as ResolveFn;

const N = Number(process.argv[2] ?? 5000);
const HOUR = 3600_000;
const windows = [{ windowMs: 60_000, messages: 1e9, recipients: 1e9 }, { windowMs: HOUR, messages: 1e9, recipients: 1e9, bytes: 1e12 }];
const on = configSchema.parse({
  domains: { 'corp.test': { route: { transport: 'maildir', path: '/tmp/x' } } },
  greylisting: { atRcpt: 'unknown' },
  rateLimits: { inbound: { clientIp: windows, sender: windows, senderDomain: windows, user: windows } },
});
/** The shipped defaults (what `npm run bench` runs with): reputation on, greylisting of bad clients only, no rate limits. */
const defaults = configSchema.parse({ domains: { 'corp.test': { route: { transport: 'maildir', path: '/tmp/x' } } } });
const off = configSchema.parse({
  domains: { 'corp.test': { route: { transport: 'maildir', path: '/tmp/x' } } },
  greylisting: { enabled: false }, reputation: { enabled: false },
});

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const fmt = (xs: number[]) => `p50 ${(pct(xs, 0.5) * 1000).toFixed(0)} µs  p99 ${(pct(xs, 0.99) * 1000).toFixed(0)} µs  mean ${(xs.reduce((a, b) => a + b, 0) / xs.length * 1000).toFixed(0)} µs`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'policy-bench-'));
  const state = openState(dir);
  const session = (i: number): Session => ({ id: `s${i}`, listener: 'mx', kind: 'mx', direction: 'inbound', clientIp: `192.0.${i % 200}.${i % 250}`, clientPort: 1, ptr: null, helo: 'c.test', tls: null, authUser: null, trustedBy: null });
  const envelope = (i: number) => ({ mailFrom: `s${i % 500}@sender${i % 50}.test`, recipients: [] as string[], size: 0, bodyType: '7bit' as const, smtpUtf8: false });
  const rcptOf = (i: number) => `u${i % 1000}@corp.test`;

  // Warm: every triplet of the timed run exists and has passed (released), as for regular senders.
  for (let i = 0; i < N; i++) await checkPhase('rcpt', { config: on, session: session(i), envelope: envelope(i), recipient: rcptOf(i), state, resolve });
  await policyStores(state).greylist.release(() => true, on.greylisting.lifetimeMs);

  for (const [name, config] of [['off', off], ['defaults', defaults], ['on', on], ['off', off], ['defaults', defaults], ['on', on]] as const) {
    const times: number[] = [];
    let deferred = 0;
    for (let i = 0; i < N; i++) {
      const ctx = { config, session: session(i), envelope: envelope(i), state, resolve };
      const t0 = performance.now();
      const m = await checkPhase('mail', ctx);
      const r = await checkPhase('rcpt', { ...ctx, recipient: rcptOf(i) });
      times.push(performance.now() - t0);
      if (m.action !== 'accept' || r.action !== 'accept') deferred++;
    }
    process.stdout.write(`mail+rcpt, 1 recipient, checks ${name.padEnd(8)}: ${fmt(times)}  (not accepted: ${deferred})\n`);
  }

  const verdict: Verdict = { action: 'deliver', score: 0, hits: [], headerEdits: [], extraRecipients: [] };
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    const stage = { config: on, state, session: session(i), mailFrom: envelope(i).mailFrom, recipients: [rcptOf(i)], size: 4096 };
    const t0 = performance.now();
    reputationHits(stage, [], null);
    await afterVerdict(stage, verdict, null);
    const learnt = learnFromVerdict(policyStores(state).reputation, on, stage.session, stage.mailFrom, verdict, null);
    times.push(performance.now() - t0);
    if (i % 20 === 0) await learnt; // as in the daemon: the learning commits in the background
  }
  process.stdout.write(`after DATA (reputation symbols, rate/greylist decision, learning), per message: ${fmt(times)}\n`);
  await state.close();
  rmSync(dir, { recursive: true, force: true });
}

void main();
