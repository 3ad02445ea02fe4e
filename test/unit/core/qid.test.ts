import t from 'tap';
import { newQid, qidTime, QID_PATTERN } from '../../../gateway/src/core/index.js';

t.test('queue ids are time-sortable, unique and carry their arrival time', async (t) => {
  const a = newQid(1_700_000_000_000);
  const b = newQid(1_700_000_000_001);
  t.match(a, QID_PATTERN);
  t.ok(a < b, 'later id sorts after');
  t.equal(qidTime(a), 1_700_000_000_000);
  const many = new Set(Array.from({ length: 5000 }, () => newQid(1)));
  t.equal(many.size, 5000, 'no collisions within one millisecond');
});
