/*
 * test/appliance/console-menu.test.ts — the console setup menu driven through tmux (send-keys,
 * capture-pane) against the fake backend, as a postmaster at the console would use it.
 *
 * The menu process is the built one (dist/gateway/src/console/main.js --backend fake --dir DIR):
 * gateway.yaml and appliance.yaml in DIR are real files, written atomically and validated by the
 * daemon's schema; every system action is recorded in DIR/calls.jsonl. The SMTP test talks to a
 * real loopback listener. Runs in the tap test process; tmux on a private socket (-L).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../gateway/src/config/index.js';
import { loadApplianceText } from '../../gateway/src/appliance/index.js';
import { tool } from './fixtures/tools.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const MAIN = join(ROOT, 'dist/gateway/src/console/main.js');
const dir = mkdtempSync(join(tmpdir(), 'tuxhat-console-'));
const SOCK = `tuxhat-console-test-${process.pid}`;
const TMUX = tool('tmux', 'tmux');
copyFileSync(join(ROOT, 'appliance/etc/gateway.yaml'), join(dir, 'gateway.yaml'));
copyFileSync(join(ROOT, 'appliance/etc/appliance.yaml'), join(dir, 'appliance.yaml'));

const tmux = (...args: string[]): string => {
  const r = spawnSync(TMUX, ['-L', SOCK, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const screen = (): string => tmux('capture-pane', '-p', '-J', '-t', 'menu');
const calls = (): Array<Record<string, unknown>> => (existsSync(join(dir, 'calls.jsonl'))
  ? readFileSync(join(dir, 'calls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  : []);
const names = (): string[] => calls().map((c) => String(c.call));

async function waitFor(text: string | RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = screen();
    if (typeof text === 'string' ? last.includes(text) : text.test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`screen never showed ${String(text)}; it shows:\n${last}`);
}

/** Type one answer once its prompt is on screen. */
async function answer(prompt: string | RegExp, keys: string): Promise<void> {
  await waitFor(prompt);
  if (keys !== '') tmux('send-keys', '-t', 'menu', '-l', keys);
  tmux('send-keys', '-t', 'menu', 'Enter');
  await new Promise((r) => setTimeout(r, 150));
}
const toMain = async (): Promise<void> => {
  for (let i = 0; i < 3 && !screen().includes('Main menu'); i++) {
    tmux('send-keys', '-t', 'menu', '0', 'Enter');
    await new Promise((r) => setTimeout(r, 300));
  }
  await waitFor('Main menu');
};

