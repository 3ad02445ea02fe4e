/*
 * test/e2e/systemd-notify.test.ts — the daemon speaks systemd's notify protocol (Type=notify):
 * READY=1 once every receiver listens, WATCHDOG=1 pings at half WATCHDOG_USEC, STOPPING=1 on
 * SIGTERM. A Python datagram socket stands in for systemd's NOTIFY_SOCKET (Node has no AF_UNIX
 * datagram sockets); the messages are sent by Debian's real systemd-notify CLI.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway, tempDir, waitFor, which } from './harness/index.js';



function notifyListener(t: Test, path: string): { messages: string[] } {
  const py = which('python3', 'python3');
  const script = [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    `s.bind(${JSON.stringify(path)})`,
    'while True:',
    '    sys.stdout.write(s.recv(4096).decode().replace("\\n", " ") + "\\n"); sys.stdout.flush()',
  ].join('\n');
  const child = spawn(py, ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    messages.push(...lines);
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  return { messages };
}

t.test('READY, WATCHDOG and STOPPING reach NOTIFY_SOCKET', async (t) => {
  which('systemd-notify', 'systemd');
  const dir = await tempDir(t, 'tuxhat-notify-');
  const sock = join(dir, 'notify.sock');
  const listener = notifyListener(t, sock);
  await waitFor(() => existsSync(sock), { timeoutMs: 5000, what: 'the notify socket' });
  const gw = await startGateway(t, { env: { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '2000000' } });
  const ready = await waitFor(() => listener.messages.find((m) => m.includes('READY=1')), { timeoutMs: 10_000, what: 'READY=1' });
  t.match(ready, /STATUS=accepting mail: mx=127\.0\.0\.1:\d+/, 'the status names the listeners');
  await waitFor(() => listener.messages.find((m) => m.includes('WATCHDOG=1')), { timeoutMs: 5000, what: 'a WATCHDOG=1 ping within WATCHDOG_USEC' });
  t.pass('watchdog pinged');
  await gw.stop();
  await waitFor(() => listener.messages.find((m) => m.includes('STOPPING=1')), { timeoutMs: 5000, what: 'STOPPING=1' });
  t.pass('STOPPING=1 on SIGTERM');
});
