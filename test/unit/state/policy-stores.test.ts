/*
 * Unit tests of the policy stores (state/): network masks, decay and classification maths,
 * greylist triplet life cycle with an injected clock, rate counters (limits, all-or-nothing,
 * windows, concurrency from many async callers), sweeps.
 */
import t from 'tap';
import { classify, decay, greylistMatcher, GreylistStore, maskedNetwork, openState, policyStores, reputationKeys, sweepPolicyStores, zeroCounts } from '../../../gateway/src/state/index.js';
import { configSchema } from '../../../gateway/src/config/schema.js';

const DAY = 24 * 3600_000;

t.test('network masks', async (t) => {
  t.equal(maskedNetwork('192.0.2.77'), '192.0.2.0/24');
  t.equal(maskedNetwork('192.0.2.77', 16), '192.0.0.0/16');
  t.equal(maskedNetwork('192.0.2.77', 32), '192.0.2.77/32');
  t.equal(maskedNetwork('255.255.255.255', 24), '255.255.255.0/24', 'no sign overflow');
  t.equal(maskedNetwork('::ffff:198.51.100.9'), '198.51.100.0/24', 'IPv4-mapped IPv6 is judged as IPv4');
  t.equal(maskedNetwork('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  t.equal(maskedNetwork('2001:db8::1'), '2001:db8::/64');
  t.equal(maskedNetwork('2001:db8:abcd:12ff::1', 24, 56), '2001:db8:abcd:1200::/56', 'a prefix inside a group');
  t.equal(maskedNetwork('::1', 24, 128), '::1/128');
  t.throws(() => maskedNetwork('not-an-ip'));
});

t.test('decay halves per half-life; classification', async (t) => {
  const c = { ...zeroCounts(), ham: 8, spam: 4 };
  t.same(decay(c, 0, DAY), c, 'no time, no decay');
  const d = decay(c, DAY, DAY);
  t.equal(d.ham, 4);
  t.equal(d.spam, 2);
  t.equal(decay(c, 3 * DAY, DAY).ham, 1, 'three half-lives: an eighth');
  const opts = { minSamples: 5, goodBelow: 0.1, badAbove: 0.5 };
  t.equal(classify({ ...zeroCounts(), ham: 4 }, opts).cls, 'unknown', 'too few samples');
  t.equal(classify({ ...zeroCounts(), ham: 20, spam: 1 }, opts).cls, 'good');
  t.equal(classify({ ...zeroCounts(), ham: 10, spam: 3 }, opts).cls, 'neutral');
  t.equal(classify({ ...zeroCounts(), ham: 5, virus: 3 }, opts).cls, 'bad', 'a virus weighs double');
  t.equal(classify({ ...zeroCounts(), ham: 9, reject: 2 }, opts).badShare, 0.1, 'a reject weighs half');
});

t.test('reputation store: record, decayed read, reset, sweep', async (t) => {
  const st = openState(t.testdir({}));
  t.teardown(() => st.close());
  const rep = policyStores(st).reputation;
  const t0 = 1_800_000_000_000;
  await rep.record([{ key: 'ip:192.0.2.0/24', kind: 'ham' }, { key: 'ip:192.0.2.0/24', kind: 'ham' }, { key: 'from:example.com', kind: 'spam' }], DAY, t0);
  await rep.record([{ key: 'ip:192.0.2.0/24', kind: 'spam', n: 2 }], DAY, t0 + DAY);
  const r = rep.get('ip:192.0.2.0/24', DAY, t0 + DAY)!;
  t.equal(r.counts.ham, 1, 'two ham a half-life ago count one');
  t.equal(r.counts.spam, 2);
  t.equal(r.since, t0, 'since is the first event');
  await Promise.all(Array.from({ length: 50 }, () => rep.record([{ key: 'from:busy.example', kind: 'ham' }], DAY, t0)));
  t.equal(rep.get('from:busy.example', DAY, t0)!.counts.ham, 50, 'concurrent updates are not lost');
  t.equal(await rep.sweep(DAY, t0 + 30 * DAY), 3, 'after 30 half-lives nothing is left worth keeping');
  t.equal(rep.get('from:example.com', DAY, t0), null);
});

t.test('reputation learning is batched: one batch keeps every event, in time order; close flushes', async (t) => {
  const dir = t.testdir({});
  const st = openState(dir);
  const rep = policyStores(st).reputation;
  const t0 = 1_800_000_000_000;
  // Not awaited one by one: the events of one turn share a transaction.
  const batch = [
    rep.record([{ key: 'ip:198.51.100.0/24', kind: 'ham', n: 4 }], DAY, t0),
    rep.record([{ key: 'ip:198.51.100.0/24', kind: 'spam' }], DAY, t0 + DAY),
    rep.record([{ key: 'ip:198.51.100.0/24', kind: 'ham' }, { key: 'from:batch.example', kind: 'reject' }], DAY, t0 + DAY),
  ];
  t.equal(rep.get('ip:198.51.100.0/24', DAY, t0 + DAY), null, 'nothing written before the batch is flushed');
  await Promise.all(batch);
  const r = rep.get('ip:198.51.100.0/24', DAY, t0 + DAY)!;
  t.equal(r.counts.ham, 3, '4 ham a half-life before the later events count 2, plus 1');
  t.equal(r.counts.spam, 1);
  t.equal(r.since, t0);
  t.equal(rep.get('from:batch.example', DAY, t0 + DAY)!.counts.reject, 1);
  // Pending events are written when the state closes (a draining worker loses nothing).
  void rep.record([{ key: 'from:late.example', kind: 'ham' }], DAY, t0);
  await st.close();
  const again = openState(dir);
  t.teardown(() => again.close());
  t.equal(policyStores(again).reputation.get('from:late.example', DAY, t0)!.counts.ham, 1, 'flushed on close');
});

t.test('rate counters: batched requests of one turn stay exact', async (t) => {
  const st = openState(t.testdir({}));
  t.teardown(() => st.close());
  const rates = policyStores(st).rates;
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % 60_000);
  const req = (n: number) => [
    { key: 'in:clientIp:203.0.113.5', windowMs: 60_000, limits: { recipients: 5 }, add: { recipients: n } },
    { key: 'in:senderDomain:x.example', windowMs: 60_000, limits: { recipients: 100 }, add: { recipients: n } },
  ];
  // Seven callers in one turn, one transaction: 2 + 2 fit (4), the third 2 would make 6 (refused,
  // nothing counted), a 1 still fits (5), everything after is refused.
  const results = await Promise.all([2, 2, 2, 1, 1, 3, 1].map((n) => rates.consumeBatched(req(n), 'all-or-nothing', t0)));
  t.same(results.map((r) => r === null), [true, true, false, true, false, false, false]);
  t.equal(rates.current('in:clientIp:203.0.113.5', 60_000, t0)!.recipients, 5, 'exactly the limit was counted');
  t.equal(rates.current('in:senderDomain:x.example', 60_000, t0)!.recipients, 5, 'refused requests counted on no key');
  const always = await rates.consumeBatched(req(2), 'always', t0);
  t.equal(always?.wouldBe, 7, "'always' reports the excess and counts");
  t.equal(rates.current('in:clientIp:203.0.113.5', 60_000, t0)!.recipients, 7);
  // Many turns, many callers: the burst of the test above through the batched path.
  const burst = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    if (i % 3 === 0) await new Promise((r) => setImmediate(r));
    return rates.consumeBatched([{ key: 'burst2', windowMs: 3600_000, limits: { messages: 120 }, add: { messages: 1 } }], 'all-or-nothing', t0 + i);
  }));
  t.equal(burst.filter((r) => r === null).length, 120, 'exactly 120 of 200 fit');
});

