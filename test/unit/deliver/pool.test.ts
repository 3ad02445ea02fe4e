/* deliver/pool.ts with fake sessions: reuse, per-destination and global limits, idle expiry, close. */
import t from 'tap';
import { SessionPool, type Poolable } from '../../../gateway/src/deliver/pool.js';

class Fake implements Poolable {
  usable = true;
  closed = false;
  constructor(readonly name: string, readonly openedAt = 0) {}
  close(): void {
    this.closed = true;
    this.usable = false;
  }
}

const tick = () => new Promise((r) => setImmediate(r));

t.test('a released session is reused by the next lease for the same destination', async (t) => {
  const pool = new SessionPool<Fake>({ max: 10, perDestination: 2 }, { now: () => 0 });
  const l1 = await pool.acquire('a');
  t.equal(l1.session, null, 'nothing idle: open one');
  const s = new Fake('s1');
  pool.release(l1, s);
  t.match(pool.stats(), { open: 1, idle: 1 });
  const l2 = await pool.acquire('a');
  t.equal(l2.session, s, 'idle session handed out');
  const l3 = await pool.acquire('b');
  t.equal(l3.session, null, 'other destinations do not share sessions');
  s.usable = false;
  pool.release(l2, s);
  t.ok(s.closed, 'a session released while unusable is closed, not parked');
  pool.release(l3, null);
  t.match(pool.stats(), { open: 0, idle: 0 });
  pool.close();
});

t.test('per-destination limit queues leases and hands them over in order', async (t) => {
  const pool = new SessionPool<Fake>({ max: 10, perDestination: 1 }, { now: () => 0 });
  const l1 = await pool.acquire('a');
  let got2: unknown = null;
  const p2 = pool.acquire('a').then((l) => { got2 = l; return l; });
  const l3 = await pool.acquire('b');
  t.equal(l3.session, null, 'another destination is not blocked');
  await tick();
  t.equal(got2, null, 'second lease for a waits');
  t.match(pool.stats(), { waiting: 1, open: 2 });
  const s = new Fake('s1');
  pool.release(l1, s);
  const l2 = await p2;
  t.equal(l2.session, s, 'the waiter gets the released session directly');
  pool.release(l2, null);
  pool.release(l3, null);
  t.match(pool.stats(), { open: 0, waiting: 0 });
  pool.close();
});

t.test('global limit: an idle session of another destination is closed to make room', async (t) => {
  const pool = new SessionPool<Fake>({ max: 2, perDestination: 2 }, { now: () => 0 });
  const a = await pool.acquire('a');
  const b = await pool.acquire('b');
  const idleA = new Fake('idle-a');
  pool.release(a, idleA);
  const c = await pool.acquire('c');
  t.equal(c.session, null);
  t.ok(idleA.closed, 'idle session of a evicted');
  let got: unknown = null;
  const pd = pool.acquire('d').then((l) => { got = l; return l; });
  await tick();
  t.equal(got, null, 'nothing idle to evict: d waits');
  pool.release(b, null);
  const d = await pd;
  t.equal(d.session, null, 'freed slot goes to the waiter');
  pool.release(c, null);
  pool.release(d, null);
  t.match(pool.stats(), { open: 0 });
  pool.close();
});

t.test('idle sessions expire, dead ones are not handed out, old ones are not kept', async (t) => {
  let now = 0;
  const pool = new SessionPool<Fake>({ max: 10, perDestination: 5 }, { now: () => now, idleMs: 100, maxAgeMs: 1000 });
  const l1 = await pool.acquire('a');
  const l2 = await pool.acquire('a');
  const l3 = await pool.acquire('a');
  const s1 = new Fake('s1');
  const s2 = new Fake('s2');
  pool.release(l1, s1);
  pool.release(l2, s2);
  s2.usable = false; // the server closed it while idle
  const again = await pool.acquire('a');
  t.equal(again.session, s1, 'the dead one is skipped and closed');
  t.ok(s2.closed);
  pool.release(again, s1);
  now = 150;
  const after = await pool.acquire('a');
  t.equal(after.session, null, 'idle longer than idleMs: not reused');
  t.ok(s1.closed);
  const old = new Fake('old', -2000);
  pool.release(l3, old);
  t.ok(old.closed, 'older than maxAgeMs: closed on release');
  pool.release(after, null);
  t.match(pool.stats(), { open: 0, idle: 0 });
  pool.close();
});

t.test('the sweeper closes idle sessions on its own', async (t) => {
  const pool = new SessionPool<Fake>({ max: 10, perDestination: 5 }, { idleMs: 100 });
  const l = await pool.acquire('a');
  const s = new Fake('s', Date.now());
  pool.release(l, s);
  await new Promise((r) => setTimeout(r, 600));
  t.ok(s.closed);
  t.match(pool.stats(), { open: 0, idle: 0 });
  pool.close();
});

t.test('close: idle sessions closed, waiters and new leases refused', async (t) => {
  const pool = new SessionPool<Fake>({ max: 1, perDestination: 1 }, { now: () => 0 });
  const l = await pool.acquire('a');
  const waiting = pool.acquire('a');
  pool.close();
  await t.rejects(waiting, { code: 'EPOOLCLOSED' });
  await t.rejects(pool.acquire('b'), { code: 'EPOOLCLOSED' });
  const s = new Fake('s');
  pool.release(l, s);
  t.ok(s.closed, 'a session released after close is closed, not parked');
});
