import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { claimStateDir } from '../../../gateway/src/process/pidfile.js';

t.test('one daemon per state directory; a stale claim is taken over', async (t) => {
  const dir = t.testdir({});
  const claim = claimStateDir(dir);
  t.equal(readFileSync(join(dir, 'tuxhat.pid'), 'utf8'), `${process.pid}\n`);
  // A live other process (our parent) holds it: refused.
  writeFileSync(join(dir, 'tuxhat.pid'), `${process.ppid}\n`);
  t.throws(() => claimStateDir(dir), /another gateway \(pid \d+\) is running/);
  // A dead one: taken over.
  writeFileSync(join(dir, 'tuxhat.pid'), '2147483646\n');
  const again = claimStateDir(dir);
  t.equal(readFileSync(join(dir, 'tuxhat.pid'), 'utf8'), `${process.pid}\n`);
  again.release();
  claim.release();
  t.throws(() => readFileSync(join(dir, 'tuxhat.pid')), /ENOENT/);
});