t.test('rate counters: peek trusts what a process saw only far from the limit, and only for a second', async (t) => {
  const dir = t.testdir({});
  // Two StateEnvs on one directory: two receivers, each with its own view of the counters.
  const a = openState(dir);
  const b = openState(dir);
  t.teardown(() => { a.close(); b.close(); });
  const ra = policyStores(a).rates;
  const rb = policyStores(b).rates;
  const now = Date.now();
  const req = (n: number, key = 'in:clientIp:198.51.100.9') => [{ key, windowMs: 3600_000, limits: { messages: 100 }, add: { messages: n } }];
  t.equal(ra.peek(req(1), now), null, 'A reads 0: one more fits');
  t.equal(rb.consume(req(100), 'all-or-nothing', now), null, 'B fills the window');
  t.equal(ra.peek(req(1), now), null, "A's view (0, far from the limit) is still trusted within the second: the exact count after DATA refuses");
  t.equal(ra.consume(req(1), 'all-or-nothing', now)?.wouldBe, 101, 'the write transaction sees the real count');
  t.equal(ra.peek(req(1), now)?.wouldBe, 101, 'and A saw it there: its view is now the real count');
  t.equal(rb.peek(req(1), now)?.wouldBe, 101, 'B counted 100 itself: its view is near the limit');

  // Near the limit the store is always read.
  const k = 'in:clientIp:198.51.100.10';
  t.equal(ra.consume(req(60, k), 'all-or-nothing', now), null, 'A counts 60 itself');
  t.equal(rb.consume(req(40, k), 'all-or-nothing', now), null, 'B counts the last 40');
  await new Promise((r) => setImmediate(r)); // another process's commit is seen from the next event turn
  t.equal(ra.peek(req(1, k), now)?.wouldBe, 101, 'A, above half the limit, reads the store and refuses at once');
});

