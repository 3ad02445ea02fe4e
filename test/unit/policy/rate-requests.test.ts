/*
 * Unit tests of the rate-limit scope keys (policy/checks/rate-limit.ts rateRequests): which
 * counters a transaction touches, built once per transaction and rebuilt when the sender, the
 * direction or the authenticated user changes.
 */
import t from 'tap';
import { parseConfig } from '../../../gateway/src/config/index.js';
import type { Session } from '../../../gateway/src/core/index.js';
import { rateRequests } from '../../../gateway/src/policy/checks/rate-limit.js';

const w = [{ windowMs: 60_000, messages: 10, recipients: 50 }, { windowMs: 3600_000, messages: 100, bytes: 1e6 }];
const config = parseConfig({ rateLimits: { inbound: { clientIp: w, sender: w, senderDomain: w }, outbound: { user: w, senderDomain: w } } });

t.test('keys per scope and window; units filter; rebuilt when the transaction changes', async (t) => {
  const session = { id: 'r', listener: 'mx', kind: 'mx', direction: 'inbound', clientIp: '192.0.2.7', clientPort: 1, ptr: null, helo: '', tls: null, authUser: null, trustedBy: null } as unknown as { -readonly [K in keyof Session]: Session[K] };
  const keys = (direction: 'inbound' | 'outbound', from: string, only?: 'messages' | 'recipients' | 'bytes') => rateRequests(config, direction, session, from, { messages: 1 }, only).map((r) => `${r.key}/${r.windowMs}`);
  t.same(keys('inbound', 'A@Example.com'), ['in:clientIp:192.0.2.7/60000', 'in:clientIp:192.0.2.7/3600000', 'in:sender:a@example.com/60000', 'in:sender:a@example.com/3600000', 'in:senderDomain:example.com/60000', 'in:senderDomain:example.com/3600000']);
  t.same(keys('inbound', 'A@Example.com', 'bytes'), ['in:clientIp:192.0.2.7/3600000', 'in:sender:a@example.com/3600000', 'in:senderDomain:example.com/3600000'], 'only windows limiting the unit');
  t.same(keys('inbound', ''), ['in:clientIp:192.0.2.7/60000', 'in:clientIp:192.0.2.7/3600000', 'in:sender:<>/60000', 'in:sender:<>/3600000'], 'the null sender: no domain');
  t.same(keys('outbound', 'b@corp.test'), ['out:senderDomain:corp.test/60000', 'out:senderDomain:corp.test/3600000'], 'no user yet');
  session.authUser = 'alice';
  t.same(keys('outbound', 'b@corp.test'), ['out:senderDomain:corp.test/60000', 'out:senderDomain:corp.test/3600000', 'out:user:alice/60000', 'out:user:alice/3600000'], 'after AUTH the user counts');
});
