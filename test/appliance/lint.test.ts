/*
 * test/appliance/lint.test.ts — every config file the appliance ships, checked by its own tool
 * (issue 7: "Every config file the image ships is linted in CI").
 *
 * systemd units: `systemd-analyze verify` (ExecStart pointed at a stub that exists, so the check
 * covers everything but the install path) and `systemd-analyze security --offline=true` with the
 * exposure <= 2.0; nftables: the shipped file is exactly what `tuxhat appliance nftables` makes
 * of the shipped configs, and it and its variants pass `nft -c -f`; rsyslog: generated tls/tcp/udp
 * exports pass `rsyslogd -N1`; sshd: a full sshd_config with the drop-in passes `sshd -t` and
 * `sshd -T` shows the key-only policy; ClamAV: `clamconf -c` without errors and StreamMaxLength
 * above the gateway's size limit; apt: `apt-config dump`; sysctl keys exist; shellcheck + bash -n on
 * every script. Each check also proves it can fail (a broken input is rejected).
 * Runs in the tap test process as root (nft -c needs CAP_NET_ADMIN). Touches nothing outside a
 * temp directory except creating /run/sshd (sshd -t requires its privilege separation dir).
 */
import t from 'tap';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { configSchema, loadConfigFile } from '../../gateway/src/config/index.js';
import { loadApplianceText, renderNftables, renderRsyslog } from '../../gateway/src/appliance/index.js';
import { runTool, tool } from './fixtures/tools.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const A = join(ROOT, 'appliance');
const tmp = mkdtempSync(join(tmpdir(), 'tuxhat-lint-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const gatewayConfig = loadConfigFile(join(A, 'etc/gateway.yaml'));
const applianceText = readFileSync(join(A, 'etc/appliance.yaml'), 'utf8');
const settings = loadApplianceText(applianceText, 'appliance.yaml');

// ---- systemd -------------------------------------------------------------------------------------
function stubbedUnit(name: string, as = name): string {
  const dir = join(tmp, 'units');
  mkdirSync(dir, { recursive: true });
  const stub = join(tmp, 'stub-exec');
  writeFileSync(stub, '#!/bin/sh\nexit 0\n');
  chmodSync(stub, 0o755);
  const text = readFileSync(join(A, 'systemd', name), 'utf8')
    .replace(/\/opt\/tuxhat\/bin\/tuxhat/g, stub)
    .replace(/\/opt\/tuxhat\/node\/bin\/node/g, stub)
    .replace(/\/opt\/tuxhat\/appliance\/sbin\/tuxhat-firstboot/g, stub);
  const out = join(dir, as);
  writeFileSync(out, text);
  return out;
}

t.test('systemd units pass systemd-analyze verify (no warnings)', async (t) => {
  for (const [file, as] of [['tuxhat.service', 'tuxhat.service'], ['tuxhat-console@.service', 'tuxhat-console@ttyS0.service'], ['tuxhat-firstboot.service', 'tuxhat-firstboot.service']] as const) {
    const unit = stubbedUnit(file, as);
    const r = runTool('systemd-analyze', 'systemd', ['verify', unit]);
    t.equal(r.status, 0, `${file}: verify exit 0`);
    t.equal(r.stderr.trim(), '', `${file}: no warnings (unknown keys, bad values)`);
  }
  // The check is real: an unknown key and a missing binary are reported.
  const bad = join(tmp, 'units', 'bad.service');
  writeFileSync(bad, '[Service]\nExecStart=/nonexistent/tuxhat\nProtectSystm=strict\n');
  const r = runTool('systemd-analyze', 'systemd', ['verify', bad]);
  t.match(r.stderr, /Unknown key 'ProtectSystm'/);
  t.match(r.stderr, /not executable/);
});

t.test('tuxhat.service: systemd-analyze security --offline exposure <= 2.0', async (t) => {
  const unit = stubbedUnit('tuxhat.service');
  // --threshold is on the 0..100 scale (2.0 shown = 20).
  const r = runTool('systemd-analyze', 'systemd', ['security', '--offline=true', '--threshold=20', '--no-pager', unit]);
  const m = /Overall exposure level for tuxhat\.service: (\d+\.\d)/.exec(r.stdout);
  t.ok(m, 'exposure line printed');
  const exposure = Number(m?.[1]);
  t.ok(exposure <= 2.0, `exposure ${exposure} <= 2.0`);
  t.equal(r.status, 0, 'passes --threshold=20');
  const text = readFileSync(join(A, 'systemd/tuxhat.service'), 'utf8');
  t.notMatch(text, /^MemoryDenyWriteExecute/m, 'no MemoryDenyWriteExecute (V8 needs W+X)');
  t.match(text, /^Type=notify$/m);
  t.match(text, /^NotifyAccess=all$/m);
  t.match(text, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  t.match(text, /^ProtectSystem=strict$/m);
});

// ---- nftables ------------------------------------------------------------------------------------
function nftCheck(text: string, name: string): { status: number | null; stderr: string } {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return runTool('nft', 'nftables', ['-c', '-f', file]);
}

t.test('nftables: the shipped ruleset is the generated one and passes nft -c', async (t) => {
  const shipped = readFileSync(join(A, 'rootfs/etc/nftables.conf'), 'utf8');
  t.equal(shipped, renderNftables(gatewayConfig, settings), 'appliance/rootfs/etc/nftables.conf == `tuxhat appliance nftables` of the shipped configs');
  const r = nftCheck(shipped, 'shipped.nft');
  t.equal(r.status, 0, `nft -c: ${r.stderr}`);
  t.match(shipped, /policy drop;/);
  t.match(shipped, /tcp dport 25 ct state new accept/);
  t.match(shipped, /tcp dport \{ 465, 587 \}/, 'submission listeners on: 465/587 open');
  t.match(shipped, /ip saddr \{ 10\.0\.0\.0\/8 \} tcp dport 2525/, 'relay port only from trusted networks');
  t.notMatch(shipped, /dport 22/, 'SSH off by default: port 22 closed');
});

t.test('nftables variants: SSH from management networks, no submission, IPv6; a broken file fails', async (t) => {
  const withSsh = renderNftables(gatewayConfig, loadApplianceText('managementNetworks: [192.0.2.0/24, "2001:db8::/32"]\nssh: {enabled: true}\n'));
  t.match(withSsh, /ip saddr \{ 192\.0\.2\.0\/24 \} tcp dport 22 /);
  t.match(withSsh, /ip6 saddr \{ 2001:db8::\/32 \} tcp dport 22 /);
  t.equal(nftCheck(withSsh, 'ssh.nft').status, 0);
  const noSubmission = configSchema.parse({ listeners: { mx: { kind: 'mx', address: '0.0.0.0', port: 25 } } });
  const mxOnly = renderNftables(noSubmission, settings);
  t.notMatch(mxOnly, /465|587/, 'no submission listener: 465/587 stay closed');
  t.equal(nftCheck(mxOnly, 'mx-only.nft').status, 0);
  const sshNoNets = renderNftables(gatewayConfig, loadApplianceText('ssh: {enabled: true}\n'));
  t.notMatch(sshNoNets, /dport 22/, 'SSH on but no management network: nobody reaches it');
  const broken = nftCheck(withSsh.replace('policy drop;', 'policy dorp;'), 'broken.nft');
  t.not(broken.status, 0, 'nft -c rejects a broken ruleset');
});

// ---- rsyslog -------------------------------------------------------------------------------------
function rsyslogCheck(conf: string, name: string): { status: number | null; stderr: string } {
  const include = join(tmp, `${name}.conf`);
  writeFileSync(include, conf);
  const main = join(tmp, `${name}-main.conf`);
  // Like Debian's rsyslog.conf, the main file has an action of its own (an export that is off
  // adds none, and rsyslogd -N1 refuses a configuration without any action).
  writeFileSync(main, `global(workDirectory="${tmp}")\ninclude(file="${include}")\n*.* action(type="omfile" file="${tmp}/all.log")\n`);
  return runTool('rsyslogd', 'rsyslog', ['-N1', '-f', main]);
}

t.test('rsyslog export: shipped file and tls/tcp/udp variants pass rsyslogd -N1', async (t) => {
  const shipped = readFileSync(join(A, 'rootfs/etc/rsyslog.d/60-tuxhat-export.conf'), 'utf8');
  t.equal(shipped, renderRsyslog(settings), 'shipped export file == `tuxhat appliance rsyslog` of appliance.yaml');
  t.equal(rsyslogCheck(shipped, 'shipped').status, 0);
  const ca = join(tmp, 'ca.pem');
  writeFileSync(ca, '');
  for (const protocol of ['tls', 'tcp', 'udp']) {
    const conf = renderRsyslog(loadApplianceText(`syslog: {enabled: true, target: siem.example.net, protocol: ${protocol}, caFile: "${ca}"}\n`));
    const r = rsyslogCheck(conf, `export-${protocol}`);
    t.equal(r.status, 0, `${protocol}: rsyslogd -N1 ${r.stderr.split('\n').filter((l) => /error/i.test(l)).join(' ')}`);
    if (protocol === 'udp') {
      t.match(conf, /protocol="udp"/);
      t.match(conf, /RSYSLOG_TraditionalForwardFormat/, 'udp: RFC 3164');
    } else {
      for (const needle of ['queue.type="LinkedList"', 'queue.filename="tuxhat_export"', 'queue.saveOnShutdown="on"', 'TCP_Framing="octet-counted"', 'property(name="timestamp" dateFormat="rfc3339")']) {
        t.ok(conf.includes(needle), `${protocol}: ${needle}`);
      }
      if (protocol === 'tls') t.match(conf, /StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509\/name"/);
    }
  }
  const bad = renderRsyslog(loadApplianceText('syslog: {enabled: true, target: siem.example.net, protocol: tcp}\n')).replace('queue.saveOnShutdown', 'queue.saveOnShutdwn');
  t.not(rsyslogCheck(bad, 'bad').status, 0, 'rsyslogd -N1 rejects a misspelled parameter');
});

// ---- sshd ----------------------------------------------------------------------------------------
t.test('sshd: the drop-in in a full sshd_config passes sshd -t; key-only, no root', async (t) => {
  const dropins = join(tmp, 'sshd_config.d');
  mkdirSync(dropins, { recursive: true });
  copyFileSync(join(A, 'rootfs/etc/ssh/sshd_config.d/50-tuxhat.conf'), join(dropins, '50-tuxhat.conf'));
  // Debian 12's own sshd_config (as the image has it), with its Include pointed at our copy.
  const debian = [
    `Include ${dropins}/*.conf`, 'KbdInteractiveAuthentication no', 'UsePAM yes', 'X11Forwarding yes',
    'PrintMotd no', 'AcceptEnv LANG LC_*', 'Subsystem sftp /usr/lib/openssh/sftp-server',
  ].join('\n');
  const cfg = join(tmp, 'sshd_config');
  writeFileSync(cfg, `${debian}\n`);
  const key = join(tmp, 'host_ed25519');
  if (!existsSync(key)) runTool('ssh-keygen', 'openssh-client', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const r = runTool('sshd', 'openssh-server', ['-t', '-f', cfg, '-h', key]);
  t.equal(r.status, 0, `sshd -t: ${r.stderr}`);
  const effective = runTool('sshd', 'openssh-server', ['-T', '-f', cfg, '-h', key]).stdout;
  for (const line of ['permitrootlogin no', 'passwordauthentication no', 'kbdinteractiveauthentication no', 'authenticationmethods publickey', 'allowtcpforwarding no', 'x11forwarding no', 'maxauthtries 3']) {
    t.match(effective, new RegExp(`^${line}$`, 'm'), line);
  }
  writeFileSync(join(dropins, '99-bad.conf'), 'PermitRootLogn no\n');
  t.not(runTool('sshd', 'openssh-server', ['-t', '-f', cfg, '-h', key]).status, 0, 'sshd -t rejects a bad keyword');
});

// ---- ClamAV --------------------------------------------------------------------------------------
t.test('clamd.conf and freshclam.conf pass clamconf; limits cover the gateway size limit', async (t) => {
  const dir = join(tmp, 'clamav');
  mkdirSync(dir, { recursive: true });
  for (const f of ['clamd.conf', 'freshclam.conf']) copyFileSync(join(A, 'rootfs/etc/clamav', f), join(dir, f));
  const r = runTool('clamconf', 'clamav-daemon', ['-c', dir]);
  t.equal(r.status, 0);
  t.notMatch(`${r.stdout}\n${r.stderr}`, /ERROR|WARNING/, 'no errors or warnings');
  const value = (name: string): number => Number(new RegExp(`^${name} = "(\\d+)"`, 'm').exec(r.stdout)?.[1] ?? NaN);
  const limit = configSchema.parse({}).listeners.mx?.maxMessageBytes ?? NaN;
  t.ok(value('StreamMaxLength') > limit, `StreamMaxLength ${value('StreamMaxLength')} > gateway maxMessageBytes ${limit}`);
  t.ok(value('MaxScanSize') >= limit && value('MaxFileSize') >= limit, 'MaxScanSize and MaxFileSize cover a whole message');
  t.match(r.stdout, /^Config file: freshclam\.conf/m, 'freshclam.conf checked too');
  writeFileSync(join(dir, 'clamd.conf'), `${readFileSync(join(dir, 'clamd.conf'), 'utf8')}StreamMaxLenght 26M\n`);
  t.match(runTool('clamconf', 'clamav-daemon', ['-c', dir]).stderr, /ERROR: Parse error/, 'clamconf reports a misspelled option');
});

// ---- apt, sysctl, journald, modprobe -------------------------------------------------------------
t.test('apt periodic and unattended-upgrades files parse; security origin only, no auto-reboot', async (t) => {
  for (const f of ['20auto-upgrades', '52tuxhat-unattended-upgrades']) {
    const r = runTool('apt-config', 'apt', ['-c', join(A, 'rootfs/etc/apt/apt.conf.d', f), 'dump']);
    t.equal(r.status, 0, `${f}: ${r.stderr}`);
    if (f === '20auto-upgrades') t.match(r.stdout, /^APT::Periodic::Unattended-Upgrade "1";$/m);
    else {
      t.match(r.stdout, /label=Debian-Security/);
      t.match(r.stdout, /^Unattended-Upgrade::Automatic-Reboot "false";$/m);
    }
  }
});

t.test('sysctl.d: key = number lines; keys this kernel knows are writable sysctls', async (t) => {
  const lines = readFileSync(join(A, 'rootfs/etc/sysctl.d/90-tuxhat.conf'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  t.ok(lines.length > 20);
  const missing: string[] = [];
  for (const l of lines) {
    const m = /^([a-z0-9_.]+) = (-?\d+)$/.exec(l);
    t.ok(m, `"${l}" is key = number`);
    if (!m?.[1]) continue;
    const path = join('/proc/sys', m[1].replace(/\./g, '/'));
    // The CI host's kernel is not the appliance's (here: no Yama, no sysrq, no Debian userns
    // patch), so an absent key is listed, not failed; the image smoke test runs the real kernel.
    if (!existsSync(path)) {
      missing.push(m[1]);
      continue;
    }
    t.ok(statSync(path).isFile(), `${m[1]} is a sysctl file`);
  }
  if (missing.length > 0) t.comment(`not in this host kernel (checked in the image): ${missing.join(', ')}`);
  t.ok(missing.length < lines.length / 2, 'most keys are known to this kernel (a typo would stand out)');
});

t.test('journald drop-in: persistent storage, forwarding to rsyslog for the export', async (t) => {
  const text = readFileSync(join(A, 'rootfs/etc/systemd/journald.conf.d/50-tuxhat.conf'), 'utf8');
  t.match(text, /^\[Journal\]$/m);
  t.match(text, /^Storage=persistent$/m);
  t.match(text, /^ForwardToSyslog=yes$/m);
  const known = new Set(['Storage', 'Compress', 'SystemMaxUse', 'SystemKeepFree', 'MaxRetentionSec', 'ForwardToSyslog', 'RateLimitIntervalSec', 'RateLimitBurst']);
  for (const l of text.split('\n').filter((x) => /^[A-Za-z]+=/.test(x))) t.ok(known.has(l.split('=')[0] as string), `journald.conf(5) key: ${l}`);
});

// ---- shell scripts -------------------------------------------------------------------------------
function scripts(): string[] {
  const out = [join(ROOT, 'test/run.sh')];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        // image-build/out holds build outputs (a whole Debian rootfs): not ours to lint.
        if (p !== join(ROOT, 'image-build/out')) walk(p);
      }
      else if (name.endsWith('.sh') || /^#!.*\b(ba)?sh\b/.test(readFileSync(p, 'utf8').slice(0, 64))) out.push(p);
    }
  };
  walk(A);
  walk(join(ROOT, 'image-build'));
  walk(join(ROOT, 'test/image'));
  return out;
}

t.test('shell scripts: bash -n and shellcheck', async (t) => {
  tool('shellcheck', 'shellcheck');
  for (const s of scripts()) {
    const name = relative(ROOT, s);
    t.equal(runTool('bash', 'bash', ['-n', s]).status, 0, `bash -n ${name}`);
    const r = runTool('shellcheck', 'shellcheck', ['-x', s], { cwd: ROOT });
    t.equal(r.status, 0, `shellcheck ${name}${r.stdout ? `\n${r.stdout}` : ''}`);
  }
});

// ---- Packer template -----------------------------------------------------------------------------
// `packer validate` checks the template against the qemu builder of the installed Packer (Debian's
// 1.6.6 in CI): every option known, variables valid, provisioner and post-processor inputs present.
// The inputs are stand-ins in a temp out_dir (the build makes the real ones).
t.test('Packerfile.pkr.hcl: packer fmt -check and packer validate (both arches)', async (t) => {
  const out = join(tmp, 'packer-out');
  for (const arch of ['amd64', 'arm64']) {
    mkdirSync(join(out, arch), { recursive: true });
    writeFileSync(join(out, arch, 'disk.raw'), '');
    writeFileSync(join(out, arch, 'tuxhat-app.tar.gz'), '');
  }
  runTool('ssh-keygen', 'openssh-client', ['-q', '-t', 'ed25519', '-N', '', '-f', join(out, 'build_key')]);
  const env = { cwd: ROOT };
  const fmt = runTool('packer', 'packer', ['fmt', '-check', 'Packerfile.pkr.hcl'], env);
  t.equal(fmt.status, 0, `packer fmt -check${fmt.stdout}${fmt.stderr}`);
  for (const arch of ['amd64', 'arm64']) {
    const r = runTool('packer', 'packer', ['validate', '-var', `arch=${arch}`, '-var', `out_dir=${out}`, 'Packerfile.pkr.hcl'], env);
    t.equal(r.status, 0, `packer validate (${arch})\n${r.stdout}${r.stderr}`);
  }
  // It can fail: an unknown architecture and a missing input are refused.
  const badArch = runTool('packer', 'packer', ['validate', '-var', 'arch=mips', '-var', `out_dir=${out}`, 'Packerfile.pkr.hcl'], env);
  t.not(badArch.status, 0, 'arch=mips refused');
  t.match(`${badArch.stdout}${badArch.stderr}`, /arch variable must be amd64 or arm64/);
  rmSync(join(out, 'amd64', 'tuxhat-app.tar.gz'));
  const noBundle = runTool('packer', 'packer', ['validate', '-var', 'arch=amd64', '-var', `out_dir=${out}`, 'Packerfile.pkr.hcl'], env);
  t.not(noBundle.status, 0, 'a missing gateway bundle is refused');
  // Packer 1.6.6 rejects required_plugins: the template must not carry it.
  t.notMatch(readFileSync(join(ROOT, 'Packerfile.pkr.hcl'), 'utf8'), /^\s*required_plugins/m);
});
