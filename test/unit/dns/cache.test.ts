/* dns/cache.ts: TTL expiry, LRU eviction, and the zero-size / zero-TTL cases. Pure, no peers. */
import t from 'tap';
import { AnswerCache } from '../../../gateway/src/dns/cache.js';

t.test('entries expire at their TTL', async (t) => {
  let now = 1000;
  const c = new AnswerCache(10, () => now);
  c.set('A x', { ok: true, value: ['192.0.2.1'] }, 5000);
  t.same(c.get('A x'), { ok: true, value: ['192.0.2.1'] });
  now += 4999;
  t.ok(c.get('A x'), 'still fresh just before expiry');
  now += 1;
  t.equal(c.get('A x'), undefined, 'gone at expiry');
  t.equal(c.size, 0, 'expired entry dropped on read');
});

t.test('least recently used entry is evicted first', async (t) => {
  const c = new AnswerCache(2, () => 0);
  c.set('a', { ok: true, value: 1 }, 1000);
  c.set('b', { ok: true, value: 2 }, 1000);
  c.get('a');
  c.set('c', { ok: true, value: 3 }, 1000);
  t.ok(c.get('a'), 'recently read entry kept');
  t.equal(c.get('b'), undefined, 'least recently used evicted');
  t.ok(c.get('c'));
  t.equal(c.size, 2);
});

t.test('zero size or zero TTL caches nothing', async (t) => {
  const off = new AnswerCache(0, () => 0);
  off.set('a', { ok: true, value: 1 }, 1000);
  t.equal(off.get('a'), undefined);
  const c = new AnswerCache(5, () => 0);
  c.set('a', { ok: true, value: 1 }, 0);
  t.equal(c.get('a'), undefined);
  c.set('b', { ok: false, code: 'ENOTFOUND', syscall: 'queryA', hostname: 'b' }, 10);
  t.same(c.get('b'), { ok: false, code: 'ENOTFOUND', syscall: 'queryA', hostname: 'b' });
  c.clear();
  t.equal(c.size, 0);
});
