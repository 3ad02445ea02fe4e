import t from 'tap';
import { parseConfig } from '../../../gateway/src/config/index.js';
import type { Session } from '../../../gateway/src/core/index.js';
import { checkPhase, splitAddress } from '../../../gateway/src/policy/index.js';

const config = parseConfig({ domains: { 'corp.test': { route: { transport: 'smtp', hosts: ['127.0.0.1:2526'] } } } });
const session = (over: Partial<Session>): Session => ({
  id: 's', listener: 'mx', kind: 'mx', direction: 'inbound', clientIp: '192.0.2.1', clientPort: 1, ptr: null, helo: 'h', tls: null,
  authUser: null, trustedBy: null, ...over,
});
const envelope = { mailFrom: 'x@example.org', recipients: [], size: 0, bodyType: '7bit' as const, smtpUtf8: false };
const resolve = (() => Promise.reject(new Error('no DNS in this test'))) as never;
const rcpt = (s: Session, recipient: string) => checkPhase('rcpt', { config, session: s, envelope, recipient, resolve });

t.test('mx accepts only relay domains and refuses sender-specified routing', async (t) => {
  const mx = session({});
  t.equal((await rcpt(mx, 'user@corp.test')).action, 'accept');
  t.equal((await rcpt(mx, 'user@CORP.TEST')).action, 'accept', 'domain case-insensitive');
  for (const trick of ['user@foreign.test', 'user%foreign.test@corp.test', 'foreign.test!user@corp.test', '"user@foreign.test"@corp.test', 'user@corp.test.foreign.test', 'user@sub.corp.test', 'user@foreign.test@corp.test']) {
    const d = await rcpt(mx, trick);
    t.equal(d.action, 'reject', trick);
    if (d.action === 'reject') t.equal(d.reply, 'RELAY_DENIED', trick);
  }
  const bad = await rcpt(mx, 'no-at-sign');
  t.equal(bad.action === 'reject' && bad.reply, 'BAD_RECIPIENT_SYNTAX');
});

t.test('submission and relay relay only for trusted sessions', async (t) => {
  const untrusted = session({ listener: 'submission', kind: 'submission', direction: 'outbound' });
  t.equal((await rcpt(untrusted, 'a@foreign.test')).action, 'reject');
  const authed = session({ listener: 'submission', kind: 'submission', direction: 'outbound', authUser: 'u@corp.test', trustedBy: 'auth' });
  t.equal((await rcpt(authed, 'a@foreign.test')).action, 'accept');
  const mail = await checkPhase('mail', { config, session: untrusted, envelope, resolve });
  t.equal(mail.action === 'reject' && mail.reply, 'AUTH_REQUIRED');
  t.equal((await checkPhase('mail', { config, session: authed, envelope, resolve })).action, 'accept');
  const badSender = await checkPhase('mail', { config, session: authed, envelope: { ...envelope, mailFrom: 'nodomain' }, resolve });
  t.equal(badSender.action === 'reject' && badSender.reply, 'BAD_SENDER_SYNTAX');
  t.equal((await checkPhase('mail', { config, session: authed, envelope: { ...envelope, mailFrom: '' }, resolve })).action, 'accept', 'null sender');
});

t.test('splitAddress', async (t) => {
  t.same(splitAddress('A.B@Example.COM'), { local: 'A.B', domain: 'example.com' });
  t.equal(splitAddress('@x'), null);
  t.equal(splitAddress('x@'), null);
});

t.test('bare postmaster is accepted on every listener (RFC 5321 §4.5.1)', async (t) => {
  t.equal((await rcpt(session({}), 'postmaster')).action, 'accept');
  t.equal((await rcpt(session({}), 'PostMaster')).action, 'accept');
  t.equal((await rcpt(session({}), 'root')).action, 'reject', 'other bare names are not');
});
