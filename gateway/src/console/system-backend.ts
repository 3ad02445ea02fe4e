/*
 * console/system-backend.ts — the appliance's ConsoleBackend: the daemon's admin API over its
 * unix socket, files under /etc, and standard Debian 12 tools (hostnamectl, timedatectl,
 * systemd-networkd, chpasswd, nft, rsyslogd, systemctl, apt-get/unattended-upgrade, su).
 *
 * Every command runs through execFile (no shell, arguments never interpolated into a command
 * line) with a deadline. Firewall and syslog text are checked by their own tools (nft -c,
 * rsyslogd -N1) before they replace the live file. Paths are the appliance's (docs/appliance.md).
 * Runs in the console process as root on tty1/ttyS0 (tuxhat-console@.service).
 */
import { execFile, spawn } from 'node:child_process';
import { readFile, mkdir, rm, cp } from 'node:fs/promises';
import { networkInterfaces, hostname } from 'node:os';
import { Resolver } from 'node:dns/promises';
import { promisify } from 'node:util';
import type { ReloadResult, StatusInfo } from '../admin/index.js';
import { AdminClient } from '../cli/admin-client.js';
import { packageVersion } from '../cli/index.js';
import { loadConfigText } from '../config/index.js';
import type { ConsoleBackend, NetworkSpec, ServiceName, SystemInfo } from './backend.js';
import { writeFileAtomic } from '../config/index.js';
import { smtpProbe } from './smtp-probe.js';

const run = promisify(execFile);
const ADMIN_USER = 'tuxhat-admin';
const NETWORK_FILE = '/etc/systemd/network/10-tuxhat.network';
const NFT_FILE = '/etc/nftables.conf';
const RSYSLOG_FILE = '/etc/rsyslog.d/60-tuxhat-export.conf';
const TIMESYNCD_FILE = '/etc/systemd/timesyncd.conf.d/50-tuxhat.conf';
const FACTORY_DIR = '/opt/tuxhat/appliance/etc';

