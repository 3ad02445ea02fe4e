/*
 * Unit tests of policy/checks/spf-early.ts (issue 3): the optional SPF reject at MAIL FROM,
 * through the real mailauth spf() and an in-memory resolver, and the reuse of its result by
 * the authentication content check (SPF evaluated once per transaction).
 */
import t from 'tap';
import { Readable } from 'node:stream';
import { parseConfig } from '../../../gateway/src/config/index.js';
import type { Session } from '../../../gateway/src/core/index.js';
import { loadContentScores, scanContent } from '../../../gateway/src/content/index.js';
import { authentication } from '../../../gateway/src/content/checks/authentication.js';
import type { ResolveFn } from '../../../gateway/src/dns/index.js';
import { checkPhase } from '../../../gateway/src/policy/index.js';

const ZONE: Record<string, string> = {
  'TXT hard.test': 'v=spf1 ip4:192.0.2.10 -all',
  'TXT soft.test': 'v=spf1 ip4:192.0.2.10 ~all',
};

function resolver(asked: string[]): ResolveFn {
  return (async (name: string, rrtype = 'A') => {
    asked.push(`${rrtype} ${name}`);
    if (name === 'slow.test') throw Object.assign(new Error('timeout'), { code: 'ETIMEOUT' });
    const v = ZONE[`${rrtype} ${name.toLowerCase()}`];
    if (v === undefined) throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return rrtype === 'TXT' ? [[v]] : [v];
  }) as ResolveFn;
}

const session = (over: Partial<Session> = {}): Session => ({
  id: 's', listener: 'mx', kind: 'mx', direction: 'inbound', clientIp: '203.0.113.5', clientPort: 1, ptr: null, helo: 'mail.other.test',
  tls: null, authUser: null, trustedBy: null, ...over,
});
const envelope = (mailFrom: string) => ({ mailFrom, recipients: [], size: 0, bodyType: '7bit' as const, smtpUtf8: false });
const on = parseConfig({ authentication: { earlySpfReject: true } });

t.test('off by default: no lookup at MAIL FROM', async (t) => {
  const asked: string[] = [];
  const d = await checkPhase('mail', { config: parseConfig({}), session: session(), envelope: envelope('x@hard.test'), resolve: resolver(asked) });
  t.equal(d.action, 'accept');
  t.same(asked, []);
});

t.test('on: fail → 550 5.7.23, temperror → 451 4.7.0, softfail / none / pass → accept', async (t) => {
  const asked: string[] = [];
  const fail = await checkPhase('mail', { config: on, session: session(), envelope: envelope('x@hard.test'), resolve: resolver(asked) });
  t.equal(fail.action, 'reject');
  t.ok(fail.action !== 'accept' && fail.reply === 'SPF_REJECT' && fail.detail === 'hard.test', JSON.stringify(fail));
  t.match(JSON.stringify(fail.hits), /SPF_FAIL/);
  const tmp = await checkPhase('mail', { config: on, session: session(), envelope: envelope('x@slow.test'), resolve: resolver(asked) });
  t.ok(tmp.action === 'defer' && tmp.reply === 'AUTH_TEMPFAIL', JSON.stringify(tmp));
  for (const sender of ['x@soft.test', 'x@nospf.test', '']) {
    const d = await checkPhase('mail', { config: on, session: session(), envelope: envelope(sender), resolve: resolver(asked) });
    t.equal(d.action, 'accept', `<${sender}>`);
  }
  const pass = await checkPhase('mail', { config: on, session: session({ clientIp: '192.0.2.10' }), envelope: envelope('x@hard.test'), resolve: resolver(asked) });
  t.equal(pass.action, 'accept');
  const out = await checkPhase('mail', { config: on, session: session({ kind: 'submission', direction: 'outbound', trustedBy: 'auth' }), envelope: envelope('x@hard.test'), resolve: resolver([]) });
  t.equal(out.action, 'accept', 'outbound sessions are not SPF-checked');
});

t.test('the content check reuses the MAIL FROM result: SPF is evaluated once per transaction', async (t) => {
  const asked: string[] = [];
  const resolve = resolver(asked);
  const s = session({ clientIp: '192.0.2.10', helo: 'mail.soft.test' });
  t.equal((await checkPhase('mail', { config: on, session: s, envelope: envelope('x@soft.test'), resolve })).action, 'accept');
  t.same(asked.filter((q) => q === 'TXT soft.test'), ['TXT soft.test']);
  const raw = 'From: x@soft.test\r\nTo: b@corp.test\r\nSubject: s\r\n\r\nbody\r\n';
  const r = await scanContent({
    config: on, session: s, envelope: { ...envelope('x@soft.test'), recipients: ['b@corp.test'], size: raw.length },
    message: { qid: 'Q', size: raw.length, headers: [], messageId: null, addedHeaders: [], openBody: () => Readable.from([Buffer.from(raw)]) },
    resolve, scores: loadContentScores(),
  }, [authentication]);
  t.equal(r.hits[0]!.name, 'SPF_ALLOW');
  t.same(asked.filter((q) => q === 'TXT soft.test'), ['TXT soft.test'], 'no second SPF lookup after DATA');
  // A new transaction (another sender) is evaluated afresh.
  t.equal((await checkPhase('mail', { config: on, session: s, envelope: envelope('y@hard.test'), resolve })).action, 'accept');
  t.ok(asked.includes('TXT hard.test'));
});
