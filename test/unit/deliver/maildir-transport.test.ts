/* deliver/maildir-transport.ts on a temporary directory: file layout and modes, name safety, failures, deadline. */
import { mkdtemp, readdir, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { createTransports, type Route } from '../../../gateway/src/deliver/index.js';
import { mailboxDir } from '../../../gateway/src/deliver/maildir-transport.js';
import { createResolver } from '../../../gateway/src/dns/index.js';
import { makeJob, silentLog, testConfig } from './fixtures/job.js';

const resolver = createResolver(testConfig().dns);

async function setup(t: Test, delivery: Record<string, unknown> = {}) {
  const root = await mkdtemp(join(tmpdir(), 'tuxhat-maildir-'));
  const config = testConfig({ delivery });
  const transports = createTransports(config, resolver, silentLog);
  t.teardown(() => transports.close());
  const route: Route = { kind: 'maildir', key: `maildir:${root}`, path: root };
  return { root, route, transport: transports.forRoute(route) };
}

t.test('delivers into new/ with Return-Path, LF line ends and private modes', async (t) => {
  const { root, route, transport } = await setup(t);
  const out = await transport.deliver(makeJob(route, ['User@Example.Test', 'other@example.test']));
  t.same(out, [
    { recipient: 'User@Example.Test', status: 'delivered', dsn: '2.0.0', response: 'delivered to maildir', relay: 'maildir' },
    { recipient: 'other@example.test', status: 'delivered', dsn: '2.0.0', response: 'delivered to maildir', relay: 'maildir' },
  ]);
  const box = join(root, 'example.test', 'user');
  t.same((await readdir(box)).sort(), ['cur', 'new', 'tmp']);
  t.same(await readdir(join(box, 'tmp')), [], 'nothing left in tmp/');
  const files = await readdir(join(box, 'new'));
  t.equal(files.length, 1);
  t.match(files[0], /^\d+\.M\d+P\d+Q\d+R[0-9a-f]+\.gw\.example\.test$/, 'maildir(5) unique name');
  const text = await readFile(join(box, 'new', files[0]!), 'utf8');
  t.equal(text, 'Return-Path: <sender@example.net>\nFrom: a@example.net\nTo: b@example.test\nSubject: test\n\nHello.\n.dot line\n');
  t.equal((await stat(join(box, 'new', files[0]!))).mode & 0o777, 0o600);
  t.equal((await stat(box)).mode & 0o777, 0o700);
  t.equal((await readdir(join(root, 'example.test', 'other', 'new'))).length, 1);
});

t.test('null sender and CR/LF split across chunks', async (t) => {
  const { root, route, transport } = await setup(t);
  const job = { ...makeJob(route, ['a@example.test'], { mailFrom: '' }), openBody: () => Readable.from([Buffer.from('A: 1\r'), Buffer.from('\n\r\nbody\r'), Buffer.from('\nend\r')]) };
  const [o] = await transport.deliver(job);
  t.equal(o?.status, 'delivered');
  const dir = join(root, 'example.test', 'a', 'new');
  const [f] = await readdir(dir);
  t.equal(await readFile(join(dir, f!), 'utf8'), 'Return-Path: <>\nA: 1\n\nbody\nend\r');
});

t.test('local parts cannot climb out of the root', async (t) => {
  t.equal(mailboxDir('/m', 'a/b@x.test'), '/m/x.test/a_b');
  t.equal(mailboxDir('/m', '..@x.test'), '/m/x.test/__');
  t.equal(mailboxDir('/m', '.hidden@x.test'), '/m/x.test/_hidden');
  t.equal(mailboxDir('/m', '../../etc@x.test'), '/m/x.test/___.._etc');
  t.equal(mailboxDir('/m', 'a@../x'), null);
  t.equal(mailboxDir('/m', 'a@..'), null);
  t.equal(mailboxDir('/m', 'a@x/y'), null);
  t.equal(mailboxDir('/m', 'nodomain'), null);
  t.equal(mailboxDir('/m', '@x.test'), null);
  t.equal(mailboxDir('/m', 'a@'), null);

  const { root, route, transport } = await setup(t);
  const out = await transport.deliver(makeJob(route, ['a@..', '../../x@example.test', `${'x'.repeat(300)}@example.test`]));
  t.match(out, [
    { recipient: 'a@..', status: 'bounced', dsn: '5.1.1' },
    { recipient: '../../x@example.test', status: 'delivered' },
    { status: 'bounced', dsn: '5.1.1', response: /ENAMETOOLONG/ },
  ]);
  t.same(await readdir(join(root, 'example.test')), ['___.._x'], 'the dotted name stayed inside the domain directory');
});

t.test('write failures defer 4.3.0 and leave nothing behind', async (t) => {
  const { root, route, transport } = await setup(t);
  // A file where the domain directory should be: mkdir fails (ENOTDIR/EEXIST), as a broken disk would.
  await writeFile(join(root, 'example.test'), 'not a directory');
  const [o] = await transport.deliver(makeJob(route, ['a@example.test']));
  t.match(o, { status: 'deferred', dsn: '4.3.0', response: /maildir delivery failed: E/ });

  // A body stream that fails half way.
  const { root: root2, route: route2, transport: tr2 } = await setup(t);
  const failing = { ...makeJob(route2, ['b@example.test']), openBody: () => {
    const s = new PassThrough();
    s.write('Subject: x\r\n');
    setImmediate(() => s.destroy(Object.assign(new Error('disk read error'), { code: 'EIO' })));
    return s;
  } };
  const [o2] = await tr2.deliver(failing);
  t.match(o2, { status: 'deferred', dsn: '4.3.0', response: /EIO/ });
  t.same(await readdir(join(root2, 'example.test', 'b', 'tmp')), [], 'the partial file was removed');
  t.same(await readdir(join(root2, 'example.test', 'b', 'new')), []);

  if (process.getuid?.() !== 0) {
    const { root: root3, route: route3, transport: tr3 } = await setup(t);
    await chmod(root3, 0o500);
    const [o3] = await tr3.deliver(makeJob(route3, ['c@example.test']));
    t.match(o3, { status: 'deferred', dsn: '4.3.0', response: /EACCES/ });
  }
});

t.test('a stalled body stream is cut at the deadline', async (t) => {
  const { root, route, transport } = await setup(t, { socketTimeoutMs: 200 });
  const stalled = { ...makeJob(route, ['s@example.test']), openBody: () => {
    const s = new PassThrough();
    s.write('Subject: x\r\n');
    return s;
  } };
  const started = Date.now();
  const [o] = await transport.deliver(stalled);
  t.match(o, { status: 'deferred', dsn: '4.3.0', response: /timed out/ });
  t.ok(Date.now() - started < 1500);
  await new Promise((r) => setTimeout(r, 50));
  t.same(await readdir(join(root, 'example.test', 's', 'new')), []);
  t.same(await readdir(join(root, 'example.test', 's', 'tmp')), [], 'the partial file was removed');
});

t.test('a job for another route kind is deferred, not lost', async (t) => {
  const { transport } = await setup(t);
  const [o] = await transport.deliver(makeJob({ kind: 'mx', key: 'mx:x.test', domain: 'x.test', tls: 'may' }, ['a@x.test']));
  t.match(o, { status: 'deferred', dsn: '4.3.5' });
});