t.test('greylist triplets with an injected clock', async (t) => {
  const st = openState(t.testdir({}));
  t.teardown(() => st.close());
  const g = policyStores(st).greylist;
  const times = { delayMs: 300_000, retryWindowMs: 3600_000, lifetimeMs: 10 * DAY };
  const k = GreylistStore.triplet('192.0.2.0/24', 'A@Example.com', 'bob@corp.test');
  t.same(k, ['192.0.2.0/24', 'a@example.com', 'bob@corp.test'], 'lower-cased');
  const t0 = 1_800_000_000_000;
  t.same(g.check([k], times, t0), ['new']);
  t.same(g.check([k], times, t0 + 60_000), ['early'], 'retry within the delay');
  t.same(g.check([k], times, t0 + 300_000), ['passed'], 'retry after the delay');
  t.same(g.check([k], times, t0 + 9 * DAY), ['known'], 'known within its lifetime, which is refreshed');
  t.same(g.check([k], times, t0 + 18 * DAY), ['known']);
  t.same(g.check([k], times, t0 + 30 * DAY), ['new'], 'forgotten after the lifetime');
  const late = GreylistStore.triplet('192.0.2.0/24', '', 'carol@corp.test');
  t.equal(late[1], '<>', 'the null sender is stored as <>');
  g.check([late], times, t0);
  t.same(g.check([late], times, t0 + 2 * 3600_000), ['new'], 'a retry after the retry window starts over');
  const p = GreylistStore.triplet('198.51.100.0/24', 'x@spam.example', 'bob@corp.test');
  g.check([p], times, t0);
  const cfg = configSchema.parse({});
  t.equal(await g.release(greylistMatcher(cfg, '198.51.100.200')!, times.lifetimeMs, t0 + 1000), 1, 'release by IP (its network)');
  t.same(g.check([p], times, t0 + 2000), ['known'], 'released: passes at once');
  t.equal(greylistMatcher(cfg, 'nonsense here'), null);
  t.ok(greylistMatcher(cfg, 'spam.example')!(p), 'a domain matches the sender domain');
  t.equal(await g.sweep(t0 + 100 * DAY), 3, 'everything expired is swept');
});

t.test('greylist: a known triplet is answered from what this process saw, only while it is fresh', async (t) => {
  const dir = t.testdir({});
  const a = openState(dir);
  const b = openState(dir);
  t.teardown(async () => { await a.close(); await b.close(); });
  const ga = policyStores(a).greylist;
  const gb = policyStores(b).greylist;
  const times = { delayMs: 300_000, retryWindowMs: 3600_000, lifetimeMs: 10 * DAY };
  const k = GreylistStore.triplet('192.0.2.0/24', 'a@example.com', 'bob@corp.test');
  const t0 = 1_800_000_000_000;
  ga.check([k], times, t0);
  t.same(gb.check([k], times, t0 + 300_000), ['passed'], 'the other process lets the retry pass');
  t.same(ga.check([k], times, t0 + 400_000), ['known'], 'this one reads the passed triplet');
  // Gone from the store behind its back (nothing does that, which is why the memory is exact):
  // the next answer within the hour comes from memory, not from the store.
  await a.cache.transaction(() => a.cache.openDB('greylist', { encoding: 'msgpack', keyEncoding: 'ordered-binary' }).removeSync(k));
  t.same(ga.check([k], times, t0 + 500_000), ['known'], 'answered from memory');
  t.same(gb.check([k], times, t0 + 500_000), ['known'], 'the process that let it pass remembers it too');
  const c = openState(dir);
  t.teardown(() => c.close());
  t.same(policyStores(c).greylist.check([k], times, t0 + 500_000), ['new'], 'a process that never saw it reads the store');
  t.same(ga.check([k], times, t0 + 2 * 3600_000), ['new'], 'an hour after its last use the store is read again (started over by the third)');
  // A lifetime under an hour: an expired known triplet is never "fresh" (the store starts it over).
  const short = { delayMs: 300_000, retryWindowMs: 3600_000, lifetimeMs: 600_000 };
  const q = GreylistStore.triplet('192.0.2.0/24', 'q@example.com', 'bob@corp.test');
  ga.check([q], short, t0);
  t.same(ga.check([q], short, t0 + 300_000), ['passed']);
  t.same(ga.check([q], short, t0 + 600_000), ['known'], 'known within its 10 minutes');
  t.same(ga.check([q], short, t0 + 600_000 + 600_001), ['new'], 'expired: started over, not answered from memory');
});

