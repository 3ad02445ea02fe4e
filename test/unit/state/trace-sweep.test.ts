import t from 'tap';
import { newQid, type QueueEntry } from '../../../gateway/src/core/index.js';
import { openState, sweepTrace } from '../../../gateway/src/state/index.js';

t.test('trace retention removes old stories, keeps recent ones and those of queued messages', async (t) => {
  const st = openState(t.testdir({}));
  t.teardown(() => st.close());
  const day = 24 * 3600_000;
  const now = Date.now();
  const old = newQid(now - 40 * day);
  const oldQueued = newQid(now - 35 * day);
  const recent = newQid(now - day);
  for (const qid of [old, oldQueued, recent]) {
    await st.trace.put([qid, 1, 1], { at: 1, event: 'queued' });
    await st.trace.put([qid, 2, 1], { at: 2, event: 'delivered' });
  }
  await st.queue.put(oldQueued, { qid: oldQueued } as unknown as QueueEntry);
  t.equal(await sweepTrace(st, now - 30 * day), 2, 'both events of the old message');
  const left = [...st.trace.getKeys({})].map((k) => k[0]);
  t.same([...new Set(left)].sort(), [oldQueued, recent].sort());
});
