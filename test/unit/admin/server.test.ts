import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { Client } from 'undici';
import { createAdminServer } from '../../../gateway/src/admin/index.js';
import { FakeBackend, shortDir, QID_A, QID_B, QID_HELD, QID_MISSING } from './fixtures/fake-backend.js';

const log = pino({ level: 'silent' });

async function started(t: { teardown(fn: () => unknown): void }, backend = new FakeBackend()) {
  const socketPath = join(shortDir(t), 'run', 'admin.sock');
  const server = createAdminServer(backend, { socketPath, log });
  await server.listen();
  const client = new Client('http://localhost', { socketPath });
  t.teardown(async () => {
    await client.close();
    await server.close();
  });
  const call = async (method: string, path: string) => {
    const res = await client.request({ method, path });
    const text = await res.body.text();
    const type = String(res.headers['content-type']);
    return { status: res.statusCode, type, allow: res.headers['allow'], body: type.startsWith('application/json') ? JSON.parse(text) : text };
  };
  return { backend, server, socketPath, call };
}

t.test('socket is created 0660 in a new run directory and removed on close', async (t) => {
  const { server, socketPath } = await started(t);
  const st = statSync(socketPath);
  t.ok(st.isSocket());
  t.equal(st.mode & 0o777, 0o660);
  await server.close();
  t.notOk(existsSync(socketPath), 'socket file removed');
  await server.close(); // twice is harmless
});

t.test('GET /status and /metrics', async (t) => {
  const { call } = await started(t);
  const status = await call('GET', '/status');
  t.equal(status.status, 200);
  t.match(status.type, /^application\/json/);
  t.match(status.body, { version: '0.1.0', pid: 4242, queue: { deferred: 1, incoming: 1, hold: 1, corrupt: 0 } });
  const metrics = await call('GET', '/metrics');
  t.equal(metrics.status, 200);
  t.match(metrics.type, /^text\/plain; version=0\.0\.4/);
  t.match(metrics.body, /tuxhat_queue_messages\{state="deferred"\} 1/);
});

t.test('GET /queue lists summaries, filtered by state', async (t) => {
  const { call, backend } = await started(t);
  const all = await call('GET', '/queue');
  t.equal(all.status, 200);
  t.equal(all.body.entries.length, 3);
  const a = all.body.entries.find((e: { qid: string }) => e.qid === QID_A);
  t.match(a, {
    state: 'deferred', mailFrom: 'alice@example.org', size: 2048, recipientCount: 2, attempts: 2,
    pending: [{ address: 'bob@example.test', lastResponse: /Connection refused/ }], lastResponse: /Connection refused/,
  });
  const held = await call('GET', '/queue?state=hold');
  t.same(held.body.entries.map((e: { qid: string }) => e.qid), [QID_HELD]);
  t.ok(backend.calls.includes('queueList:hold'));
  const bad = await call('GET', '/queue?state=active');
  t.equal(bad.status, 400);
  t.match(bad.body.error, /unknown queue state "active"; expected one of incoming, deferred, hold, corrupt/);
});

t.test('GET /queue/:qid validates the id and answers 404 for an unknown one', async (t) => {
  const { call } = await started(t);
  const found = await call('GET', `/queue/${QID_A}`);
  t.equal(found.status, 200);
  t.equal(found.body.qid, QID_A);
  t.equal(found.body.recipients.length, 2);
  const lower = await call('GET', `/queue/${QID_A.toLowerCase()}`);
  t.equal(lower.status, 200, 'queue ids are case-insensitive');
  const missing = await call('GET', `/queue/${QID_MISSING}`);
  t.equal(missing.status, 404);
  t.same(missing.body, { error: `no message with queue id ${QID_MISSING}` });
  const bad = await call('GET', '/queue/not-a-qid');
  t.equal(bad.status, 400);
  t.same(bad.body, { error: 'not a queue id: not-a-qid' });
});