t.test('rate counters: limits, all-or-nothing, windows', async (t) => {
  const st = openState(t.testdir({}));
  t.teardown(() => st.close());
  const rates = policyStores(st).rates;
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % 60_000);
  const req = (add: number) => [
    { key: 'in:clientIp:192.0.2.7', windowMs: 60_000, limits: { messages: 3 }, add: { messages: add } },
    { key: 'in:sender:a@x', windowMs: 60_000, limits: { messages: 10 }, add: { messages: add } },
  ];
  t.equal(rates.consume(req(1), 'all-or-nothing', t0), null);
  t.equal(rates.consume(req(2), 'all-or-nothing', t0), null, 'exactly at the limit is fine');
  const over = rates.consume(req(1), 'all-or-nothing', t0 + 1000);
  t.same(over && { key: over.key, unit: over.unit, limit: over.limit, wouldBe: over.wouldBe }, { key: 'in:clientIp:192.0.2.7', unit: 'messages', limit: 3, wouldBe: 4 });
  t.equal(rates.current('in:sender:a@x', 60_000, t0)!.messages, 3, 'nothing was counted for the refused request');
  t.equal(rates.consume(req(1), 'all-or-nothing', t0 + 60_000), null, 'the next window starts at zero');
  t.ok(rates.consume(req(5), 'always', t0 + 60_000), "'always' reports the excess…");
  t.equal(rates.current('in:sender:a@x', 60_000, t0 + 60_000)!.messages, 6, '…and counts anyway');
  // Many callers at once (the per-process half of "exact under concurrency"; e2e covers 2 processes).
  const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    await new Promise((r) => setImmediate(r));
    return rates.consume([{ key: 'burst', windowMs: 3600_000, limits: { recipients: 150 }, add: { recipients: 1 } }], 'all-or-nothing', t0 + i);
  }));
  t.equal(results.filter((r) => r === null).length, 150, 'exactly 150 of 200 fit');
  t.equal(await rates.sweep(t0 + 2 * 3600_000), 3, 'keys whose windows all ended are swept (2 keys, and the burst)');
  t.same(await sweepPolicyStores(st, DAY, t0 + 2 * 3600_000), { reputation: 0, greylist: 0, rates: 0 });
});

t.test('reputation subjects', async (t) => {
  const cfg = configSchema.parse({});
  t.same(reputationKeys(cfg, '192.0.2.9'), ['ip:192.0.2.0/24']);
  t.same(reputationKeys(cfg, '2001:db8::/64'), ['ip:2001:db8::/64']);
  t.same(reputationKeys(cfg, 'Example.COM.'), ['from:example.com', 'dkim:example.com']);
  t.equal(reputationKeys(cfg, 'not a domain!'), null);
});

t.test('rate counters: the windows of one key share a record and keep their own counts', async (t) => {
  const st = openState(t.testdir({}));
  t.teardown(() => st.close());
  const rates = policyStores(st).rates;
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % 3600_000);
  const key = 'in:clientIp:192.0.2.99';
  const req = (n: number) => [
    { key, windowMs: 60_000, limits: { messages: 5 }, add: { messages: n, bytes: 100 * n } },
    { key, windowMs: 3600_000, limits: { messages: 8, bytes: 10_000 }, add: { messages: n, bytes: 100 * n } },
  ];
  t.equal(rates.consume(req(4), 'all-or-nothing', t0), null);
  t.equal(rates.consume(req(2), 'all-or-nothing', t0 + 1000)?.windowMs, 60_000, 'the minute window refuses the sixth');
  t.equal(rates.consume(req(3), 'all-or-nothing', t0 + 60_000), null, 'a new minute: the hour counts on');
  t.same(rates.current(key, 60_000, t0 + 60_000), { messages: 3, recipients: 0, bytes: 300, ends: t0 + 120_000 });
  t.same(rates.current(key, 3600_000, t0 + 60_000), { messages: 7, recipients: 0, bytes: 700, ends: t0 + 3600_000 });
  t.equal(rates.current(key, 60_000, t0), null, 'the ended minute is gone from the record');
  const over = rates.consume(req(2), 'all-or-nothing', t0 + 120_000);
  t.same(over && [over.windowMs, over.unit, over.wouldBe], [3600_000, 'messages', 9], 'the hour refuses the ninth');
  t.equal(rates.peek(req(1), t0 + 120_000), null, 'one more still fits both');
  t.equal(await rates.sweep(t0 + 3600_000), 1, 'swept once every window of the key ended');
});
