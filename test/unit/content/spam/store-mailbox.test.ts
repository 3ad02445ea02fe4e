/*
 * Unit tests of state/bayes-store.ts (idempotent learning per message, moving a message to the
 * other class, per-domain scopes, scoring through scoreMessage with minLearned) and of
 * content/spam/mailbox.ts (message file, mbox with >From unquoting, maildir, plain directory).
 */
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../../../gateway/src/config/index.js';
import { loadContentScores } from '../../../../gateway/src/content/index.js';
import { learnItem, scoreMessage, tokensOf } from '../../../../gateway/src/content/spam/engine.js';
import { readMailbox, splitMbox } from '../../../../gateway/src/content/spam/mailbox.js';
import { BayesStore } from '../../../../gateway/src/state/bayes-store.js';
import { openState } from '../../../../gateway/src/state/index.js';

const msg = (id: string, body: string) => Buffer.from(`From: a@b.test\r\nSubject: s\r\nMessage-ID: <${id}>\r\n\r\n${body}\r\n`);

t.test('learning is idempotent per message; relearning as the other class moves it; scopes', async (t) => {
  const dir = t.testdir();
  const state = openState(dir);
  t.teardown(() => state.close());
  const store = new BayesStore(state.durable);
  const spam = await tokensOf(msg('s1@x', 'cheap pills winner'), 1 << 20);
  t.same(await store.learn([learnItem(spam, 'spam', ['corp.test'], 'test')]), { learned: 1, relearned: 0, unchanged: 0 });
  t.same(store.totals(), { nspam: 1, nham: 0 });
  t.same(store.totals('corp.test'), { nspam: 1, nham: 0 }, 'the domain scope too');
  t.same(store.counts('', 'cheap'), { spam: 1, ham: 0 });
  t.same(await store.learn([learnItem(spam, 'spam', [], 'test'), learnItem(spam, 'spam', [], 'test')]), { learned: 0, relearned: 0, unchanged: 2 }, 'same message, same class: counted once');
  t.same(store.counts('', 'cheap'), { spam: 1, ham: 0 });
  t.same(await store.learn([learnItem(spam, 'ham', [], 'postmaster')]), { learned: 0, relearned: 1, unchanged: 0 });
  t.same(store.totals(), { nspam: 0, nham: 1 }, 'moved to ham');
  t.same(store.totals('corp.test'), { nspam: 0, nham: 0 }, 'and out of the scopes it was learned in');
  t.same(store.counts('', 'cheap'), { spam: 0, ham: 1 });
  t.equal(store.counts('corp.test', 'cheap'), undefined, 'zero counts are removed');
  t.match(store.learnedRecord('mid:<s1@x>'), { cls: 'ham', by: 'postmaster' });
});

t.test('scoreMessage: abstains below minLearned; per-domain scope once trained; graded band', async (t) => {
  const dir = t.testdir();
  const state = openState(dir);
  t.teardown(() => state.close());
  const store = new BayesStore(state.durable);
  const config = parseConfig({ spam: { bayes: { minLearned: 3 }, features: { enabled: false } } });
  const rt = { config: config.spam, store, features: null, scores: loadContentScores().spam };
  let r = await scoreMessage(rt, msg('q@x', 'cheap pills'), 100, []);
  t.match(r.hits.find((h) => h.name === 'BAYES_UNTRAINED'), { score: 0, detail: 'global: 0 spam, 0 ham learned' });
  const items = [];
  for (let i = 0; i < 4; i++) {
    items.push(learnItem(await tokensOf(msg(`s${i}@x`, 'cheap pills winner lottery casino'), 1 << 20), 'spam', [], 't'));
    items.push(learnItem(await tokensOf(msg(`h${i}@x`, 'meeting agenda kernel patch review'), 1 << 20), 'ham', ['corp.test'], 't'));
  }
  await store.learn(items);
  r = await scoreMessage(rt, msg('q2@x', 'cheap pills casino winner'), 100, ['corp.test']);
  t.equal(r.probability! > 0.9, true, `spam p=${r.probability}`);
  t.match(r.hits.find((h) => h.name.startsWith('BAYES_SPAM')), { detail: /global$/ }, 'corp.test has no spam learned: global scope');
  r = await scoreMessage(rt, msg('q3@x', 'meeting agenda review'), 100, []);
  t.ok(r.hits.some((h) => h.name === 'BAYES_HAM_05' && h.score < 0), 'ham band');
});

