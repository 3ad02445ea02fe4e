/*
 * test/appliance/console-shell.test.ts — the console menu's "shell" item re-authenticates: the
 * menu runs as root, and su from root never asks for a password, so the system backend starts su
 * as nobody (reauthenticatingShell). Driven in tmux as root: the command must stop at su's
 * password prompt, and a wrong password must not open a shell.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { reauthenticatingShell } from '../../gateway/src/console/system-backend.js';
import { tool } from './fixtures/tools.js';

const TMUX = tool('tmux', 'tmux');
const SOCK = `tuxhat-console-shell-${process.pid}`;
const tmux = (...args: string[]): string => {
  const r = spawnSync(TMUX, ['-L', SOCK, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const screen = (): string => tmux('capture-pane', '-p', '-J', '-t', 'sh');
async function waitFor(re: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = screen();
    if (re.test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`screen never showed ${String(re)}; it shows:\n${last}`);
}

t.test('the shell item asks for the password even when the menu runs as root', async (t) => {
  if (process.getuid?.() !== 0) t.fail('this test must run as root (the console runs as root)');
  t.teardown(() => { spawnSync(TMUX, ['-L', SOCK, 'kill-server']); });
  // root's own account stands in for the admin user: su as nobody must ask for its password.
  const argv = reauthenticatingShell('root');
  t.same(argv.slice(-3), ['su', '-l', 'root']);
  tmux('new-session', '-d', '-s', 'sh', '-x', '100', '-y', '20', `${argv.join(' ')}; echo "exit=$?"; sleep 30`);
  await waitFor(/Password:/);
  tmux('send-keys', '-t', 'sh', '-l', 'certainly-not-the-password');
  tmux('send-keys', '-t', 'sh', 'Enter');
  const after = await waitFor(/exit=\d+/, 15_000);
  t.match(after, /Authentication failure|su: /, 'su refused the wrong password');
  t.notMatch(after, /exit=0/, 'no shell was opened');
});
