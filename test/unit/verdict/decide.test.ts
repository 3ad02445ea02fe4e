/*
 * Unit tests of verdict/decide (issue 3 parts): tempfail replies, DMARC reject in session or
 * as a tag, quarantine as a tag, X-TuxHat-DMARC never taken from the sender, header edits kept.
 */
import t from 'tap';
import type { AuthenticationOutcome, HeaderEdit } from '../../../gateway/src/core/index.js';
import { decide } from '../../../gateway/src/verdict/index.js';

const auth = (dmarcPolicy: AuthenticationOutcome['dmarcPolicy']): AuthenticationOutcome => ({ spf: 'fail', dkim: 'none', dmarc: 'fail', arc: 'none', fromDomain: 'bank.test', dmarcPolicy });
const edits: HeaderEdit[] = [{ op: 'prepend', name: 'Authentication-Results', value: 'gw; spf=fail' }];
const hits = [{ name: 'SPF_FAIL', score: 1 }, { name: 'DMARC_REJECT_POLICY', score: 2 }];

t.test('tempfail answers the check reply (default LOCAL_ERROR) and carries no edits', async (t) => {
  t.match(decide({ direction: 'inbound', hits, tempfail: true, tempfailReply: 'AUTH_TEMPFAIL', headerEdits: edits }), { action: 'defer', reply: 'AUTH_TEMPFAIL', headerEdits: [] });
  t.match(decide({ direction: 'inbound', hits: [], tempfail: true }), { action: 'defer', reply: 'LOCAL_ERROR' });
});

t.test('DMARC reject → 550 DMARC_REJECT with the domain; or a tag when configured', async (t) => {
  const v = decide({ direction: 'inbound', hits, tempfail: false, headerEdits: edits, authentication: auth('reject'), dmarcReject: 'reject' });
  t.match(v, { action: 'reject', reply: 'DMARC_REJECT', detail: 'bank.test', score: 3 });
  const tag = decide({ direction: 'inbound', hits, tempfail: false, headerEdits: edits, authentication: auth('reject'), dmarcReject: 'tag' });
  t.equal(tag.action, 'tag');
  t.same(tag.headerEdits, [...edits, { op: 'remove', name: 'X-TuxHat-DMARC' }, { op: 'prepend', name: 'X-TuxHat-DMARC', value: 'reject' }]);
});

t.test('quarantine → tag; nothing to enforce → deliver with the edits and the sender X-TuxHat-DMARC removed', async (t) => {
  const q = decide({ direction: 'inbound', hits, tempfail: false, headerEdits: edits, authentication: auth('quarantine') });
  t.equal(q.action, 'tag');
  t.same(q.headerEdits.at(-1), { op: 'prepend', name: 'X-TuxHat-DMARC', value: 'quarantine' });
  const d = decide({ direction: 'inbound', hits, tempfail: false, headerEdits: edits, authentication: auth(null) });
  t.equal(d.action, 'deliver');
  t.same(d.headerEdits, [...edits, { op: 'remove', name: 'X-TuxHat-DMARC' }]);
  const out = decide({ direction: 'outbound', hits: [], tempfail: false });
  t.same(out, { action: 'deliver', score: 0, hits: [], extraRecipients: [], headerEdits: [] });
});

t.test('dmarcQuarantine: quarantine keeps p=quarantine mail in the quarantine; spam quarantine says why first', async (t) => {
  const q = decide({ direction: 'inbound', hits, tempfail: false, headerEdits: edits, authentication: auth('quarantine'), dmarcQuarantine: 'quarantine' });
  t.match(q, { action: 'quarantine', detail: 'DMARC p=quarantine bank.test' });
  t.same(q.headerEdits.at(-1), { op: 'prepend', name: 'X-TuxHat-DMARC', value: 'quarantine' }, 'released mail still carries the tag');
  const tagOnly = decide({ direction: 'inbound', hits, tempfail: false, authentication: auth('quarantine'), dmarcQuarantine: 'tag' });
  t.equal(tagOnly.action, 'tag');
  const cos = { name: 'default', thresholds: { tag: 1, quarantine: 2, reject: 100, subjectTag: '' } };
  const both = decide({ direction: 'inbound', hits, tempfail: false, authentication: auth('quarantine'), dmarcQuarantine: 'quarantine', spam: { classOfService: cos, subject: null } });
  t.match(both, { action: 'quarantine', detail: 'spam score 3' });
  const spamTagDmarcQ = decide({ direction: 'inbound', hits, tempfail: false, authentication: auth('quarantine'), dmarcQuarantine: 'quarantine', spam: { classOfService: { ...cos, thresholds: { ...cos.thresholds, quarantine: 50 } }, subject: null } });
  t.match(spamTagDmarcQ, { action: 'quarantine', detail: 'DMARC p=quarantine bank.test' }, 'a spam tag does not lower a DMARC quarantine');
});

