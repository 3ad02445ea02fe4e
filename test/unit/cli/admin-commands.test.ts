import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { createAdminServer } from '../../../gateway/src/admin/index.js';
import { FakeBackend, QID_A, QID_B, QID_HELD, QID_MISSING, shortDir } from '../admin/fixtures/fake-backend.js';
import { tuxhat } from './fixtures/capture.js';

// Local-time formatting is part of the output; pin the zone so expectations are stable.
process.env['TZ'] = 'UTC';

const backend = new FakeBackend();
const socket = join(shortDir(t), 'admin.sock');
const server = createAdminServer(backend, { socketPath: socket, log: pino({ level: 'silent' }) });
t.before(() => server.listen());
t.teardown(() => server.close());

const S = ['--socket', socket];

t.test('status: table and --json', async (t) => {
  const human = await tuxhat(['status', ...S]);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /^TuxHat gateway 0\.1\.0, pid 4242, up 3d 4h 5m \(since 2024-01-10 12:34:56\)$/m);
  t.match(human.stdout, /^Workers: +2 \(4243, 4244 starting\)$/m);
  t.match(human.stdout, /^ {2}mx +mx +127\.0\.0\.1:2525 +starttls$/m);
  t.match(human.stdout, /^ {2}submission +submission +\[::1\]:2587 +starttls$/m);
  t.match(human.stdout, /^Queue: +incoming 1, deferred 1, hold 1, corrupt 0$/m);
  const json = await tuxhat(['status', '--json', ...S]);
  t.match(JSON.parse(json.stdout), { pid: 4242, queue: { hold: 1 } });
});

t.test('queue list: postqueue-like table, --state, --json', async (t) => {
  const r = await tuxhat(['queue', 'list', ...S]);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  t.match(lines[0], /^Queue ID +State +Size Arrival Time +Sender\/Recipient$/);
  const a = lines.findIndex((l) => l.startsWith(QID_A));
  t.match(lines[a], new RegExp(`^${QID_A} deferred +2048 2024-01-10 12:34:56 +alice@example\\.org$`));
  t.match(lines[a + 1], /^ {50,}\(connect to mx\.example\.test\[198\.51\.100\.1\]:25: Connection refused\)$/);
  t.match(lines[a + 2], /^ {50,}bob@example\.test$/);
  t.match(lines[a + 3], /^ {50,}\(\+1 recipient done\)$/);
  const b = lines.findIndex((l) => l.startsWith(QID_B));
  t.match(lines[b], /incoming +512 .* <>$/, 'null sender shown as <>');
  t.match(r.stdout, /^-- 4\.5 KiB in 3 messages\.$/m);

  const held = await tuxhat(['queue', 'list', '--state', 'hold', '--json', ...S]);
  t.same(JSON.parse(held.stdout).map((e: { qid: string }) => e.qid), [QID_HELD]);
  const empty = await tuxhat(['queue', 'list', '--state', 'corrupt', ...S]);
  t.equal(empty.stdout, 'Mail queue is empty\n');
  const bad = await tuxhat(['queue', 'list', '--state', 'active', ...S]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^tuxhat: --state expects one of incoming, deferred, hold, corrupt, not "active"\nTry 'tuxhat --help'\.\n$/);
});

