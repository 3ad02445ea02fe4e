/*
 * console/menu.ts — the appliance's console setup menu (numbered, pfSense-style plain text).
 *
 * Input: a Screen (keys) and a ConsoleBackend (effects). Output: validated changes applied all or
 * nothing (edits.ts validates with the daemon's own schema; apply.ts writes atomically and asks
 * the daemon to reload, restoring the file if it refuses). Errors are shown with the field that
 * is wrong, and change nothing. Does not: write files or run commands itself (the backend does).
 * Runs in the console process (root) on tty1 and ttyS0 (tuxhat-console@.service).
 */
import { isIP } from 'node:net';
import { ConfigError, loadConfigText, type Config } from '../config/index.js';
import { loadApplianceText, syslogPort, type ApplianceSettings } from '../appliance/index.js';
import type { ConsoleBackend, ServiceName } from './backend.js';
import { SERVICES } from './backend.js';
import { applyAppliance, applyGateway, applyFirewall } from './apply.js';
import { addRelayDomain, removeRelayDomain, setApplianceKey, setHostnameKey, setTrustedNetworks, splitHostPort } from './edits.js';
import type { Screen } from './screen.js';

const TLS_POLICIES = ['none', 'may', 'encrypt', 'verify'];

function explain(err: unknown): string {
  if (err instanceof ConfigError) return `Not saved, the change is invalid:\n  ${err.problems.join('\n  ')}`;
  return `Failed: ${(err as Error).message}`;
}

