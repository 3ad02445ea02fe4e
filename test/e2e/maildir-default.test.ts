/*
 * test/e2e/maildir-default.test.ts — `npm start` with nothing configured (ARCHITECTURE "Embedded
 * defaults", docs/configuration.md): `tuxhat run` with no --config, no /etc/tuxhat/gateway.yaml,
 * cwd = an empty directory. It must listen on 127.0.0.1:2525 (mx) and 127.0.0.1:2587
 * (submission), keep state, spool and the admin socket under ./var, and deliver mail for
 * example.test into the Maildir ./var/mail/example.test/<user>/new/.
 *
 * These ports are fixed by design; if something else holds them the test fails and says so.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { deadline, GATEWAY_ENTRY, isListening, repoRoot, smtpTalk, spawnService, swaksSend, tempDir, tuxhat, waitFor, SmtpClient } from './harness/index.js';

const MX_PORT = 2525;
const SUBMISSION_PORT = 2587;

t.test('embedded defaults: mx on 127.0.0.1:2525 delivers example.test to ./var/mail', async (t) => {
  if (existsSync('/etc/tuxhat/gateway.yaml')) {
    t.fail('/etc/tuxhat/gateway.yaml exists: the daemon would use it instead of the embedded defaults; this test needs a machine without it');
    return;
  }
  for (const port of [MX_PORT, SUBMISSION_PORT]) {
    if (await isListening(port)) {
      t.fail(`127.0.0.1:${port} is already in use (another gateway or \`npm start\` running?): the embedded defaults need it; stop that process and re-run`);
      return;
    }
  }

  const cwd = await tempDir(t, 'defaults');
  const entry = resolve(repoRoot(), GATEWAY_ENTRY);
  const daemon = spawnService(t, process.execPath, [entry, 'run'], { cwd, logFile: join(cwd, 'gateway.log') });
  await waitFor(async () => {
    if (daemon.hasExited()) throw new Error(`the daemon exited (${String(await daemon.exited)}):\n${daemon.output()}`);
    try {
      const c = await SmtpClient.connect(MX_PORT, { timeoutMs: 2000 });
      c.close();
      return c.greeting.code === 220;
    } catch {
      return false;
    }
  }, { timeoutMs: 20_000, what: `a 220 on 127.0.0.1:${MX_PORT}`, detail: () => daemon.output().slice(-5000) });
  t.match(daemon.output(), /embedded development defaults/, 'logs that it runs on the embedded defaults');

  const greet = await smtpTalk(MX_PORT, ['EHLO client.test', 'QUIT']);
  t.match(greet[0]!.text, /^localhost ESMTP TuxHat/, 'banner: hostname localhost');
  t.ok(greet[1]!.lines.includes('STARTTLS'), 'mx offers STARTTLS by default');
  const sub = await smtpTalk(SUBMISSION_PORT, ['EHLO client.test', 'MAIL FROM:<a@example.test>', 'QUIT']);
  t.equal(sub[0]!.code, 220, 'submission listens on 127.0.0.1:2587');
  t.equal(sub[2]!.code, 530, 'submission requires AUTH');

  const res = await swaksSend(MX_PORT, { to: 'alice@example.test', from: 'someone@client.test', headers: { 'Message-Id': '<default-1@client.test>' } });
  t.equal(res.code, 0, 'swaks to alice@example.test', { transcript: res.transcript });
  const res2 = await swaksSend(MX_PORT, { to: 'bob@example.test', headers: { 'Message-Id': '<default-2@client.test>' } });
  t.equal(res2.code, 0, 'swaks to bob@example.test');
  const foreign = await smtpTalk(MX_PORT, ['EHLO client.test', 'MAIL FROM:<a@client.test>', 'RCPT TO:<x@elsewhere.test>', 'QUIT']);
  t.equal(foreign[3]!.code, 550, 'other domains are refused (no open relay by default)');

  const box = (user: string) => join(cwd, 'var', 'mail', 'example.test', user, 'new');
  const files = await waitFor(async () => {
    const a = await readdir(box('alice')).catch(() => []);
    const b = await readdir(box('bob')).catch(() => []);
    return a.length === 1 && b.length === 1 ? { a: a[0]!, b: b[0]! } : undefined;
  }, { timeoutMs: 15_000, what: 'one file in each ./var/mail/example.test/<user>/new/', detail: () => daemon.output().slice(-3000) });
  const alice = await readFile(join(box('alice'), files.a), 'utf8');
  t.match(alice, /Message-Id: <default-1@client\.test>/i, "alice's message in her Maildir");
  t.match(alice, new RegExp(`Received: from client\\.test .*\\r?\\n\\s+by localhost \\(TuxHat\\) with ESMTP id ${res.queuedAs}`), 'with our Received header and the queue id');
  t.match(await readFile(join(box('bob'), files.b), 'utf8'), /Message-Id: <default-2@client\.test>/i, "bob's message in his Maildir");
  for (const d of ['tmp', 'cur']) t.ok(existsSync(join(cwd, 'var', 'mail', 'example.test', 'alice', d)), `Maildir has ${d}/`);

  // State, spool and the admin socket under ./var; the CLI finds the socket by the same defaults.
  t.ok(existsSync(join(cwd, 'var', 'lib')), './var/lib (state)');
  t.ok(existsSync(join(cwd, 'var', 'spool')), './var/spool');
  t.ok(existsSync(join(cwd, 'var', 'run', 'tuxhat.sock')), './var/run/tuxhat.sock (admin socket)');
  const status = await tuxhat(['status', '--json'], { cwd });
  t.equal(status.code, 0, `tuxhat status (no --socket, no --config) works from the same directory: ${status.stderr}`);
  const st = JSON.parse(status.stdout || '{}') as { listeners?: Array<{ name: string; address: string; port: number }> };
  t.same((st.listeners ?? []).map((l) => `${l.name}=${l.address}:${l.port}`).sort(), ['mx=127.0.0.1:2525', 'submission=127.0.0.1:2587'], 'listeners as documented');

  process.kill(daemon.pid, 'SIGTERM');
  const code = await Promise.race([daemon.exited, deadline(15_000)]);
  t.equal(code, 0, 'SIGTERM: exit 0');
  t.notOk(await isListening(MX_PORT), 'port 2525 released');
});