t.test('flush, hold, release, delete', async (t) => {
  const { call, backend } = await started(t);
  t.same((await call('POST', '/queue/flush')).body, { flushed: 1 });
  t.same((await call('POST', `/queue/${QID_A}/flush`)).body, { qid: QID_A, flushed: 1 });
  const heldFlush = await call('POST', `/queue/${QID_HELD}/flush`);
  t.same([heldFlush.status, heldFlush.body], [200, { qid: QID_HELD, flushed: 0 }], 'an existing entry that is not due is not a 404');
  t.equal((await call('POST', `/queue/${QID_MISSING}/flush`)).status, 404);

  t.same((await call('POST', `/queue/${QID_B}/hold`)).body, { qid: QID_B, held: true });
  const again = await call('POST', `/queue/${QID_B}/hold`);
  t.same([again.status, again.body], [409, { error: `cannot hold ${QID_B}: it is in state hold` }]);
  t.equal((await call('POST', `/queue/${QID_MISSING}/hold`)).status, 404);

  t.same((await call('POST', `/queue/${QID_B}/release`)).body, { qid: QID_B, released: true });
  const notHeld = await call('POST', `/queue/${QID_B}/release`);
  t.equal(notHeld.status, 409);
  t.match(notHeld.body.error, /cannot release .* it is in state deferred/);

  t.same((await call('DELETE', `/queue/${QID_B}`)).body, { qid: QID_B, deleted: true });
  const gone = await call('DELETE', `/queue/${QID_B}`);
  t.same([gone.status, gone.body], [404, { error: `no message with queue id ${QID_B}` }]);
  t.ok(backend.calls.includes(`queueDelete:${QID_B}`));
});

t.test('trace and reload', async (t) => {
  const { call, backend } = await started(t);
  const trace = await call('GET', `/trace/${QID_A}`);
  t.equal(trace.status, 200);
  t.same(trace.body.events.map((e: { event: string }) => e.event), ['queued', 'verdict', 'deferred']);
  const none = await call('GET', `/trace/${QID_MISSING}`);
  t.same([none.status, none.body], [404, { error: `no trace for queue id ${QID_MISSING}` }]);

  t.same((await call('POST', '/reload')).body, { ok: true });
  backend.reloadResult = { ok: false, error: 'gateway.yaml:3: port: expected number' };
  const refused = await call('POST', '/reload');
  t.same([refused.status, refused.body], [422, { ok: false, error: 'gateway.yaml:3: port: expected number' }]);
});

t.test('unknown routes, wrong methods and backend failures', async (t) => {
  const { call, backend } = await started(t);
  const unknown = await call('GET', '/nope');
  t.same([unknown.status, unknown.body], [404, { error: 'no such admin endpoint: GET /nope' }]);
  const wrong = await call('GET', '/reload');
  t.equal(wrong.status, 405);
  t.equal(wrong.allow, 'POST');
  t.equal((await call('GET', '/queue/flush')).status, 405, '/queue/flush is a route, not a bad queue id');
  t.equal((await call('PUT', `/queue/${QID_A}`)).allow, 'GET, DELETE');
  backend.failNext = 'status';
  const failed = await call('GET', '/status');
  t.same([failed.status, failed.body], [500, { error: 'internal error: backend exploded in status' }]);
  t.equal((await call('GET', '/status')).status, 200, 'the server keeps serving');
  backend.status = async () => ({ pid: 1n }) as never; // JSON.stringify cannot encode a BigInt
  const unencodable = await call('GET', '/status');
  t.equal(unencodable.status, 500);
  t.match(unencodable.body.error, /^internal error: .*BigInt/);
});

t.test('a stale socket left by a dead daemon is replaced', async (t) => {
  const socketPath = join(shortDir(t), 'admin.sock');
  // A process killed with SIGKILL cannot unlink its socket: exactly what a crash leaves behind.
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  t.ok(statSync(socketPath).isSocket(), 'stale socket is there');
  const server = createAdminServer(new FakeBackend(), { socketPath, log });
  await server.listen();
  t.teardown(() => server.close());
  const client = new Client('http://localhost', { socketPath });
  const res = await client.request({ method: 'GET', path: '/status' });
  t.equal(res.statusCode, 200);
  await res.body.text();
  await client.close();
});

t.test('a live socket or a non-socket file is never removed', async (t) => {
  const dir = shortDir(t);
  const plain = join(dir, 'plain-file');
  writeFileSync(plain, 'keep me');
  await t.rejects(createAdminServer(new FakeBackend(), { socketPath: plain, log }).listen(), /exists and is not a socket; refusing to replace it/);
  t.ok(existsSync(plain));

  const live = join(dir, 'live.sock');
  const other = createNetServer();
  await new Promise<void>((resolve) => other.listen(live, resolve));
  t.teardown(() => new Promise<void>((resolve) => other.close(() => resolve())));
  await t.rejects(createAdminServer(new FakeBackend(), { socketPath: live, log }).listen(), /admin socket .* is in use: is another gateway running\?/);
  t.ok(statSync(live).isSocket());
});

t.test('a socket path too long for sun_path is refused with a clear error', async (t) => {
  const socketPath = join(shortDir(t), 'x'.repeat(120), 'admin.sock');
  await t.rejects(createAdminServer(new FakeBackend(), { socketPath, log }).listen(), /admin socket path is \d+ bytes, longer than the 107 a unix socket allows/);
});