t.test('queue show: details, lower-case qid, unknown qid, bad qid', async (t) => {
  const r = await tuxhat(['queue', 'show', QID_A.toLowerCase(), ...S]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^Queue ID: +${QID_A}$`, 'm'));
  t.match(r.stdout, /^Client: +mail\.example\.org\[192\.0\.2\.10\] \(helo mail\.example\.org\)$/m);
  t.match(r.stdout, /^Next attempt: +2024-01-10 12:39:56$/m);
  t.match(r.stdout, /^ {2}bob@example\.test {2}pending, 2 attempts\n {4}4\.4\.1 connect to .*Connection refused \[mx\.example\.test\[198\.51\.100\.1\]:25\]$/m);
  const json = await tuxhat(['queue', 'show', QID_A, '--json', ...S]);
  t.equal(JSON.parse(json.stdout).recipients.length, 2);
  const missing = await tuxhat(['queue', 'show', QID_MISSING, ...S]);
  t.same(missing, { code: 1, stdout: '', stderr: `tuxhat: no message with queue id ${QID_MISSING}\n` });
  const bad = await tuxhat(['queue', 'show', 'xyz', ...S]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^tuxhat: not a queue id: xyz\n/);
  t.notOk(backend.calls.some((c) => c.includes('xyz')), 'a bad qid never reaches the daemon');
});

t.test('queue flush, hold, release, delete', async (t) => {
  t.same(await tuxhat(['queue', 'flush', ...S]), { code: 0, stdout: '1 message scheduled for delivery now\n', stderr: '' });
  t.same(await tuxhat(['queue', 'flush', QID_A, ...S]), { code: 0, stdout: `${QID_A}: scheduled for delivery now\n`, stderr: '' });
  t.match((await tuxhat(['queue', 'flush', QID_HELD, ...S])).stdout, /nothing to flush \(is it on hold\?\)/);
  t.same(await tuxhat(['queue', 'hold', QID_B, ...S]), { code: 0, stdout: `${QID_B}: on hold\n`, stderr: '' });
  t.same(await tuxhat(['queue', 'hold', QID_B, ...S]), { code: 1, stdout: '', stderr: `tuxhat: cannot hold ${QID_B}: it is in state hold\n` });
  t.same(await tuxhat(['queue', 'release', QID_B, ...S]), { code: 0, stdout: `${QID_B}: released\n`, stderr: '' });
  t.same(await tuxhat(['queue', 'delete', QID_B, ...S]), { code: 0, stdout: `${QID_B}: deleted\n`, stderr: '' });
  t.same(await tuxhat(['queue', 'delete', QID_B, ...S]), { code: 1, stdout: '', stderr: `tuxhat: no message with queue id ${QID_B}\n` });
  t.equal((await tuxhat(['queue', 'hold', ...S])).code, 2, 'QID is required');
});

t.test('trace: one line per event with fields', async (t) => {
  const r = await tuxhat(['trace', QID_A, ...S]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, [
    `Trace of ${QID_A}:`,
    '2024-01-10 12:34:56.000 queued from=alice@example.org size=2048',
    '2024-01-10 12:34:56.005 verdict score=1.5 action=deliver symbols=["SPF_ALLOW"]',
    '2024-01-10 12:34:56.900 deferred to=bob@example.test status=4.4.1 response="connect to mx.example.test[198.51.100.1]:25: Connection refused"',
    '',
  ].join('\n'));
  const json = await tuxhat(['trace', QID_A, '--json', ...S]);
  t.equal(JSON.parse(json.stdout).length, 3);
  t.same(await tuxhat(['trace', QID_MISSING, ...S]), { code: 1, stdout: '', stderr: `tuxhat: no trace for queue id ${QID_MISSING}\n` });
});

t.test('reload: ok and refused', async (t) => {
  t.same(await tuxhat(['reload', ...S]), { code: 0, stdout: 'reload: ok\n', stderr: '' });
  backend.reloadResult = { ok: false, error: '/etc/tuxhat/gateway.yaml:3: listeners.mx.port: expected number' };
  t.teardown(() => {
    backend.reloadResult = { ok: true };
  });
  t.same(await tuxhat(['reload', ...S]), {
    code: 1, stdout: '',
    stderr: 'tuxhat: reload refused, the running configuration is unchanged: /etc/tuxhat/gateway.yaml:3: listeners.mx.port: expected number\n',
  });
});

t.test('the socket comes from the config when --socket is absent', async (t) => {
  const dir = t.testdir({});
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, `admin:\n  socket: ${socket}\n`);
  t.equal((await tuxhat(['status', '--config', config])).code, 0, 'via --config');
  t.equal((await tuxhat(['status'], { defaultConfigFile: config })).code, 0, 'via the default config file');
  // Neither: the embedded default ./var/run/tuxhat.sock, which nothing listens on here.
  const none = await tuxhat(['status']);
  t.same(none, { code: 1, stdout: '', stderr: `tuxhat: cannot reach the gateway at ${resolve('var/run/tuxhat.sock')}: is it running?\n` });
  writeFileSync(config, 'admin:\n  sockett: x\n');
  const bad = await tuxhat(['status', '--config', config]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^invalid configuration in .*gateway\.yaml:\n {2}.*gateway\.yaml:2: admin: Unrecognized key/);
});

t.test('a gateway that is not running, or too slow, is one clear line', async (t) => {
  const dead = join(shortDir(t), 'none.sock');
  t.same(await tuxhat(['queue', 'list', '--socket', dead]), { code: 1, stdout: '', stderr: `tuxhat: cannot reach the gateway at ${dead}: is it running?\n` });
  backend.statusDelayMs = 2000;
  t.teardown(() => {
    backend.statusDelayMs = 0;
  });
  const slow = await tuxhat(['status', '--timeout', '0.2', ...S]);
  t.same(slow, { code: 1, stdout: '', stderr: `tuxhat: the gateway at ${socket} did not answer within 0.2 s\n` });
  const badTimeout = await tuxhat(['status', '--timeout', 'soon', ...S]);
  t.equal(badTimeout.code, 2);
});
