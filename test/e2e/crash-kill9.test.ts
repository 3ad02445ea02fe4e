/*
 * test/e2e/crash-kill9.test.ts — the "no loss" contract under a real crash (ARCHITECTURE
 * contract 1): 2,000 messages (unique Message-IDs) from 20 concurrent clients; in the middle,
 * after ~700 have been answered 250, every gateway process (primary and receiver workers) is
 * killed with SIGKILL; the gateway is restarted and the clients carry on, resending what was not
 * answered 250. Every Message-ID that got a 250 must arrive at the sink. Duplicates are allowed
 * (delivery is at-least-once) and reported.
 */
import t from 'tap';
import { adminJson, isAlive, makeMessage, SmtpClient, sleep, startGateway, startSink, waitFor } from './harness/index.js';

const TOTAL = 2000;
const CLIENTS = 20;
const KILL_AFTER = 700;
/** Transactions per connection before a client reconnects (both paths get exercised). */
const PER_CONNECTION = 10;
const LOAD_DEADLINE_MS = 60_000;

interface Status {
  pid: number;
  workers: Array<{ pid: number }>;
}

t.test('kill -9 of every gateway process under load: every 250 is delivered', async (t) => {
  const sink = await startSink(t);
  const gw = await startGateway(t, {
    config: {
      workers: 2,
      domains: { 'corp.test': { route: { transport: 'smtp', hosts: [sink.hostPort], tls: 'none' } } },
      queue: { scheduleMs: [1000] },
      delivery: { scanIntervalMs: 250, connectTimeoutMs: 2000, greetingTimeoutMs: 2000 },
      listeners: { mx: { kind: 'mx', tls: 'none', maxConnectionsPerIp: 200 } },
    },
  });
  const port = gw.ports['mx']!;
  const body = `${'The quick brown fox jumps over the lazy dog. '.repeat(20)}\r\n`.repeat(2);

  const pending: number[] = Array.from({ length: TOTAL }, (_, i) => i);
  const accepted = new Set<string>(); // Message-IDs answered 250
  const acceptedBeforeKill = new Set<string>();
  let killed = false;
  let restarted: Promise<void> | null = null;
  let clientErrors = 0;
  let refusals = 0;
  let oldPids: number[] = [];
  const started = Date.now();

  const status = await adminJson<Status>(gw, ['status']);
  t.equal(status.workers.length, 2, 'two receiver workers');

  oldPids = [status.pid, ...status.workers.map((w) => w.pid)];
  t.equal(oldPids[0], gw.pid(), 'status reports the primary we started');

  const crash = async (): Promise<void> => {
    // At once, in the same turn as the 700th 250: sessions are mid-transaction everywhere.
    gw.kill('SIGKILL', { group: true });
    for (const id of accepted) acceptedBeforeKill.add(id);
    t.comment(`SIGKILL to every gateway process (pids ${oldPids.join(', ')}) after ${accepted.size} accepted, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await waitFor(() => oldPids.every((p) => !isAlive(p)), { timeoutMs: 5000, what: 'all gateway processes dead' });
    await gw.restart();
    t.comment(`gateway restarted after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };

  const client = async (n: number): Promise<void> => {
    while (pending.length > 0 && Date.now() - started < LOAD_DEADLINE_MS) {
      let c: SmtpClient | undefined;
      const inFlight: number[] = [];
      try {
        c = await SmtpClient.connect(port, { timeoutMs: 5000 });
        if (c.greeting.code !== 220) throw new Error(`greeting ${c.greeting.code}`);
        const ehlo = await c.ehlo(`client${n}.load.test`);
        if (ehlo.code !== 250) throw new Error(`EHLO ${ehlo.code}`);
        for (let k = 0; k < PER_CONNECTION && pending.length > 0; k++) {
          const i = pending.shift()!;
          inFlight.push(i);
          const id = `<crash-${i}@load.test>`;
          const r = await c.send({ from: `sender${n}@load.test`, to: [`user${i % 50}@corp.test`], message: makeMessage({ to: `user${i % 50}@corp.test`, messageId: id, subject: `crash ${i}`, body }) });
          inFlight.pop();
          if (r.ok) {
            accepted.add(id);
            if (!killed && accepted.size >= KILL_AFTER) {
              killed = true;
              restarted = crash();
            }
          } else {
            refusals++;
            pending.push(i); // not answered 250: the client keeps it and tries again
            await c.command('RSET').catch(() => undefined);
          }
        }
        await c.quit();
      } catch {
        clientErrors++;
        c?.close();
        pending.push(...inFlight);
        await sleep(100);
      }
    }
  };

  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  await restarted;
  const loadSecs = (Date.now() - started) / 1000;
  t.ok(killed, 'the gateway was killed in the middle of the load');
  t.equal(pending.length, 0, `every message was eventually accepted (${accepted.size} in ${loadSecs.toFixed(1)} s)`);
  t.equal(accepted.size, TOTAL, `${TOTAL} distinct Message-IDs answered 250`);
  t.ok(acceptedBeforeKill.size >= KILL_AFTER && acceptedBeforeKill.size < TOTAL, `${acceptedBeforeKill.size} accepted before the kill`);
  t.ok(oldPids.length === 3 && oldPids.every((p) => !isAlive(p)), 'primary and both workers were dead after the kill');
  t.comment(`client-side connection errors ${clientErrors}, non-250 replies ${refusals}`);

  // Every accepted Message-ID must arrive (at-least-once): wait on the counter, then check ids.
  let received = new Map<string, number>();
  await waitFor(async () => {
    if (sink.count() < accepted.size) return false;
    received = new Map();
    for (const m of await sink.messages()) received.set(m.messageId ?? '', (received.get(m.messageId ?? '') ?? 0) + 1);
    return [...accepted].every((id) => received.has(id));
  }, {
    timeoutMs: 60_000,
    intervalMs: 1000,
    what: 'every accepted Message-ID at the sink',
    detail: () => `sink count ${sink.count()}, missing ${[...accepted].filter((id) => !received.has(id)).slice(0, 20).join(' ')}`,
  }).catch(() => undefined);
  const missing = [...accepted].filter((id) => !received.has(id));
  const missingBeforeKill = missing.filter((id) => acceptedBeforeKill.has(id));
  t.same(missing, [], `no accepted message lost (${missing.length} missing, ${missingBeforeKill.length} of them accepted before the kill)`);
  const dupes = [...received.values()].filter((n) => n > 1);
  const extra = dupes.reduce((a, n) => a + n - 1, 0);
  t.comment(`duplicates: ${dupes.length} Message-IDs delivered more than once (${extra} extra copies), ${received.size} distinct, ${sink.count()} deliveries`);
  t.notOk([...received.keys()].some((id) => !/^<crash-\d+@load\.test>$/.test(id)), 'nothing but the test messages arrived');

  // The restarted gateway drains its queue completely.
  await waitFor(async () => (await adminJson<unknown[]>(gw, ['queue', 'list'])).length === 0, { timeoutMs: 30_000, what: 'an empty queue after the restart' });
  const orphans = gw.logs().find((l) => typeof l['orphans'] === 'number');
  t.comment(`orphan spool files swept at restart: ${orphans ? String(orphans['orphans']) : 0}`);
  t.comment(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
