/*
 * Unit tests of the rules' part of the verdict (verdict/decide with a RulesOutcome): what a
 * rule may and may not override, archive copies only for accepted mail; and the replay helpers
 * (cli/rules-commands.ts) that turn a verdict record into rule facts.
 */
import t from 'tap';
import { decide } from '../../../gateway/src/verdict/index.js';
import type { RulesOutcome } from '../../../gateway/src/rules/index.js';
import { factsFromRecord, parseSince } from '../../../gateway/src/cli/rules-commands.js';
import { parseConfig } from '../../../gateway/src/config/index.js';

const outcome = (over: Partial<RulesOutcome> = {}): RulesOutcome => ({
  matched: [{ rule: 'r', file: 'f.yaml', actions: ['x'] }], unjudged: [], final: null, hits: [], headerEdits: [], bcc: [], redirect: null,
  bodyTransforms: [], notifications: [], ...over,
});
const base = { direction: 'inbound' as const, hits: [{ name: 'A_B', score: 1 }], tempfail: false };

t.test('a rule cannot pass what could not be judged, nor undo a DMARC reject', async (t) => {
  const defer = decide({ ...base, tempfail: true, rules: outcome({ final: 'accept' }), archive: ['j@a.test'] });
  t.match(defer, { action: 'defer', extraRecipients: [] });
  const dmarc = decide({ ...base, authentication: { spf: 'fail', dkim: 'none', dmarc: 'fail', arc: 'none', fromDomain: 'b.test', dmarcPolicy: 'reject' }, rules: outcome({ final: 'accept' }) });
  t.match(dmarc, { action: 'reject', reply: 'DMARC_REJECT' });
});

t.test('rule decisions, score hits, edits, copies and transforms reach the verdict', async (t) => {
  const v = decide({ ...base, rules: outcome({ hits: [{ name: 'RULE_R', score: 2.5 }], headerEdits: [{ op: 'prepend', name: 'X-A', value: '1' }], bcc: ['c@corp.test'], bodyTransforms: [{ op: 'disclaimer', text: 'd', rule: 'r' }], classOfService: 'strict', quarantineOriginal: { reason: 'why', rules: ['r'] } }), archive: ['j@a.test'] });
  t.match(v, { action: 'deliver', score: 3.5, extraRecipients: ['c@corp.test', 'j@a.test'], classOfService: 'strict', quarantineOriginal: { reason: 'why' }, rules: [{ rule: 'r' }] });
  t.same(v.headerEdits, [{ op: 'prepend', name: 'X-A', value: '1' }]);
  t.match(decide({ ...base, rules: outcome({ final: 'reject', reject: { reply: 'RULE_REJECT', text: 'no' } }), archive: ['j@a.test'] }), { action: 'reject', reply: 'RULE_REJECT', detail: 'no', extraRecipients: [] });
  t.match(decide({ ...base, rules: outcome({ final: 'reject', reject: { reply: 'RULE_DEFER', text: '' } }) }), { action: 'defer', reply: 'RULE_DEFER' });
  t.match(decide({ ...base, rules: outcome({ final: 'discard' }), archive: ['j@a.test'] }), { action: 'discard', extraRecipients: [] });
  t.match(decide({ ...base, rules: outcome({ final: 'quarantine', quarantineReason: 'held' }), archive: ['j@a.test'] }), { action: 'quarantine', detail: 'held', extraRecipients: ['j@a.test'] });
  t.match(decide({ ...base, rules: outcome({ redirect: ['o@corp.test'] }) }), { redirectTo: ['o@corp.test'] });
});

t.test('replay: a verdict record becomes rule facts without headers or body', async (t) => {
  const config = parseConfig({});
  const f = factsFromRecord({ from: 'a@b.test', to: ['c@example.test'], client: '192.0.2.1', user: null, size: 900, spf: 'pass', dkim: 'none', dmarc: 'fail', arc: 'none', symbols: ['AUTH_SPF_PASS(-0.5)', 'RULE_X(3)'], at: 1_700_000_000_000, direction: 'inbound', listener: 'mx' }, config);
  t.match(f, { direction: 'inbound', listener: 'mx', clientIp: '192.0.2.1', mailFrom: 'a@b.test', recipients: ['c@example.test'], headers: null, content: null, size: 900 });
  t.same(f.hits, [{ name: 'AUTH_SPF_PASS', score: -0.5 }], 'earlier rule scores are not counted again');
  t.same(f.auth, { spf: 'pass', dkim: 'none', dmarc: 'fail', arc: 'none' });
  t.equal(factsFromRecord({ user: 'alice' }, config).direction, 'outbound', 'old records: an authenticated user means outbound');
  t.equal(parseSince('7d'), 7 * 86_400_000);
  t.equal(parseSince('30m'), 1_800_000);
  t.throws(() => parseSince('a week'), /--since expects/);
});
