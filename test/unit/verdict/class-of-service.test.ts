/*
 * Unit tests of verdict/class-of-service.ts and decide()'s spam thresholds: class selection by
 * user, domain and direction (the most protective class wins for mixed recipients), actions at
 * the thresholds, X-Spam-* headers and the subject tag, a sender's own X-Spam-* removed, 550
 * SPAM_REJECT, outbound thresholds separate, and DMARC still first.
 */
import t from 'tap';
import { parseConfig } from '../../../gateway/src/config/index.js';
import { decide, selectClass, spamAction, classOf } from '../../../gateway/src/verdict/index.js';

const config = parseConfig({
  classes: {
    default: {},
    strict: { domains: ['bank.test'], users: ['ceo@corp.test'], inbound: { tag: 3, quarantine: 6, reject: 8, subjectTag: '[SPAM] ' }, outbound: { tag: null, quarantine: null, reject: 4 } },
    lenient: { users: ['abuse@bank.test'], inbound: { tag: null, quarantine: null, reject: null } },
  },
});

t.test('defaults: inbound 5/10/15, outbound held at 8 and refused at 15, never tagged', async (t) => {
  const d = parseConfig({}).classes['default']!;
  t.same(d.inbound, { tag: 5, quarantine: 10, reject: 15, subjectTag: '' });
  t.same(d.outbound, { tag: null, quarantine: 8, reject: 15, subjectTag: '' });
  t.throws(() => parseConfig({ classes: { strict: {} } }), /default/);
});

t.test('selection: user before domain before default; direction picks recipients or sender', async (t) => {
  const classes = config.classes;
  t.equal(classOf(classes, 'CEO@corp.test'), 'strict', 'user, case-insensitive');
  t.equal(classOf(classes, 'anyone@bank.test'), 'strict', 'domain');
  t.equal(classOf(classes, 'abuse@bank.test'), 'lenient', 'a listed user wins over a listed domain');
  t.equal(classOf(classes, 'bob@corp.test'), 'default');
  t.equal(selectClass(classes, 'inbound', { recipients: ['bob@corp.test'], sender: 'ceo@corp.test' }).name, 'default', 'inbound: the recipients');
  t.equal(selectClass(classes, 'outbound', { recipients: ['bob@corp.test'], sender: 'ceo@corp.test' }).name, 'strict', 'outbound: the sender');
  t.equal(selectClass(classes, 'outbound', { recipients: [], sender: 'x@corp.test', authUser: 'ceo@corp.test' }).name, 'strict', 'outbound: the authenticated user first');
  const mixed = selectClass(classes, 'inbound', { recipients: ['abuse@bank.test', 'bob@corp.test', 'ceo@corp.test'], sender: '' });
  t.equal(mixed.name, 'strict', 'mixed recipients: the most protective class');
  t.equal(selectClass(classes, 'inbound', { recipients: [], sender: '' }).name, 'default');
});

t.test('actions at the thresholds (reached at >=, null never)', async (t) => {
  const th = { tag: 5, quarantine: 10, reject: 15, subjectTag: '' };
  t.equal(spamAction(4.99, th), 'deliver');
  t.equal(spamAction(5, th), 'tag');
  t.equal(spamAction(10, th), 'quarantine');
  t.equal(spamAction(15, th), 'reject');
  t.equal(spamAction(1000, { tag: null, quarantine: null, reject: null, subjectTag: '' }), 'deliver');
});

t.test('decide: tag with X-Spam headers and subject tag; reject 550; sender headers removed; DMARC first', async (t) => {
  const cos = selectClass(config.classes, 'inbound', { recipients: ['ceo@corp.test'], sender: '' });
  const hits = [{ name: 'BAYES_SPAM_99', score: 5.5 }, { name: 'BAYES_UNTRAINED', score: 0 }];
  const v = decide({ direction: 'inbound', hits, tempfail: false, spam: { classOfService: cos, subject: 'Hello' } });
  t.equal(v.action, 'tag');
  t.same(v.headerEdits, [
    { op: 'remove', name: 'X-Spam-Status' }, { op: 'remove', name: 'X-Spam-Score' }, { op: 'remove', name: 'X-Spam-Symbols' },
    { op: 'prepend', name: 'X-Spam-Status', value: 'Yes, score=5.5 required=3.0 class=strict action=tag' },
    { op: 'prepend', name: 'X-Spam-Score', value: '5.50' },
    { op: 'prepend', name: 'X-Spam-Symbols', value: 'BAYES_SPAM_99(5.5)' },
    { op: 'remove', name: 'Subject' }, { op: 'prepend', name: 'Subject', value: '[SPAM] Hello' },
  ]);
  t.equal(decide({ direction: 'inbound', hits: [{ name: 'X_Y', score: 6 }], tempfail: false, spam: { classOfService: cos, subject: null } }).action, 'quarantine');
  t.match(decide({ direction: 'inbound', hits: [{ name: 'SPAM_GTUBE', score: 1000 }], tempfail: false, spam: { classOfService: cos, subject: null } }), { action: 'reject', reply: 'SPAM_REJECT', headerEdits: [] });
  const ham = decide({ direction: 'inbound', hits: [{ name: 'BAYES_HAM_05', score: -3 }], tempfail: false, spam: { classOfService: cos, subject: 'x' } });
  t.equal(ham.action, 'deliver');
  t.same(ham.headerEdits, [{ op: 'remove', name: 'X-Spam-Status' }, { op: 'remove', name: 'X-Spam-Score' }, { op: 'remove', name: 'X-Spam-Symbols' }], 'ham: only the sender\'s X-Spam headers go');
  // Outbound: the same score meets the outbound thresholds.
  const out = selectClass(config.classes, 'outbound', { recipients: [], sender: 'ceo@corp.test' });
  t.match(decide({ direction: 'outbound', hits, tempfail: false, spam: { classOfService: out, subject: null } }), { action: 'reject', reply: 'SPAM_REJECT' });
  // DMARC reject comes before spam; tempfail before everything.
  const auth = { spf: 'fail', dkim: 'none', dmarc: 'fail', arc: 'none', fromDomain: 'bank.test', dmarcPolicy: 'reject' as const };
  t.match(decide({ direction: 'inbound', hits, tempfail: false, authentication: auth, spam: { classOfService: cos, subject: null } }), { reply: 'DMARC_REJECT' });
  t.match(decide({ direction: 'inbound', hits, tempfail: true, spam: { classOfService: cos, subject: null } }), { action: 'defer' });
});
