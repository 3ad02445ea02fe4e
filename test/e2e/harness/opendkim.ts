/*
 * test/e2e/harness/opendkim.ts — OpenDKIM (an independent DKIM implementation, Debian's
 * opendkim-tools 2.11) verifying a message against test zones.
 *
 * opendkim-testmsg has no option for a DNS server or a key file: libopendkim asks the servers
 * in /etc/resolv.conf on port 53. So it runs in private namespaces (`unshare -n -m`): a network
 * namespace with only `lo` up, where a dnsmasq serving `records` (same mapping as startDns)
 * listens on 127.0.0.1:53, and a mount namespace where a resolv.conf naming 127.0.0.1 is
 * bind-mounted over /etc/resolv.conf. Nothing is changed outside the namespaces; port 53 of
 * the machine is not touched. Needs root or unprivileged user namespaces (then `unshare -r`).
 *
 * opendkim-testmsg exits 0 when the message verifies (with several signatures: when one
 * verifies), non-zero with `dkim_eom(): Bad signature` (or another reason) otherwise.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { recordLines, type DnsRecords } from './dns.js';
import { run, tempDir, which, type Cleanup, type RunResult } from './util.js';

export async function opendkimVerify(t: Cleanup, message: string, records: DnsRecords): Promise<RunResult> {
  const dir = await tempDir(t, 'odkv');
  await writeFile(join(dir, 'zones.conf'), `${recordLines(records).join('\n')}\n`);
  await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  await writeFile(join(dir, 'message.eml'), message);
  const script = [
    'set -e',
    `${which('ip', 'iproute2')} link set lo up`,
    `mount --bind "$D/resolv.conf" /etc/resolv.conf`,
    // Without --keep-in-foreground dnsmasq returns once it is bound: it is ready when this line ends.
    `${which('dnsmasq', 'dnsmasq-base')} --conf-file="$D/zones.conf" --no-resolv --no-hosts --no-poll --bind-interfaces`
      + ` --listen-address=127.0.0.1 --port=53 --pid-file="$D/dnsmasq.pid" --local=/#/ --local-ttl=0 --user=root`,
    'set +e',
    `${which('opendkim-testmsg', 'opendkim-tools')} < "$D/message.eml"`,
    'rc=$?',
    'kill "$(cat "$D/dnsmasq.pid")"',
    'exit $rc',
  ].join('\n');
  const flags = process.getuid?.() === 0 ? '-nm' : '-rnm';
  return run(which('unshare', 'util-linux'), [flags, '/bin/sh', '-c', script], { env: { ...process.env, D: dir }, timeoutMs: 20_000 });
}