async function sh(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
  if (opts.input !== undefined) {
    return new Promise((resolve, reject) => {
      const child = execFile(cmd, [...args], { timeout: opts.timeoutMs ?? 30_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd}: ${(stderr || err.message).trim().split('\n')[0]}`));
        else resolve(String(stdout));
      });
      child.stdin?.end(opts.input);
    });
  }
  try {
    const { stdout } = await run(cmd, [...args], { timeout: opts.timeoutMs ?? 30_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd}: ${(e.stderr || e.stdout || e.message).trim().split('\n').slice(0, 3).join(' ')}`);
  }
}

export class SystemBackend implements ConsoleBackend {
  readonly gatewayFile: string;
  readonly applianceFile: string;

  constructor(opts: { gatewayFile: string; applianceFile: string }) {
    this.gatewayFile = opts.gatewayFile;
    this.applianceFile = opts.applianceFile;
  }

  readFile(path: string): Promise<string> { return readFile(path, 'utf8'); }
  writeFileAtomic(path: string, text: string): Promise<void> { return writeFileAtomic(path, text); }

  async #admin<T>(fn: (c: AdminClient) => Promise<T>): Promise<T> {
    const config = loadConfigText(await this.readFile(this.gatewayFile), this.gatewayFile);
    const client = new AdminClient(config.admin.socket, 10_000);
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  }

  async systemInfo(): Promise<SystemInfo> {
    const fqdn = (await sh('hostname', ['--fqdn']).catch(() => hostname())).trim();
    const addresses: string[] = [];
    for (const [ifname, list] of Object.entries(networkInterfaces())) {
      for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80')) addresses.push(`${a.cidr ?? a.address} (${ifname})`);
    }
    return { version: packageVersion(), fqdn, addresses };
  }

  status(): Promise<StatusInfo> { return this.#admin((c) => c.json<StatusInfo>('GET', '/status')); }
  reload(): Promise<ReloadResult> {
    return this.#admin(async (c) => {
      try {
        return await c.json<ReloadResult>('POST', '/reload');
      } catch (err) {
        const body = (err as { body?: unknown }).body as ReloadResult | undefined;
        if (body && body.ok === false) return body;
        throw err;
      }
    });
  }
  async queueFlush(): Promise<number> { return (await this.#admin((c) => c.json<{ flushed: number }>('POST', '/queue/flush'))).flushed; }

  async service(name: ServiceName, action: 'status' | 'restart' | 'enable' | 'disable'): Promise<string> {
    if (action === 'status') return (await sh('systemctl', ['status', '--no-pager', '--lines=5', `${name}.service`]).catch((e: Error) => e.message));
    // Starting a unit can take minutes on slow or emulated hardware (sshd's first start under
    // arm64 emulation took longer than 30 s, and the menu reported the killed systemctl as a failure).
    if (action === 'enable' || action === 'disable') return sh('systemctl', [action, '--now', `${name}.service`], { timeoutMs: 300_000 });
    return sh('systemctl', ['restart', `${name}.service`], { timeoutMs: 300_000 });
  }

  async applyFirewall(ruleset: string): Promise<void> {
    const staged = `${NFT_FILE}.new`;
    await writeFileAtomic(staged, ruleset, 0o755);
    try {
      await sh('nft', ['-c', '-f', staged]);
    } catch (err) {
      await rm(staged, { force: true });
      throw err;
    }
    await sh('mv', ['-f', staged, NFT_FILE]);
    await sh('nft', ['-f', NFT_FILE]);
  }

  async applySyslog(conf: string): Promise<void> {
    const staged = `/run/tuxhat-console-rsyslog-check.conf`;
    await writeFileAtomic(staged, `global(workDirectory="/var/spool/rsyslog")\n${conf}`, 0o600);
    try {
      await sh('rsyslogd', ['-N1', '-f', staged]);
    } finally {
      await rm(staged, { force: true });
    }
    await writeFileAtomic(RSYSLOG_FILE, conf, 0o644);
    await sh('systemctl', ['restart', 'rsyslog.service']);
  }

  async sendSyslogTest(): Promise<void> {
    await sh('logger', ['-t', 'tuxhat', '--', JSON.stringify({ level: 30, event: 'test', msg: 'syslog export test from the console menu' })]);
  }

  async setHostname(fqdn: string): Promise<void> { await sh('hostnamectl', ['set-hostname', fqdn]); }

  async setNetwork(spec: NetworkSpec): Promise<void> {
    const lines = ['# written by the TuxHat console menu (Network)', '[Match]', 'Name=en* eth*', '', '[Network]'];
    if (spec.mode === 'dhcp') lines.push('DHCP=yes');
    else lines.push(`Address=${spec.address}`, `Gateway=${spec.gateway}`);
    for (const d of spec.dns) lines.push(`DNS=${d}`);
    await writeFileAtomic(NETWORK_FILE, `${lines.join('\n')}\n`, 0o644);
    await sh('networkctl', ['reload']);
  }

  async setTimezone(zone: string): Promise<void> { await sh('timedatectl', ['set-timezone', zone]); }
  async setNtp(servers: readonly string[]): Promise<void> {
    await mkdir('/etc/systemd/timesyncd.conf.d', { recursive: true });
    await writeFileAtomic(TIMESYNCD_FILE, `# written by the TuxHat console menu (Time)\n[Time]\nNTP=${servers.join(' ')}\n`, 0o644);
    await sh('systemctl', ['restart', 'systemd-timesyncd.service']);
    await sh('timedatectl', ['set-ntp', 'true']);
  }
  async setAdminPassword(password: string): Promise<void> { await sh('chpasswd', [], { input: `${ADMIN_USER}:${password}\n` }); }
  async setSshKeys(keys: readonly string[]): Promise<void> {
    const dir = `/home/${ADMIN_USER}/.ssh`;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(`${dir}/authorized_keys`, `${keys.join('\n')}\n`, 0o600);
    await sh('chown', ['-R', `${ADMIN_USER}:${ADMIN_USER}`, dir]);
  }

  async tlsInfo(): Promise<string> {
    const config = loadConfigText(await this.readFile(this.gatewayFile), this.gatewayFile);
    if (!config.tls.certFile) return 'no certificate configured: the gateway uses a generated self-signed one';
    return sh('openssl', ['x509', '-noout', '-subject', '-issuer', '-enddate', '-fingerprint', '-sha256', '-in', config.tls.certFile]);
  }
  async tlsSelfSigned(fqdn: string): Promise<void> {
    const config = loadConfigText(await this.readFile(this.gatewayFile), this.gatewayFile);
    if (!config.tls.certFile || !config.tls.keyFile) throw new Error('tls.certFile and tls.keyFile are not set in gateway.yaml');
    await sh('openssl', ['req', '-x509', '-newkey', 'rsa:3072', '-nodes', '-days', '825', '-subj', `/CN=${fqdn}`,
      '-addext', `subjectAltName=DNS:${fqdn}`, '-keyout', `${config.tls.keyFile}.new`, '-out', `${config.tls.certFile}.new`], { timeoutMs: 60_000 });
    await sh('mv', ['-f', `${config.tls.keyFile}.new`, config.tls.keyFile]);
    await sh('mv', ['-f', `${config.tls.certFile}.new`, config.tls.certFile]);
  }
  async tlsImport(certPem: string, keyPem: string): Promise<void> {
    const config = loadConfigText(await this.readFile(this.gatewayFile), this.gatewayFile);
    if (!config.tls.certFile || !config.tls.keyFile) throw new Error('tls.certFile and tls.keyFile are not set in gateway.yaml');
    await writeFileAtomic(config.tls.keyFile, keyPem, 0o640);
    await writeFileAtomic(config.tls.certFile, certPem, 0o644);
  }

  ping(host: string): Promise<string> { return sh('ping', ['-c', '3', '-W', '2', '--', host], { timeoutMs: 15_000 }).catch((e: Error) => e.message); }
  async dnsLookup(name: string): Promise<string> {
    const r = new Resolver({ timeout: 3000, tries: 2 });
    const out: string[] = [];
    for (const type of ['A', 'AAAA', 'MX'] as const) {
      try {
        if (type === 'MX') for (const a of await r.resolveMx(name)) out.push(`${name} MX ${a.priority} ${a.exchange}`);
        else for (const a of await (type === 'A' ? r.resolve4(name) : r.resolve6(name))) out.push(`${name} ${type} ${a}`);
      } catch (err) {
        out.push(`${name} ${type}: ${(err as { code?: string }).code ?? (err as Error).message}`);
      }
    }
    return out.join('\n');
  }
  async smtpTest(host: string, port: number): Promise<string> {
    const config = loadConfigText(await this.readFile(this.gatewayFile), this.gatewayFile);
    return smtpProbe(host, port, config.hostname);
  }

  async runUpdates(): Promise<string> {
    await sh('apt-get', ['update', '-qq'], { timeoutMs: 600_000 });
    return sh('unattended-upgrade', ['-v'], { timeoutMs: 3_600_000 });
  }
  async reboot(): Promise<void> { await sh('systemctl', ['reboot']); }
  async shutdown(): Promise<void> { await sh('systemctl', ['poweroff']); }
  async factoryReset(): Promise<void> {
    await cp(`${FACTORY_DIR}/gateway.yaml`, this.gatewayFile);
    await cp(`${FACTORY_DIR}/appliance.yaml`, this.applianceFile);
    await rm(`/home/${ADMIN_USER}/.ssh/authorized_keys`, { force: true });
    await rm(NETWORK_FILE, { force: true });
    await sh('systemctl', ['disable', '--now', 'ssh.service']).catch(() => '');
    await sh('systemctl', ['reboot']);
  }
  shell(): Promise<void> {
    return new Promise((resolve) => {
      const [cmd, ...args] = reauthenticatingShell(ADMIN_USER);
      const child = spawn(cmd!, args, { stdio: 'inherit' });
      child.on('exit', () => resolve());
      child.on('error', () => resolve());
    });
  }
}

/**
 * The console's "shell" item. The menu runs as root, and su from root never asks for a password:
 * su is started as nobody instead (setpriv drops uid, gid and groups; su is setuid root), so PAM
 * asks for the admin user's password before the shell opens.
 */
export function reauthenticatingShell(user: string): string[] {
  return ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', 'su', '-l', user];
}
