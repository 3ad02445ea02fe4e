/*
 * console/backend.ts — everything the console menu may do to the world, as one interface.
 *
 * The menu (menu.ts) holds the dialogue and the validation (edits.ts, the same zod schemas as
 * the daemon); a backend only performs effects. system-backend.ts is the appliance's (admin API
 * over the unix socket, files under /etc, standard Debian tools); fake-backend.ts keeps files in
 * a directory and records every system call for the tmux tests. Does not: validate (callers
 * pass validated text) or print.
 * Runs in the console process (root, on tty1 and ttyS0).
 */
import type { ReloadResult, StatusInfo } from '../admin/index.js';

export interface SystemInfo {
  readonly version: string;
  readonly fqdn: string;
  /** Global addresses of the up interfaces, e.g. "192.0.2.10/24 (ens3)". */
  readonly addresses: readonly string[];
}

export type NetworkSpec =
  | { readonly mode: 'dhcp'; readonly dns: readonly string[] }
  | { readonly mode: 'static'; readonly address: string; readonly gateway: string; readonly dns: readonly string[] };

export type ServiceName = 'tuxhat' | 'clamav-daemon' | 'clamav-freshclam' | 'rsyslog' | 'ssh' | 'nftables';
export const SERVICES: readonly ServiceName[] = ['tuxhat', 'clamav-daemon', 'clamav-freshclam', 'rsyslog', 'ssh', 'nftables'];

export interface ConsoleBackend {
  /** The files the menu edits (their text is validated before any write). */
  readonly gatewayFile: string;
  readonly applianceFile: string;
  readFile(path: string): Promise<string>;
  /** Temp file in the same directory, fsync, rename over, fsync the directory; keeps mode and owner. */
  writeFileAtomic(path: string, text: string): Promise<void>;

  systemInfo(): Promise<SystemInfo>;
  /** The daemon's /status; rejects with a one-line reason when it cannot be reached. */
  status(): Promise<StatusInfo>;
  /** POST /reload: the daemon re-reads gateway.yaml (and refuses a bad one). */
  reload(): Promise<ReloadResult>;
  queueFlush(): Promise<number>;
  service(name: ServiceName, action: 'status' | 'restart' | 'enable' | 'disable'): Promise<string>;

  /** Check (nft -c) then install and load a ruleset; rejects and changes nothing when the check fails. */
  applyFirewall(ruleset: string): Promise<void>;
  /** Check (rsyslogd -N1) then install the export file and restart rsyslog. */
  applySyslog(conf: string): Promise<void>;
  /** logger(1) a test event through the export path. */
  sendSyslogTest(): Promise<void>;

  setHostname(fqdn: string): Promise<void>;
  setNetwork(spec: NetworkSpec): Promise<void>;
  setTimezone(zone: string): Promise<void>;
  setNtp(servers: readonly string[]): Promise<void>;
  setAdminPassword(password: string): Promise<void>;
  setSshKeys(keys: readonly string[]): Promise<void>;
  tlsInfo(): Promise<string>;
  tlsSelfSigned(fqdn: string): Promise<void>;
  tlsImport(certPem: string, keyPem: string): Promise<void>;

  ping(host: string): Promise<string>;
  dnsLookup(name: string): Promise<string>;
  /** Connect, read the banner, EHLO, QUIT; resolves with the transcript. */
  smtpTest(host: string, port: number): Promise<string>;

  runUpdates(): Promise<string>;
  reboot(): Promise<void>;
  shutdown(): Promise<void>;
  factoryReset(): Promise<void>;
  /** A login shell after re-authentication; resolves when it exits. */
  shell(): Promise<void>;
}
