/*
 * Unit tests of policy/checks/reputation-view.ts: what a verdict teaches, which DKIM domain is
 * aligned, and which symbols a judgement gives (scores from rules/scores/reputation.yaml).
 */
import t from 'tap';
import { configSchema } from '../../../gateway/src/config/schema.js';
import type { AuthenticationOutcome, Verdict } from '../../../gateway/src/core/index.js';
import { alignedDkimDomain, learnFromReject, learnFromVerdict, lessonsOf, look, reputationScores, symbolsOf, symbolsOfLooks, REPUTATION_SYMBOLS } from '../../../gateway/src/policy/checks/reputation-view.js';
import { openState, policyStores, zeroCounts } from '../../../gateway/src/state/index.js';
import type { Session } from '../../../gateway/src/core/index.js';

const config = configSchema.parse({});
const auth = (o: Partial<AuthenticationOutcome> = {}): AuthenticationOutcome => ({ spf: 'pass', dkim: 'pass', dmarc: 'pass', arc: 'none', fromDomain: 'news.example.com', dmarcPolicy: null, ...o });
const verdict = (o: Partial<Verdict> = {}): Verdict => ({ action: 'deliver', score: 0, hits: [], headerEdits: [], extraRecipients: [], ...o });

t.test('lessons of a verdict', async (t) => {
  t.same(lessonsOf(config, verdict(), auth()), ['ham']);
  t.same(lessonsOf(config, verdict({ hits: [{ name: 'BAYES_SPAM', score: 7 }] }), auth()), ['spam'], 'scoring reputation.spamScore');
  t.same(lessonsOf(config, verdict({ hits: [{ name: 'X_Y', score: 2 }, { name: 'REPUTATION_IP_BAD', score: 5 }] }), auth()), ['ham'], 'reputation symbols do not feed on themselves');
  t.same(lessonsOf(config, verdict({ action: 'reject' }), auth({ dmarc: 'fail' })), ['spam', 'authfail']);
  t.same(lessonsOf(config, verdict({ action: 'quarantine', hits: [{ name: 'AV_VIRUS', score: 0 }] }), auth({ spf: 'fail' })), ['virus', 'authfail']);
});

t.test('the DKIM-aligned domain', async (t) => {
  const hits = [{ name: 'DKIM_ALLOW', score: -0.2, detail: 'mailer.example.net:s=a example.com:s=b' }];
  t.equal(alignedDkimDomain(hits, auth()), 'example.com', 'relaxed alignment: the organisational domain signs');
  t.equal(alignedDkimDomain([{ name: 'DKIM_ALLOW', score: 0, detail: 'mailer.example.net:s=a' }], auth()), null, 'a third-party signature is not aligned');
  t.equal(alignedDkimDomain([{ name: 'DKIM_REJECT', score: 1, detail: 'example.com:s=b' }], auth()), null, 'a failed signature never counts');
  t.equal(alignedDkimDomain(hits, null), null);
});

t.test('symbols of a judgement', async (t) => {
  const scores = reputationScores();
  t.same(scores.names().sort(), [...REPUTATION_SYMBOLS].sort(), 'the score file and the code agree');
  const rec = (ham: number, spam: number) => ({ counts: { ...zeroCounts(), ham, spam }, at: 0, since: 0 });
  const hits = symbolsOf([
    { scope: 'ip', key: 'ip:192.0.2.0/24', cls: 'bad', record: rec(1, 9) },
    { scope: 'dkim', key: 'dkim:example.com', cls: 'good', record: rec(40, 0) },
    { scope: 'from', key: 'from:example.org', cls: 'neutral', record: rec(5, 2) },
    { scope: 'from', key: 'from:new.example', cls: 'unknown', record: null },
  ], scores);
  t.same(hits.map((h) => h.name), ['REPUTATION_IP_BAD', 'REPUTATION_DKIM_GOOD'], 'neutral and unknown say nothing');
  t.ok(hits[0]!.score > 0 && hits[1]!.score < 0, 'bad raises, good lowers');
  t.match(hits[0]!.detail, /^192\.0\.2\.0\/24 ham=1\.0 spam=9\.0/);
});

t.test('learning: a session teaches one reject, for the network only; outbound teaches nothing', async (t) => {
  const st = openState(t.testdir({}));
  t.teardown(() => st.close());
  const store = policyStores(st).reputation;
  const session = (direction: 'inbound' | 'outbound'): Session => ({ id: 'x', listener: 'mx', kind: direction === 'inbound' ? 'mx' : 'submission', direction, clientIp: '198.51.100.20', clientPort: 1, ptr: null, helo: '', tls: null, authUser: null, trustedBy: null });
  const s1 = session('inbound');
  for (let i = 0; i < 5; i++) await learnFromReject(store, config, s1);
  await learnFromReject(store, config, session('inbound'));
  const day = config.reputation.halfLifeMs;
  t.equal(Math.round(store.get('ip:198.51.100.0/24', day)!.counts.reject), 2, 'two sessions, two rejects');
  t.equal(store.get('from:example.com', day), null, 'the sender domain is not blamed');
  await learnFromVerdict(store, config, session('outbound'), 'a@example.com', verdict(), auth());
  t.equal(store.get('from:example.com', day), null, 'outbound verdicts teach nothing');
  await learnFromVerdict(store, config, session('inbound'), 'a@Example.com', verdict({ hits: [{ name: 'DKIM_ALLOW', score: 0, detail: 'example.com:s=x' }] }), auth({ fromDomain: 'example.com' }));
  t.equal(Math.round(store.get('from:example.com', day)!.counts.ham), 1, 'inbound ham for the sender domain');
  t.equal(Math.round(store.get('dkim:example.com', day)!.counts.ham), 1, 'and for the aligned DKIM domain');
  await learnFromVerdict(store, config, session('inbound'), 'a@example.com', verdict({ action: 'defer' }), auth());
  t.equal(Math.round(store.get('from:example.com', day)!.counts.ham), 1, 'a deferral teaches nothing');
});

t.test('a client\'s next session sees what this process just learnt, before the batched write lands', async (t) => {
  const st = openState(t.testdir({}));
  t.teardown(() => st.close());
  const store = policyStores(st).reputation;
  const session = (): Session => ({ id: 'y', listener: 'mx', kind: 'mx', direction: 'inbound', clientIp: '203.0.113.77', clientPort: 1, ptr: null, helo: '', tls: null, authUser: null, trustedBy: null });
  const key = 'ip:203.0.113.0/24';
  t.equal(look(store, config, 'ip', key, Date.now(), session()).record, null, 'nothing known yet (and that is now reused)');
  const written = learnFromVerdict(store, config, session(), 'a@example.net', verdict(), auth());
  t.equal(store.get(key, config.reputation.halfLifeMs), null, 'the batched write has not landed yet');
  const seen = look(store, config, 'ip', key, Date.now(), session());
  t.equal(Math.round(seen.record!.counts.ham), 1, 'the reused record already has the lesson');
  await written;
  t.equal(Math.round(store.get(key, config.reputation.halfLifeMs)!.counts.ham), 1, 'and the store agrees once written');
  const spam = verdict({ action: 'reject' });
  for (let i = 0; i < 9; i++) void learnFromVerdict(store, config, session(), 'a@example.net', spam, auth());
  const after = look(store, config, 'ip', key, Date.now(), session());
  t.equal(Math.round(after.record!.counts.spam), 9);
  t.equal(after.cls, 'bad', 'classified from the reused record');
  t.same(symbolsOfLooks([after]).map((h) => h.name), ['REPUTATION_IP_BAD'], 'its symbol');
});
