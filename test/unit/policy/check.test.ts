import t from 'tap';
import { parseConfig } from '../../../gateway/src/config/index.js';
import { defineCheck, runChecks } from '../../../gateway/src/policy/index.js';

const ctx = {
  config: parseConfig({}),
  session: { id: 's', listener: 'mx', kind: 'mx' as const, direction: 'inbound' as const, clientIp: '192.0.2.1', clientPort: 1, ptr: null, helo: '', tls: null, authUser: null, trustedBy: null },
  envelope: { mailFrom: '', recipients: [], size: 0, bodyType: '7bit' as const, smtpUtf8: false },
  resolve: (() => Promise.reject(new Error('no DNS in this test'))) as never,
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