t.before(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build; test/run.sh does)`);
  tmux('new-session', '-d', '-x', '110', '-y', '50', '-s', 'menu', `TERM=xterm ${process.execPath} ${MAIN} --backend fake --dir ${dir}; sleep 60`);
});
t.teardown(() => {
  spawnSync(TMUX, ['-L', SOCK, 'kill-server']);
  // tmux leaves its socket file behind; it is ours (-L name with our pid).
  const sockFile = join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, SOCK);
  rmSync(sockFile, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

t.test('the header shows version, FQDN, addresses, service state and queue size', async (t) => {
  const s = await waitFor('Main menu');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  t.match(s, new RegExp(`TuxHat Edge Gateway ${pkg.version.replace(/\./g, '\\.')} +gw\\.example\\.test`));
  t.match(s, /Addresses: 192\.0\.2\.10\/24 \(eth0\), 2001:db8::10\/64 \(eth0\)/);
  t.match(s, /Mail service: running \(pid 4242, up 1h 0m, 1\/1 workers listening\)/);
  t.match(s, /Queue: 3 \(incoming 1, deferred 2, hold 0, corrupt 0\)/);
  for (const item of ['Network', 'Hostname / FQDN', 'Time zone / NTP', 'Mail routing', 'TLS certificate', 'Syslog export', 'Admin password and SSH', 'Management networks', 'Services', 'Diagnostics', 'Updates', 'Reboot / shut down', 'Factory reset', 'Shell']) {
    t.ok(s.includes(item), `item: ${item}`);
  }
});

let sinkPort = 0;
const sink = createServer((sock) => {
  sock.write('220 sink.test ESMTP ready\r\n');
  sock.on('data', (d) => {
    const line = d.toString();
    if (/^EHLO/i.test(line)) sock.write('250-sink.test\r\n250 STARTTLS\r\n');
    else if (/^QUIT/i.test(line)) sock.end('221 bye\r\n');
  });
});
t.before(() => new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => { sinkPort = (sink.address() as AddressInfo).port; r(); })));
t.teardown(() => sink.close());

t.test('mail routing: add a relay domain → validated file written, reload requested', async (t) => {
  await toMain();
  await answer('Enter an option', '4');
  await answer('Add relay domain', '1');
  await answer('Domain (e.g. example.com)', 'Branch.Example.ORG');
  await answer('Internal server(s)', `127.0.0.1:${sinkPort}`);
  await answer('TLS to the internal server', 'encrypt');
  await waitFor('saved and reloaded');
  const config = loadConfigFile(join(dir, 'gateway.yaml'));
  t.same(config.domains['branch.example.org']?.route, { transport: 'smtp', hosts: [`127.0.0.1:${sinkPort}`], tls: 'encrypt' });
  t.ok(config.domains['example.com'], 'the other domain is still there');
  t.match(readFileSync(join(dir, 'gateway.yaml'), 'utf8'), /# what we accept on mx, and where it goes/, 'comments survive');
  t.same(names(), ['writeFile', 'reload', 'applyFirewall'], 'atomic write, then reload, then firewall');
  await answer('Press Enter', '');
  await waitFor(/branch\.example\.org +smtp 127\.0\.0\.1/);
});

t.test('mail routing: invalid entries show the field and change nothing', async (t) => {
  const before = readFileSync(join(dir, 'gateway.yaml'), 'utf8');
  const callsBefore = calls().length;
  await answer('Enter an option', '1');
  await answer('Domain (e.g. example.com)', 'bad_domain!');
  await answer('Internal server(s)', 'mail.example.org');
  await answer('TLS to the internal server', '');
  let s = await waitFor('Not saved, the change is invalid');
  t.match(s, /domains\.bad_domain!: /, 'the wrong key is named');
  await answer('Press Enter', '');
  await answer('Enter an option', '1');
  await answer('Domain (e.g. example.com)', 'good.example.org');
  await answer('Internal server(s)', 'mail.example.org:999999');
  await answer('TLS to the internal server', 'sometimes');
  s = await waitFor('Not saved, the change is invalid');
  t.match(s, /domains\.good\.example\.org\.route\.hosts\[0\]: expected host or host:port/);
  t.match(s, /domains\.good\.example\.org\.route\.tls: /);
  await answer('Press Enter', '');
  t.equal(readFileSync(join(dir, 'gateway.yaml'), 'utf8'), before, 'gateway.yaml unchanged');
  t.equal(calls().length, callsBefore, 'no write, no reload');
});

t.test('diagnostics: SMTP test to the internal server', async (t) => {
  await toMain();
  await answer('Enter an option', '10');
  await answer('SMTP test to an internal server', '3');
  const s = await waitFor('Number or host[:port]');
  const n = /(\d+)\) 127\.0\.0\.1:/.exec(s)?.[1];
  t.ok(n, 'the new next hop is offered');
  await answer('Number or host[:port]', n ?? '');
  const out = await waitFor('SMTP test OK');
  t.match(out, /<<< 220 sink\.test ESMTP ready/);
  t.match(out, />>> EHLO gw\.example\.test/);
  t.match(out, /<<< 250 STARTTLS/);
  t.same(calls().at(-1), { call: 'smtpTest', host: '127.0.0.1', port: sinkPort });
  await answer('Press Enter', '');
});

t.test('services: queue flush goes through the admin API', async (t) => {
  await toMain();
  await answer('Enter an option', '9');
  await answer('Flush the queue', '3');
  await waitFor('2 message(s) made due now');
  t.equal(names().at(-1), 'queueFlush');
  await answer('Press Enter', '');
});

t.test('syslog export: a TLS collector is validated, written and applied', async (t) => {
  await toMain();
  await answer('Enter an option', '6');
  await answer('Set collector', '1');
  await answer('Collector host name or IP', 'siem.example.net');
  await answer('Protocol:', 'tls');
  await answer('Port [6514', '');
  await waitFor('Syslog export: saved and applied');
  const settings = loadApplianceText(readFileSync(join(dir, 'appliance.yaml'), 'utf8'));
  t.same(settings.syslog, { ...settings.syslog, enabled: true, target: 'siem.example.net', protocol: 'tls' });
  const conf = readFileSync(join(dir, 'rsyslog-export.conf'), 'utf8');
  t.match(conf, /target="siem\.example\.net" port="6514" protocol="tcp"/);
  t.equal(names().at(-1), 'applySyslog');
  await answer('Press Enter', '');
  await waitFor('Current: on: tls to siem.example.net:6514');
  await answer('Enter an option', '1');
  await answer('Collector host name or IP', 'not a host!');
  await answer('Protocol:', 'carrier-pigeon');
  await answer('Port [6514', '');
  const s = await waitFor('Not saved');
  t.match(s, /syslog\.target: expected a host name or IP address/);
  t.match(s, /syslog\.protocol: /);
  await answer('Press Enter', '');
});

t.test('hostname: system hostname and gateway banner name change together', async (t) => {
  await toMain();
  await answer('Enter an option', '2');
  await answer('New FQDN', 'mx9.example.org');
  await waitFor('Hostname set to mx9.example.org');
  t.equal(loadConfigFile(join(dir, 'gateway.yaml')).hostname, 'mx9.example.org');
  t.ok(calls().some((c) => c.call === 'setHostname' && c.fqdn === 'mx9.example.org'));
  await answer('Press Enter', '');
  t.match(await waitFor('Main menu'), /mx9\.example\.org/, 'the header shows the new FQDN');
});

t.test('system items reach the backend: time zone, SSH, password, reboot, factory reset', async (t) => {
  await answer('Enter an option', '3');
  await answer('NTP servers', '1');
  await answer('Time zone (e.g.', 'Europe/Berlin');
  await waitFor('Time zone set to Europe/Berlin');
  await answer('Press Enter', '');
  await toMain();
  await answer('Enter an option', '8');
  await answer('New list', '192.0.2.0/24');
  await waitFor('Management networks 192.0.2.0/24: saved and applied');
  await answer('Press Enter', '');
  await answer('Enter an option', '7');
  await answer('Turn SSH on', '3');
  await waitFor('SSH turned on');
  t.match(readFileSync(join(dir, 'nftables.conf'), 'utf8'), /ip saddr \{ 192\.0\.2\.0\/24 \} tcp dport 22 /, 'firewall opens 22 to the management network');
  await answer('Press Enter', '');
  await answer('Enter an option', '7');
  await answer('Change the admin password', '1');
  await answer('New admin password', 'correct horse battery');
  await answer('Again', 'correct horse battery');
  await waitFor('Admin password changed');
  t.notMatch(screen(), /correct horse/, 'the password is never echoed');
  await answer('Press Enter', '');
  await answer('Enter an option', '12');
  await answer('Reboot', '1');
  await answer('Really reboot?', 'yes');
  await waitFor('Rebooting');
  await answer('Press Enter', '');
  await answer('Enter an option', '13');
  await answer('Type RESET to confirm', 'RESET');
  await waitFor('Factory reset done');
  await answer('Press Enter', '');
  const c = calls();
  t.ok(c.some((x) => x.call === 'setTimezone' && x.zone === 'Europe/Berlin'));
  t.ok(c.some((x) => x.call === 'service' && x.name === 'ssh' && x.action === 'enable'));
  t.ok(c.some((x) => x.call === 'setAdminPassword' && x.password === '***'), 'password recorded redacted');
  t.notMatch(readFileSync(join(dir, 'calls.jsonl'), 'utf8'), /correct horse/);
  t.ok(c.some((x) => x.call === 'reboot'));
  t.ok(c.some((x) => x.call === 'factoryReset'));
});
