/*
 * appliance/settings.ts — the appliance's own settings (/etc/tuxhat/appliance.yaml): management
 * networks, SSH on/off, syslog export. One strict zod schema, loaded by config/'s parseYamlText,
 * so errors read "FILE:LINE: field.path: what is wrong" exactly like gateway.yaml's.
 *
 * Why a second file and not keys in gateway.yaml: these settings belong to the operating system
 * around the daemon (nftables, sshd, rsyslog), which the daemon never reads; config/schema.ts is
 * owned by the daemon and strict. If the daemon ever needs one of them, move it there.
 * Defaults live here only (house style §5). Does not: write files or touch the system (the
 * console backend does). Runs in the `tuxhat` CLI and the console menu (root), never the daemon.
 */
import { z } from 'zod';
import { cidr, parseYamlText } from '../config/index.js';

export const DEFAULT_APPLIANCE_FILE = '/etc/tuxhat/appliance.yaml';

const hostName = z.string().regex(/^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$|^[0-9a-fA-F:.]+$/, 'expected a host name or IP address');

const syslog = z.object({
  /** Off until a collector is named: a forward to nowhere would only fill the disk queue. */
  enabled: z.boolean().default(false),
  target: hostName.optional(),
  /** tls: RFC 5425 (6514); tcp: RFC 6587 octet-counted; udp: legacy RFC 3164 (lossy, 1 KiB). */
  protocol: z.enum(['tls', 'tcp', 'udp']).default('tls'),
  /** Default per protocol when absent: 6514 for tls, 514 for tcp and udp. */
  port: z.number().int().min(1).max(65535).optional(),
  /** CA that signed the collector's certificate (tls only). */
  caFile: z.string().default('/etc/tuxhat/syslog/ca.pem'),
  /** Name the collector's certificate must carry; default: target. */
  permittedPeer: z.string().optional(),
  /** What the disk-assisted queue may hold during a collector outage, in MiB. */
  queueMaxDiskMb: z.number().int().min(16).max(65536).default(1024),
  /** mail: only the gateway's mail-flow events; all: every syslog message of the appliance. */
  scope: z.enum(['mail', 'all']).default('mail'),
}).strict().superRefine((s, ctx) => {
  if (s.enabled && !s.target) ctx.addIssue({ code: 'custom', path: ['target'], message: 'syslog export needs a target collector' });
});

export const applianceSchema = z.object({
  /** Who may reach SSH (and any future admin port). Empty: nobody from the network. */
  managementNetworks: z.array(cidr).default([]),
  ssh: z.object({
    /** Off by default (pfSense style): the console is the way in until the postmaster opts in. */
    enabled: z.boolean().default(false),
  }).strict().prefault({}),
  syslog: syslog.prefault({}),
}).strict();

export type ApplianceSettings = z.output<typeof applianceSchema>;

export function loadApplianceText(text: string, file: string = DEFAULT_APPLIANCE_FILE): ApplianceSettings {
  return parseYamlText(text, file, applianceSchema);
}

export function syslogPort(s: ApplianceSettings['syslog']): number {
  return s.port ?? (s.protocol === 'tls' ? 6514 : 514);
}