function uptime(ms: number): string {
  const m = Math.floor(ms / 60_000);
  return m >= 1440 ? `${Math.floor(m / 1440)}d ${Math.floor((m % 1440) / 60)}h` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

const list = (s: string): string[] => s.split(/[\s,]+/).filter((x) => x !== '');

export class ConsoleMenu {
  readonly #s: Screen;
  readonly #b: ConsoleBackend;

  constructor(screen: Screen, backend: ConsoleBackend) {
    this.#s = screen;
    this.#b = backend;
  }

  async #config(): Promise<{ text: string; config: Config }> {
    const text = await this.#b.readFile(this.#b.gatewayFile);
    return { text, config: loadConfigText(text, this.#b.gatewayFile) };
  }

  async #appliance(): Promise<{ text: string; settings: ApplianceSettings }> {
    const text = await this.#b.readFile(this.#b.applianceFile).catch(() => '');
    return { text, settings: loadApplianceText(text, this.#b.applianceFile) };
  }

  async header(): Promise<string> {
    const info = await this.#b.systemInfo();
    let service: string;
    let queue: string;
    try {
      const st = await this.#b.status();
      const listening = st.workers.filter((w) => w.listening).length;
      service = `running (pid ${st.pid}, up ${uptime(st.uptimeMs)}, ${listening}/${st.workers.length} workers listening)`;
      const total = Object.values(st.queue).reduce((a, b) => a + b, 0);
      queue = `${total} (${Object.entries(st.queue).map(([k, v]) => `${k} ${v}`).join(', ')})`;
    } catch (err) {
      service = `NOT RUNNING (${(err as Error).message})`;
      queue = 'unknown';
    }
    return [
      `TuxHat Edge Gateway ${info.version}    ${info.fqdn}`,
      `Addresses: ${info.addresses.length > 0 ? info.addresses.join(', ') : 'none (check Network)'}`,
      `Mail service: ${service}`,
      `Queue: ${queue}`,
      '-'.repeat(78),
    ].join('\n');
  }

  /** One numbered menu; returns the chosen key ('0' = back). Unknown input redraws. */
  async #choose(title: string, items: ReadonlyArray<readonly [string, string]>, withHeader = false, extra = ''): Promise<string> {
    for (;;) {
      this.#s.clear();
      if (withHeader) this.#s.print(await this.header());
      this.#s.print(`${title}\n`);
      if (extra) this.#s.print(`${extra}\n`);
      for (const [key, label] of items) this.#s.print(` ${key.padStart(2)}) ${label}`);
      const answer = await this.#s.ask('\nEnter an option: ');
      if (items.some(([k]) => k === answer)) return answer;
    }
  }

  async #report(fn: () => Promise<string>): Promise<void> {
    try {
      this.#s.print(await fn());
    } catch (err) {
      this.#s.print(explain(err));
    }
    await this.#s.pause();
  }

  /** The main loop; resolves when the postmaster logs out (0). */
  async run(): Promise<void> {
    const items = [
      ['1', 'Network (DHCP/static, DNS)'], ['2', 'Hostname / FQDN'], ['3', 'Time zone / NTP'],
      ['4', 'Mail routing (relay domains, internal servers, trusted networks)'], ['5', 'TLS certificate'],
      ['6', 'Syslog export'], ['7', 'Admin password and SSH'], ['8', 'Management networks'],
      ['9', 'Services (status, restart, queue flush)'], ['10', 'Diagnostics (ping, DNS, SMTP test)'],
      ['11', 'Updates'], ['12', 'Reboot / shut down'], ['13', 'Factory reset'], ['14', 'Shell'], ['0', 'Log out'],
    ] as const;
    for (;;) {
      const choice = await this.#choose('Main menu', items, true);
      switch (choice) {
        case '0': return;
        case '1': await this.network(); break;
        case '2': await this.hostname(); break;
        case '3': await this.time(); break;
        case '4': await this.mailRouting(); break;
        case '5': await this.tls(); break;
        case '6': await this.syslog(); break;
        case '7': await this.adminAndSsh(); break;
        case '8': await this.managementNetworks(); break;
        case '9': await this.services(); break;
        case '10': await this.diagnostics(); break;
        case '11': await this.#report(async () => `Updates:\n${await this.#b.runUpdates()}`); break;
        case '12': await this.power(); break;
        case '13': await this.factoryReset(); break;
        case '14': await this.#s.suspend(() => this.#b.shell()); break;
      }
    }
  }

  async network(): Promise<void> {
    const c = await this.#choose('Network', [['1', 'DHCP'], ['2', 'Static address'], ['0', 'Back']]);
    if (c === '0') return;
    await this.#report(async () => {
      const dns = list(await this.#s.ask('DNS servers (space-separated, empty = from DHCP/none): '));
      const badDns = dns.find((d) => isIP(d) === 0);
      if (badDns) throw new Error(`DNS server ${badDns} is not an IP address; nothing changed`);
      if (c === '1') {
        await this.#b.setNetwork({ mode: 'dhcp', dns });
        return 'Network set to DHCP.';
      }
      const address = await this.#s.ask('Address/prefix (e.g. 192.0.2.10/24): ');
      const [ip, bits] = address.split('/');
      if (!ip || isIP(ip) === 0 || bits === undefined || !/^\d{1,3}$/.test(bits)) throw new Error(`"${address}" is not ADDRESS/PREFIX; nothing changed`);
      const gateway = await this.#s.ask('Default gateway: ');
      if (isIP(gateway) === 0) throw new Error(`gateway "${gateway}" is not an IP address; nothing changed`);
      await this.#b.setNetwork({ mode: 'static', address, gateway, dns });
      return `Network set to ${address} via ${gateway}.`;
    });
  }

  async hostname(): Promise<void> {
    this.#s.clear();
    const { text, config } = await this.#config();
    this.#s.print(`Hostname / FQDN (the SMTP banner, HELO and Received headers)\nCurrent: ${config.hostname}\n`);
    const fqdn = await this.#s.ask('New FQDN (empty = keep): ');
    if (fqdn === '') return;
    await this.#report(async () => {
      if (!/^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}$/.test(fqdn)) {
        throw new ConfigError(this.#b.gatewayFile, [`hostname: "${fqdn}" is not a fully qualified domain name`]);
      }
      const edit = setHostnameKey(text, this.#b.gatewayFile, fqdn);
      await this.#b.setHostname(fqdn);
      await applyGateway(this.#b, edit.text);
      return `Hostname set to ${fqdn} (system and gateway banner).`;
    });
  }

  async time(): Promise<void> {
    const c = await this.#choose('Time zone / NTP', [['1', 'Time zone'], ['2', 'NTP servers'], ['0', 'Back']]);
    if (c === '1') {
      const zone = await this.#s.ask('Time zone (e.g. Europe/Berlin, UTC): ');
      await this.#report(async () => {
        if (zone !== 'UTC' && !Intl.supportedValuesOf('timeZone').includes(zone)) throw new Error(`unknown time zone "${zone}"; nothing changed`);
        await this.#b.setTimezone(zone);
        return `Time zone set to ${zone}.`;
      });
    } else if (c === '2') {
      const servers = list(await this.#s.ask('NTP servers (space-separated): '));
      await this.#report(async () => {
        if (servers.length === 0) throw new Error('no server given; nothing changed');
        await this.#b.setNtp(servers);
        return `NTP servers: ${servers.join(', ')}.`;
      });
    }
  }

  #routes(config: Config): string {
    const rows = Object.entries(config.domains).map(([d, { route }]) =>
      `  ${d.padEnd(28)} ${route.transport === 'smtp' ? `smtp ${route.hosts.join(', ')} (tls ${route.tls})` : `maildir ${route.path}`}`);
    const relays = Object.entries(config.listeners).filter(([, l]) => l.kind === 'relay')
      .map(([n, l]) => `  listener ${n} (port ${l.port}) trusts: ${l.trustedNetworks.join(', ') || 'no networks'}`);
    return ['Relay domains (accepted on mx, routed to internal servers):', ...(rows.length ? rows : ['  none']), '', 'Trusted networks:', ...(relays.length ? relays : ['  no relay listener'])].join('\n');
  }

  async mailRouting(): Promise<void> {
    for (;;) {
      const { config } = await this.#config();
      const c = await this.#choose('Mail routing', [['1', 'Add relay domain'], ['2', 'Remove relay domain'], ['3', 'Trusted networks of a relay listener'], ['0', 'Back']], false, this.#routes(config));
      if (c === '0') return;
      if (c === '1') await this.#addDomain();
      if (c === '2') await this.#removeDomain();
      if (c === '3') await this.#trustedNetworks();
    }
  }

  async #addDomain(): Promise<void> {
    const domain = await this.#s.ask('Domain (e.g. example.com): ');
    const hosts = list(await this.#s.ask('Internal server(s), host[:port], in failover order: '));
    const tls = (await this.#s.ask(`TLS to the internal server (${TLS_POLICIES.join('/')}) [may]: `)) || 'may';
    await this.#report(async () => {
      const { text } = await this.#config();
      const edit = addRelayDomain(text, this.#b.gatewayFile, domain, hosts, tls);
      const result = await applyGateway(this.#b, edit.text);
      return `Relay domain ${domain.toLowerCase()} -> ${hosts.join(', ')}: ${result}.`;
    });
  }

  async #removeDomain(): Promise<void> {
    const domain = (await this.#s.ask('Domain to remove: ')).toLowerCase();
    await this.#report(async () => {
      const { text } = await this.#config();
      const edit = removeRelayDomain(text, this.#b.gatewayFile, domain);
      return `Relay domain ${domain} removed: ${await applyGateway(this.#b, edit.text)}.`;
    });
  }

  async #trustedNetworks(): Promise<void> {
    const { config } = await this.#config();
    const relays = Object.keys(config.listeners).filter((n) => config.listeners[n]?.kind === 'relay');
    const name = relays.length === 1 ? relays[0] as string : await this.#s.ask(`Relay listener (${relays.join(', ') || 'none'}): `);
    const nets = list(await this.#s.ask(`Trusted networks for ${name} (CIDRs, space-separated): `));
    await this.#report(async () => {
      const { text } = await this.#config();
      const edit = setTrustedNetworks(text, this.#b.gatewayFile, name, nets);
      return `Listener ${name} trusts ${nets.join(', ') || 'no networks'}: ${await applyGateway(this.#b, edit.text)}.`;
    });
  }

  async tls(): Promise<void> {
    let info: string;
    try { info = await this.#b.tlsInfo(); } catch (err) { info = explain(err); }
    const c = await this.#choose('TLS certificate', [['1', 'Generate a self-signed certificate'], ['2', 'Import PEM files (certificate chain and key)'], ['0', 'Back']], false, `Current: ${info}`);
    if (c === '1') {
      await this.#report(async () => {
        const { config } = await this.#config();
        await this.#b.tlsSelfSigned(config.hostname);
        return `Self-signed certificate for ${config.hostname}: ${await applyGateway(this.#b, (await this.#config()).text)}.`;
      });
    } else if (c === '2') {
      const certPath = await this.#s.ask('Path of the certificate chain (PEM): ');
      const keyPath = await this.#s.ask('Path of the private key (PEM): ');
      await this.#report(async () => {
        const { X509Certificate, createPrivateKey } = await import('node:crypto');
        const cert = await this.#b.readFile(certPath);
        const key = await this.#b.readFile(keyPath);
        const x = new X509Certificate(cert);
        if (!x.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate; nothing changed');
        await this.#b.tlsImport(cert, key);
        return `Imported ${x.subject.replace(/\n/g, ', ')}, valid until ${x.validTo}: ${await applyGateway(this.#b, (await this.#config()).text)}.`;
      });
    }
  }

  async syslog(): Promise<void> {
    for (;;) {
      const { settings } = await this.#appliance();
      const s = settings.syslog;
      const now = s.enabled && s.target ? `on: ${s.protocol} to ${s.target}:${syslogPort(s)} (${s.scope === 'mail' ? 'mail-flow events' : 'all messages'})` : 'off';
      const c = await this.#choose('Syslog export', [['1', 'Set collector (and turn on)'], ['2', 'Turn off'], ['3', 'Send a test event'], ['0', 'Back']], false, `Current: ${now}`);
      if (c === '0') return;
      if (c === '3') { await this.#report(async () => { await this.#b.sendSyslogTest(); return 'Test event sent (APP-NAME tuxhat, MSGID test).'; }); continue; }
      let value: ApplianceSettings['syslog'] | Record<string, unknown> = { ...s, enabled: false };
      if (c === '1') {
        const target = await this.#s.ask('Collector host name or IP: ');
        const protocol = (await this.#s.ask('Protocol: tls (RFC 5425), tcp, udp (legacy RFC 3164) [tls]: ')) || 'tls';
        const port = await this.#s.ask('Port [6514 for tls, 514 otherwise]: ');
        value = { ...s, enabled: true, target, protocol, ...(port ? { port: Number(port) } : {}) };
        if (port === '') delete (value as { port?: number }).port;
      }
      await this.#report(async () => {
        const { text } = await this.#appliance();
        const edit = setApplianceKey(text, this.#b.applianceFile, ['syslog'], value);
        return `Syslog export: ${await applyAppliance(this.#b, edit.text, { syslog: true, firewall: false })}.`;
      });
    }
  }

  async adminAndSsh(): Promise<void> {
    const { settings } = await this.#appliance();
    const c = await this.#choose('Admin password and SSH', [['1', 'Change the admin password'], ['2', 'Set SSH authorized key'], ['3', settings.ssh.enabled ? 'Turn SSH off' : 'Turn SSH on (key only, management networks only)'], ['0', 'Back']], false, `SSH is ${settings.ssh.enabled ? 'on' : 'off'}.`);
    if (c === '1') {
      const pw = await this.#s.askHidden('New admin password: ');
      const again = await this.#s.askHidden('Again: ');
      await this.#report(async () => {
        if (pw.length < 12) throw new Error('use at least 12 characters; nothing changed');
        if (pw !== again) throw new Error('the passwords do not match; nothing changed');
        await this.#b.setAdminPassword(pw);
        return 'Admin password changed.';
      });
    } else if (c === '2') {
      const key = await this.#s.ask('Paste one public key (ssh-ed25519 AAAA... comment): ');
      await this.#report(async () => {
        if (!/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/=]{40,}( .*)?$/.test(key)) throw new Error('that is not an OpenSSH public key line; nothing changed');
        await this.#b.setSshKeys([key]);
        return 'Authorized key set.';
      });
    } else if (c === '3') {
      const on = !settings.ssh.enabled;
      await this.#report(async () => {
        const { text } = await this.#appliance();
        const edit = setApplianceKey(text, this.#b.applianceFile, ['ssh', 'enabled'], on);
        const result = await applyAppliance(this.#b, edit.text, { firewall: true });
        await this.#b.service('ssh', on ? 'enable' : 'disable');
        const hint = on && edit.settings.managementNetworks.length === 0 ? ' No management network is set: nobody can reach SSH yet (menu 8).' : '';
        return `SSH turned ${on ? 'on' : 'off'}: ${result}.${hint}`;
      });
    }
  }

  async managementNetworks(): Promise<void> {
    this.#s.clear();
    const { settings } = await this.#appliance();
    this.#s.print(`Management networks (may reach SSH)\nCurrent: ${settings.managementNetworks.join(', ') || 'none'}\n`);
    const answer = await this.#s.ask('New list (CIDRs, space-separated; "-" = none; empty = keep): ');
    if (answer === '') return;
    const nets = answer === '-' ? [] : list(answer);
    await this.#report(async () => {
      const { text } = await this.#appliance();
      const edit = setApplianceKey(text, this.#b.applianceFile, ['managementNetworks'], nets);
      return `Management networks ${nets.join(', ') || 'none'}: ${await applyAppliance(this.#b, edit.text, { firewall: true })}.`;
    });
  }

  async services(): Promise<void> {
    for (;;) {
      const c = await this.#choose('Services', [['1', 'Status'], ['2', 'Restart a service'], ['3', 'Flush the queue (retry deferred mail now)'], ['4', 'Reapply the firewall'], ['0', 'Back']]);
      if (c === '0') return;
      if (c === '1') {
        await this.#report(async () => {
          const out = [await this.header()];
          for (const name of SERVICES) out.push((await this.#b.service(name, 'status')).trim());
          return out.join('\n');
        });
      } else if (c === '2') {
        const name = await this.#s.ask(`Service (${SERVICES.join(', ')}): `);
        await this.#report(async () => {
          if (!(SERVICES as readonly string[]).includes(name)) throw new Error(`unknown service "${name}"`);
          await this.#b.service(name as ServiceName, 'restart');
          return `${name} restarted.`;
        });
      } else if (c === '3') {
        await this.#report(async () => `${await this.#b.queueFlush()} message(s) made due now.`);
      } else if (c === '4') {
        await this.#report(async () => { await applyFirewall(this.#b); return 'Firewall regenerated and loaded.'; });
      }
    }
  }

  async diagnostics(): Promise<void> {
    for (;;) {
      const c = await this.#choose('Diagnostics', [['1', 'Ping'], ['2', 'DNS lookup'], ['3', 'SMTP test to an internal server'], ['0', 'Back']]);
      if (c === '0') return;
      if (c === '1') {
        const host = await this.#s.ask('Host: ');
        await this.#report(async () => this.#b.ping(host));
      } else if (c === '2') {
        const name = await this.#s.ask('Name: ');
        await this.#report(async () => this.#b.dnsLookup(name));
      } else {
        const { config } = await this.#config();
        const hops = [...new Set(Object.values(config.domains).flatMap(({ route }) => (route.transport === 'smtp' ? route.hosts : [])))];
        this.#s.print(hops.map((h, i) => ` ${i + 1}) ${h}`).join('\n') || ' (no internal servers configured)');
        const pick = await this.#s.ask('Number or host[:port]: ');
        const hop = /^\d+$/.test(pick) ? hops[Number(pick) - 1] : pick;
        await this.#report(async () => {
          if (!hop) throw new Error('no such server');
          const { host, port } = splitHostPort(hop);
          return `SMTP test:\n${await this.#b.smtpTest(host, port)}\nSMTP test OK.`;
        });
      }
    }
  }

  async power(): Promise<void> {
    const c = await this.#choose('Reboot / shut down', [['1', 'Reboot'], ['2', 'Shut down'], ['0', 'Back']]);
    if (c === '0') return;
    if ((await this.#s.ask(`Really ${c === '1' ? 'reboot' : 'shut down'}? (yes/no): `)) !== 'yes') return;
    await this.#report(async () => {
      if (c === '1') await this.#b.reboot();
      else await this.#b.shutdown();
      return c === '1' ? 'Rebooting...' : 'Shutting down...';
    });
  }

  async factoryReset(): Promise<void> {
    this.#s.clear();
    this.#s.print('Factory reset: restores gateway.yaml and appliance.yaml as shipped, removes SSH keys and the\nnetwork setting, turns SSH off, and reboots. Queued mail stays in the spool.\n');
    if ((await this.#s.ask('Type RESET to confirm: ')) !== 'RESET') return;
    await this.#report(async () => { await this.#b.factoryReset(); return 'Factory reset done; rebooting.'; });
  }
}
