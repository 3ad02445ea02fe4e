/*
 * console/fake-backend.ts — a ConsoleBackend for tests and demos: real files in one directory,
 * every system action recorded as a JSON line in DIR/calls.jsonl (secrets replaced by "***").
 *
 * gateway.yaml and appliance.yaml are written atomically like on the appliance; reload
 * validates gateway.yaml with the daemon's loader and answers like the daemon's /reload (a bad
 * file is refused); the firewall and syslog files land in DIR; the SMTP test is the real probe
 * (tests point it at a loopback listener). Nothing else touches the system.
 * Runs in the console process under test (`tuxhat-console --backend=fake --dir DIR`).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReloadResult, StatusInfo } from '../admin/index.js';
import { ConfigError, loadConfigText } from '../config/index.js';
import { packageVersion } from '../cli/index.js';
import type { ConsoleBackend, NetworkSpec, ServiceName, SystemInfo } from './backend.js';
import { writeFileAtomic } from '../config/index.js';
import { smtpProbe } from './smtp-probe.js';

export class FakeBackend implements ConsoleBackend {
  readonly gatewayFile: string;
  readonly applianceFile: string;
  readonly #dir: string;
  #hostname = 'gw.example.test';

  constructor(dir: string) {
    this.#dir = dir;
    this.gatewayFile = join(dir, 'gateway.yaml');
    this.applianceFile = join(dir, 'appliance.yaml');
  }

  #record(call: string, args: Record<string, unknown> = {}): void {
    appendFileSync(join(this.#dir, 'calls.jsonl'), `${JSON.stringify({ call, ...args })}\n`);
  }

  readFile(path: string): Promise<string> { return readFile(path, 'utf8'); }
  async writeFileAtomic(path: string, text: string): Promise<void> {
    this.#record('writeFile', { path });
    await writeFileAtomic(path, text);
  }

  async systemInfo(): Promise<SystemInfo> {
    return { version: packageVersion(), fqdn: this.#hostname, addresses: ['192.0.2.10/24 (eth0)', '2001:db8::10/64 (eth0)'] };
  }

  async status(): Promise<StatusInfo> {
    return {
      version: packageVersion(), pid: 4242, startedAt: Date.now() - 3_600_000, uptimeMs: 3_600_000,
      workers: [{ id: 1, pid: 4243, listening: true }],
      listeners: [],
      queue: { incoming: 1, deferred: 2, hold: 0, corrupt: 0 },
    };
  }

  async reload(): Promise<ReloadResult> {
    this.#record('reload');
    try {
      loadConfigText(readFileSync(this.gatewayFile, 'utf8'), this.gatewayFile);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message };
    }
  }

  async queueFlush(): Promise<number> { this.#record('queueFlush'); return 2; }
  async service(name: ServiceName, action: string): Promise<string> {
    this.#record('service', { name, action });
    return `${name}: active (running)`;
  }
  async applyFirewall(ruleset: string): Promise<void> {
    this.#record('applyFirewall');
    await writeFileAtomic(join(this.#dir, 'nftables.conf'), ruleset);
  }
  async applySyslog(conf: string): Promise<void> {
    this.#record('applySyslog');
    await writeFileAtomic(join(this.#dir, 'rsyslog-export.conf'), conf);
  }
  async sendSyslogTest(): Promise<void> { this.#record('sendSyslogTest'); }
  async setHostname(fqdn: string): Promise<void> { this.#record('setHostname', { fqdn }); this.#hostname = fqdn; }
  async setNetwork(spec: NetworkSpec): Promise<void> { this.#record('setNetwork', { spec }); }
  async setTimezone(zone: string): Promise<void> { this.#record('setTimezone', { zone }); }
  async setNtp(servers: readonly string[]): Promise<void> { this.#record('setNtp', { servers }); }
  async setAdminPassword(_password: string): Promise<void> { this.#record('setAdminPassword', { password: '***' }); }
  async setSshKeys(keys: readonly string[]): Promise<void> { this.#record('setSshKeys', { count: keys.length }); }
  async tlsInfo(): Promise<string> { return 'subject CN=gw.example.test, expires 2027-01-01 (self-signed)'; }
  async tlsSelfSigned(fqdn: string): Promise<void> { this.#record('tlsSelfSigned', { fqdn }); }
  async tlsImport(_cert: string, _key: string): Promise<void> { this.#record('tlsImport'); }
  async ping(host: string): Promise<string> { this.#record('ping', { host }); return `PING ${host}: 3 packets transmitted, 3 received`; }
  async dnsLookup(name: string): Promise<string> { this.#record('dnsLookup', { name }); return `${name} A 192.0.2.1`; }
  async smtpTest(host: string, port: number): Promise<string> {
    this.#record('smtpTest', { host, port });
    return smtpProbe(host, port, this.#hostname, 5000);
  }
  async runUpdates(): Promise<string> { this.#record('runUpdates'); return 'no updates'; }
  async reboot(): Promise<void> { this.#record('reboot'); }
  async shutdown(): Promise<void> { this.#record('shutdown'); }
  async factoryReset(): Promise<void> { this.#record('factoryReset'); }
  async shell(): Promise<void> { this.#record('shell'); }
}
