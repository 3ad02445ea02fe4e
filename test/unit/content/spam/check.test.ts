/*
 * Unit tests of the content check `spam` (content/spam/check.ts) through scanContent: its hits
 * for inbound mail, nothing when spam.enabled is false, SPAM_TEMPFAIL with the 4xx when it cannot
 * finish, and optional auto-learn of confident verdicts (off by default).
 */
import t from 'tap';
import { Readable } from 'node:stream';
import { parseConfig } from '../../../../gateway/src/config/index.js';
import { loadContentScores, scanContent, type ContentContext } from '../../../../gateway/src/content/index.js';
import { spam } from '../../../../gateway/src/content/spam/check.js';
import { learnItem, tokensOf } from '../../../../gateway/src/content/spam/engine.js';
import type { Session } from '../../../../gateway/src/core/index.js';
import { BayesStore } from '../../../../gateway/src/state/bayes-store.js';
import { openState } from '../../../../gateway/src/state/index.js';

const session: Session = { id: 's', listener: 'mx', kind: 'mx', direction: 'inbound', clientIp: '192.0.2.1', clientPort: 1, ptr: null, helo: 'h', tls: null, authUser: null, trustedBy: null };
const raw = (id: string, body: string) => Buffer.from(`From: a@b.test\r\nDate: x\r\nSubject: s\r\nMessage-ID: <${id}>\r\n\r\n${body}\r\n`);

function ctx(config: ReturnType<typeof parseConfig>, store: BayesStore | null, body: Buffer, openBody?: () => Readable): ContentContext {
  const scores = loadContentScores();
  return {
    config, session, envelope: { mailFrom: 'a@b.test', recipients: ['u@corp.test'], size: body.length, bodyType: '8bitmime', smtpUtf8: false },
    message: { qid: 'Q', size: body.length, headers: [], messageId: null, addedHeaders: [], openBody: openBody ?? (() => Readable.from([body])) },
    resolve: (async () => { throw new Error('no dns'); }) as unknown as ContentContext['resolve'], scores,
    spam: { config: config.spam, store, features: null, scores: scores.spam },
  };
}

t.test('hits, disabled, tempfail', async (t) => {
  const config = parseConfig({ spam: { features: { enabled: false } } });
  const r = await scanContent(ctx(config, null, raw('1@x', 'hello')), [spam]);
  t.same(r.hits, [], 'a well-formed message without a store: no hits');
  t.equal(r.tempfail, false);
  const off = parseConfig({ spam: { enabled: false } });
  t.same((await scanContent(ctx(off, null, Buffer.from('Subject: x\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n')), [spam])).hits, [], 'spam.enabled false: nothing');
  const broken = () => new Readable({ read() { this.destroy(new Error('spool read failed')); } });
  const tf = await scanContent(ctx(config, null, raw('2@x', 'x'), broken), [spam]);
  t.match(tf, { tempfail: true, tempfailReply: 'LOCAL_ERROR', hits: [{ name: 'SPAM_TEMPFAIL', score: 0, detail: /spool read failed/ }] });
});

t.test('auto-learn: confident spam is learned (by auto-learn); off by default', async (t) => {
  const dir = t.testdir();
  const state = openState(dir);
  t.teardown(() => state.close());
  const store = new BayesStore(state.durable);
  const items = [];
  for (let i = 0; i < 3; i++) {
    items.push(learnItem(await tokensOf(raw(`s${i}@x`, 'cheap pills winner lottery casino'), 1 << 20), 'spam', [], 't'));
    items.push(learnItem(await tokensOf(raw(`h${i}@x`, 'meeting agenda kernel patch review'), 1 << 20), 'ham', [], 't'));
  }
  await store.learn(items);
  const off = parseConfig({ spam: { bayes: { minLearned: 3 }, features: { enabled: false } } });
  await scanContent(ctx(off, store, raw('new1@x', 'cheap pills casino winner lottery')), [spam]);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(store.learnedRecord('mid:<new1@x>'), undefined, 'off by default');
  const on = parseConfig({ spam: { bayes: { minLearned: 3, autoLearn: { enabled: true, spamAtOrAbove: 3 } }, features: { enabled: false } } });
  const r = await scanContent(ctx(on, store, raw('new2@x', 'cheap pills casino winner lottery')), [spam]);
  t.ok(r.hits.some((h) => h.name === 'BAYES_SPAM_99'));
  await t.resolveMatch((async () => {
    for (let i = 0; i < 50 && !store.learnedRecord('mid:<new2@x>'); i++) await new Promise((res) => setTimeout(res, 20));
    return store.learnedRecord('mid:<new2@x>');
  })(), { cls: 'spam', by: 'auto-learn' });
  t.equal(store.totals().nspam, 4);
});
