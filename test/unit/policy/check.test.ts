import t from 'tap';
import { parseConfig } from '../../../gateway/src/config/index.js';
import { defineCheck, runChecks } from '../../../gateway/src/policy/index.js';
import type { ResolveFn } from '../../../gateway/src/dns/index.js';
import type { Session } from '../../../gateway/src/core/index.js';
import { isPromise, then } from '../../../gateway/src/policy/maybe.js';
import { recentResults } from '../../../gateway/src/policy/recent-results.js';
import { sessionMemo } from '../../../gateway/src/policy/session-state.js';

const ctx = {
  config: parseConfig({}),
  session: { id: 's', listener: 'mx', kind: 'mx' as const, direction: 'inbound' as const, clientIp: '192.0.2.1', clientPort: 1, ptr: null, helo: '', tls: null, authUser: null, trustedBy: null },
  envelope: { mailFrom: '', recipients: [], size: 0, bodyType: '7bit' as const, smtpUtf8: false },
  resolve: (() => Promise.reject(new Error('no DNS'))) as unknown as ResolveFn,
};

t.test('every check runs; the most severe decision wins; hits are collected', async (t) => {
  const d = await runChecks([
    defineCheck({ name: 'a', phase: 'rcpt', timeoutMs: 100, run: () => [{ name: 'A_HIT', score: 1 }] }),
    defineCheck({ name: 'b', phase: 'rcpt', timeoutMs: 100, run: () => ({ action: 'defer', reply: 'POLICY_TEMPFAIL' }) }),
    defineCheck({ name: 'c', phase: 'rcpt', timeoutMs: 100, run: () => ({ action: 'reject', reply: 'RELAY_DENIED', hits: [{ name: 'C_HIT', score: 5 }] }) }),
  ], ctx);
  t.equal(d.action, 'reject');
  t.same(d.hits?.map((h) => h.name).sort(), ['A_HIT', 'C_HIT']);
});

t.test('a check that hangs or throws cannot decide: 4xx with a _TEMPFAIL hit, never accept', async (t) => {
  const hang = defineCheck({ name: 'slow_dns', phase: 'rcpt', timeoutMs: 50, run: () => new Promise(() => {}) });
  const boom = defineCheck({ name: 'boom', phase: 'rcpt', timeoutMs: 50, run: () => { throw new Error('x'); } });
  for (const c of [hang, boom]) {
    const d = await runChecks([c], ctx);
    t.equal(d.action, 'defer');
    t.equal(d.action === 'defer' && d.reply, 'POLICY_TEMPFAIL');
    t.match(d.hits?.[0]?.name, /_TEMPFAIL$/);
  }
});

t.test('registration is validated at start-up', async (t) => {
  t.throws(() => defineCheck({ name: 'x', phase: 'bogus' as never, timeoutMs: 1, run: () => [] }), /unknown phase/);
  t.throws(() => defineCheck({ name: 'Bad-Name', phase: 'rcpt', timeoutMs: 1, run: () => [] }), /lower_snake/);
});

t.test('memoised answers come back synchronously once known', async (t) => {
  const session = { id: 'memo' } as unknown as Session;
  let calls = 0;
  const lookup = () => { calls++; return new Promise<number>((r) => setTimeout(() => r(42), 5)); };
  const first = sessionMemo(session, 'k', lookup);
  t.ok(isPromise(first), 'the first ask waits for the look-up');
  t.ok(isPromise(sessionMemo(session, 'k', lookup)), 'an ask before it settles gets the same wait');
  t.equal(await first, 42);
  t.equal(sessionMemo(session, 'k', lookup), 42, 'later asks get the value itself (no promise, no deadline timer)');
  t.equal(calls, 1, 'one look-up');
  t.equal(then(7, (v) => v + 1), 8, 'then() on a known value is synchronous');
  t.equal(await then(Promise.resolve(7), (v) => v + 1), 8, 'and on a promise it chains');

  const recent = recentResults<{ ok: boolean }>({ ttlMs: 1000, max: 10, keep: (r) => r.ok });
  let n = 0;
  t.same(await recent.get('a', async () => ({ ok: (n++, false) })), { ok: false });
  t.same(await recent.get('a', async () => ({ ok: (n++, true) })), { ok: true }, 'a result keep() refuses is asked again');
  t.same(recent.get('a', async () => ({ ok: (n++, true) })), { ok: true }, 'a kept one is known at once');
  t.same(await Promise.resolve(recent.get('b', () => Promise.reject(new Error('x')))).catch((e: Error) => e.message), 'x');
  t.same(recent.get('b', () => ({ ok: (n++, true) })), { ok: true }, 'a failed look-up is not kept');
  t.equal(n, 3);
});