t.test('mailbox: file, mbox (>From unquoted), maildir, directory', async (t) => {
  const dir = t.testdir({
    'one.eml': 'Subject: one\r\n\r\nbody\r\n',
    'box.mbox': 'From a@b Sat Nov 28 00:00:00 2026\nSubject: m1\n\nline\n>From here\n\nFrom c@d Sat Nov 28 00:00:01 2026\nSubject: m2\n\nsecond\n',
    plain: { 'b.eml': 'Subject: b\n\nx\n', 'a.eml': 'Subject: a\n\nx\n', '.hidden': 'x' },
  });
  mkdirSync(join(dir, 'md', 'cur'), { recursive: true });
  mkdirSync(join(dir, 'md', 'new'));
  mkdirSync(join(dir, 'md', 'tmp'));
  writeFileSync(join(dir, 'md', 'cur', '1.x:2,S'), 'Subject: cur\n\nx\n');
  writeFileSync(join(dir, 'md', 'new', '2.x'), 'Subject: new\n\nx\n');
  writeFileSync(join(dir, 'md', 'tmp', '3.x'), 'Subject: tmp\n\nx\n');
  const subjects = (p: string) => [...readMailbox(p)].map((m) => /Subject: (\w+)/.exec(m.raw.toString())![1]);
  t.same(subjects(join(dir, 'one.eml')), ['one']);
  const mbox = [...readMailbox(join(dir, 'box.mbox'))];
  t.same(mbox.map((m) => m.file), [`${join(dir, 'box.mbox')}#1`, `${join(dir, 'box.mbox')}#2`]);
  t.match(mbox[0]!.raw.toString(), /^Subject: m1\n\nline\nFrom here\n/, 'envelope line dropped, >From unquoted');
  t.same(subjects(join(dir, 'md')), ['cur', 'new'], 'maildir: cur and new, not tmp');
  t.same(subjects(join(dir, 'plain')), ['a', 'b'], 'a directory: its files in name order, no dot files');
  // A single message given to splitMbox (the corpus loader) keeps its first line when it is a
  // header, not an mbox "From " line (SpamAssassin sees Return-Path: there).
  const single = [...splitMbox('x.txt', Buffer.from('Return-Path: <a@b.test>\nSubject: s\n\nbody\n'))];
  t.equal(single.length, 1);
  t.match(single[0]!.raw.toString(), /^Return-Path: <a@b\.test>\nSubject: s\n/, 'first header line kept');
  const withFrom = [...splitMbox('y.txt', Buffer.from('From a@b  Thu Aug 22 12:36:23 2002\nReturn-Path: <a@b.test>\n\nbody\n'))];
  t.match(withFrom[0]!.raw.toString(), /^Return-Path: /, 'an mbox separator line is still dropped');
  // Only a "From " line after an empty line and with a time separates messages: not an obsolete
  // header written "From  :" (SpamAssassin's t/data/spam/008) nor an unquoted body line after a
  // paragraph break; a CRLF mbox splits too.
  const tricky = [...splitMbox('z.mbox', Buffer.from('From a@b  Fri Dec  7 11:07:41 2001\nReceived: from x\nFrom  :<t@example.com>\nSubject: s\n\nintro\n\nFrom home recordings to mp3s\n\nFrom c@d Sat Dec  8 01:02:03 2001\r\nSubject: two\r\n\r\nx\r\n\r\nFrom e@f Sat Dec  8 01:02:04 2001\r\nSubject: three\r\n\r\ny\r\n'))];
  t.same(tricky.map((m) => /^Subject: (.*?)\r?$/m.exec(m.raw.toString())?.[1]), ['s', 'two', 'three']);
  t.match(tricky[0]!.raw.toString(), /From  :<t@example\.com>\nSubject: s\n\nintro\n\nFrom home recordings to mp3s\n/, 'the first message whole');
});
