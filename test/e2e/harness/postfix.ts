/*
 * test/e2e/harness/postfix.ts — a private Postfix instance on a loopback port.
 *
 * Used as a real internal mail server behind the gateway (relaying on to smtp-sink, or delivering
 * to Maildirs and rejecting unknown users), and as the benchmark baseline.
 *
 * How (all learned the hard way, on Debian 12's Postfix 3.7, as root, without systemd or syslog):
 *   - Its own config_directory (main.cf + master.cf written here), queue_directory and
 *     data_directory under a temp dir; `postfix -c DIR start` / `stop`. No postmulti: that would
 *     edit the system's /etc/postfix/main.cf. As root, `-c DIR` needs no alternate_config_directories.
 *   - data_directory must be owned by user postfix (master.lock lives there), and the temp dir
 *     must be traversable (0755) by postfix.
 *   - There is no syslog here, and postfix(1) prints its errors only to a terminal. So logging goes
 *     to `maillog_file` through the postlog service; maillog_file_prefixes must allow its path.
 *     `log()` returns it, and start-up errors include it.
 *   - The SMTP client never looks up DNS (`smtp_dns_support_level = disabled`): next hops are
 *     [127.0.0.1]:PORT literals. (Postfix reads /etc/resolv.conf, which cannot name a port, so it
 *     could not use the test dnsmasq anyway.)
 *   - master.cf has chroot off for every service (Debian's default chroots smtpd and needs files
 *     copied into the jail).
 *   - Retries are fast (queue_run_delay 1s, backoff 1–10 s) so "next hop down, then up" tests
 *     finish quickly; this does not change the happy path the benchmark measures.
 *   - In some sandboxes pid 1 does not reap orphans; Postfix's processes then stay as zombies after
 *     `postfix stop`. Harmless, and isAlive() treats zombies as dead.
 */
import { chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort, LOOPBACK, waitForPort } from './ports.js';
import { isAlive, run, sleep, tempDir, trackGroup, waitFor, which, type Cleanup } from './util.js';

export interface PostfixOptions {
  /** SMTP listener port on 127.0.0.1 (default: a free port). */
  port?: number;
  myhostname?: string;
  /** Send all mail that is not delivered locally to this next hop ('127.0.0.1:PORT'): relayhost. */
  relayTo?: string;
  /** Per-domain next hops, e.g. { 'corp.test': '127.0.0.1:2526' } (transport_maps). */
  transports?: Record<string, string>;
  /**
   * Domains Postfix accepts from anyone (relay_domains). Clients on 127.0.0.0/8 (mynetworks) may
   * relay anywhere anyway, which is what a plain internal relay and the benchmark need.
   */
  relayDomains?: string[];
  /**
   * Be a final destination: mail for these domains is delivered into Maildirs under
   * `<dir>/mail/<domain>/<localpart>/`. With `users` ('a@corp.test'), other recipients in those
   * domains are rejected at RCPT (550 5.1.1), like a real internal server doing recipient checks.
   */
  mailbox?: { domains: string[]; users?: string[] };
  /** Extra or overriding main.cf parameters. */
  main?: Record<string, string | number>;
  /** Extra `-o name=value` for the smtpd service in master.cf. */
  smtpdOptions?: Record<string, string | number>;
  /** Fast retries (default true); false keeps Postfix's defaults (5 min…). */
  fastRetry?: boolean;
}

export interface PostfixInstance {
  port: number;
  hostPort: string;
  dir: string;
  configDir: string;
  queueDir: string;
  logFile: string;
  /** The master daemon's pid (its process group holds all Postfix processes of this instance). */
  masterPid(): number;
  /** The instance's mail log so far. */
  log(): Promise<string>;
  /** Messages in the queue (incoming + active + deferred + hold + maildrop). */
  queueSize(): Promise<number>;
  waitForEmptyQueue(timeoutMs?: number): Promise<void>;
  /** `postqueue -f`: retry deferred mail now. */
  flush(): Promise<void>;
  /** Delivered Maildir files (with `mailbox`), as { file, content }. */
  delivered(): Promise<Array<{ file: string; mailbox: string; content: string }>>;
  /** Rewrites main.cf parameters and runs `postfix reload`. */
  reconfigure(main: Record<string, string | number>): Promise<void>;
  stop(): Promise<void>;
}

const POSTFIX_USER = 'postfix';

function uidGid(user: string): { uid: number; gid: number } {
  const line = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim();
  const parts = line.split(':');
  return { uid: Number(parts[2]), gid: Number(parts[3]) };
}

const MASTER_CF_SERVICES = `
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

/** Starts a private Postfix instance; stopped in teardown. */
export async function startPostfix(t: Cleanup, opts: PostfixOptions = {}): Promise<PostfixInstance> {
  const postfix = which('postfix', 'postfix');
  const postqueue = which('postqueue', 'postfix');
  const dir = await tempDir(t, 'postfix');
  const configDir = join(dir, 'conf');
  const queueDir = join(dir, 'queue');
  const dataDir = join(dir, 'data');
  const mailDir = join(dir, 'mail');
  const logFile = join(dir, 'maillog');
  for (const d of [configDir, queueDir, dataDir, mailDir]) await mkdir(d);
  const pf = uidGid(POSTFIX_USER);
  await chown(dataDir, pf.uid, pf.gid);
  const port = opts.port ?? (await freePort());
  const hostname = opts.myhostname ?? 'postfix.test';
  const nextHop = (hp: string): string => {
    const [h, p] = hp.split(/:(?=\d+$)/);
    return `smtp:[${h}]${p ? `:${p}` : ''}`;
  };

  const main: Record<string, string | number> = {
    compatibility_level: '3.6',
    queue_directory: queueDir,
    data_directory: dataDir,
    mail_owner: POSTFIX_USER,
    myhostname: hostname,
    mydomain: hostname,
    myorigin: '$myhostname',
    mydestination: '',
    inet_interfaces: LOOPBACK,
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    relay_domains: (opts.relayDomains ?? []).join(', '),
    relayhost: opts.relayTo ? `[${opts.relayTo.split(/:(?=\d+$)/)[0]}]:${opts.relayTo.split(/:(?=\d+$)/)[1] ?? 25}` : '',
    transport_maps: `texthash:${join(configDir, 'transport')}`,
    alias_maps: '',
    alias_database: '',
    local_recipient_maps: '',
    local_transport: 'error:5.1.1 no local delivery on this instance',
    smtp_dns_support_level: 'disabled',
    smtpd_banner: '$myhostname ESMTP Postfix',
    maillog_file: logFile,
    maillog_file_prefixes: dir,
    biff: 'no',
    append_dot_mydomain: 'no',
    smtputf8_enable: 'yes',
    ...(opts.fastRetry === false
      ? {}
      : { queue_run_delay: '1s', minimal_backoff_time: '1s', maximal_backoff_time: '10s', smtp_connect_timeout: '5s' }),
  };
  if (opts.mailbox) {
    const nobody = uidGid('nobody');
    await chown(mailDir, nobody.uid, nobody.gid);
    const users = opts.mailbox.users;
    main['virtual_mailbox_domains'] = opts.mailbox.domains.join(', ');
    main['virtual_mailbox_base'] = mailDir;
    main['virtual_uid_maps'] = `static:${nobody.uid}`;
    main['virtual_gid_maps'] = `static:${nobody.gid}`;
    main['virtual_minimum_uid'] = Math.min(100, nobody.uid);
    if (users && users.length > 0) {
      // user@domain → domain/localpart/ (trailing slash: Maildir format)
      const lines = users.map((u) => {
        const [local, domain] = u.split('@');
        return `${u} ${domain}/${local}/`;
      });
      await writeFile(join(configDir, 'vmailbox'), `${lines.join('\n')}\n`);
      main['virtual_mailbox_maps'] = `texthash:${join(configDir, 'vmailbox')}`;
    } else {
      // Any recipient: the map is a regexp that maps user@domain to domain/user/.
      await writeFile(join(configDir, 'vmailbox'), '/^([^@]+)@(.+)$/ $2/$1/\n');
      main['virtual_mailbox_maps'] = `regexp:${join(configDir, 'vmailbox')}`;
    }
  }
  Object.assign(main, opts.main ?? {});

  const writeMain = async (): Promise<void> => {
    const text = Object.entries(main)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n');
    await writeFile(join(configDir, 'main.cf'), `# written by test/e2e/harness/postfix.ts\n${text}\n`);
  };
  await writeMain();
  const transport = Object.entries(opts.transports ?? {}).map(([d, hp]) => `${d} ${nextHop(hp)}`);
  await writeFile(join(configDir, 'transport'), `${transport.join('\n')}\n`);
  const smtpdO = Object.entries(opts.smtpdOptions ?? {})
    .map(([k, v]) => `\n  -o ${k}=${v}`)
    .join('');
  await writeFile(
    join(configDir, 'master.cf'),
    `# written by test/e2e/harness/postfix.ts\n${LOOPBACK}:${port} inet n - n - - smtpd${smtpdO}\n${MASTER_CF_SERVICES}`,
  );

  const log = async (): Promise<string> => readFile(logFile, 'utf8').catch(() => '');
  const pidFile = join(queueDir, 'pid', 'master.pid');
  let masterPid = 0;
  let forget: (() => void) | undefined;

  const start = await run(postfix, ['-c', configDir, 'start'], { timeoutMs: 30_000 });
  if (start.code !== 0) {
    // postfix(1) prints its fatal errors only to a terminal or the log; show both.
    const check = await run(postfix, ['-c', configDir, 'check'], { timeoutMs: 10_000 });
    throw new Error(
      `postfix -c ${configDir} start failed (exit ${start.code})\n${start.stdout}${start.stderr}${check.stdout}${check.stderr}\n--- maillog ---\n${await log()}`,
    );
  }
  masterPid = Number((await readFile(pidFile, 'utf8')).trim());
  forget = trackGroup(masterPid);
  await waitForPort(port, { timeoutMs: 10_000 }).catch(async (err: unknown) => {
    throw new Error(`${String(err)}\n--- maillog ---\n${await log()}`);
  });

  const queueSize = async (): Promise<number> => {
    let n = 0;
    for (const q of ['incoming', 'active', 'deferred', 'hold', 'maildrop']) {
      const walk = async (d: string): Promise<void> => {
        for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
          if (e.isDirectory()) await walk(join(d, e.name));
          else n++;
        }
      };
      await walk(join(queueDir, q));
    }
    return n;
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const r = await run(postfix, ['-c', configDir, 'stop'], { timeoutMs: 15_000 }).catch(() => undefined);
    if (!r || r.code !== 0 || isAlive(masterPid)) {
      await run(postfix, ['-c', configDir, 'abort'], { timeoutMs: 5000 }).catch(() => undefined);
    }
    await sleep(50);
    try {
      process.kill(-masterPid, 'SIGKILL'); // whatever is left of the instance's process group
    } catch {
      /* gone */
    }
    forget?.();
  };
  t.teardown(stop);

  return {
    port,
    hostPort: `${LOOPBACK}:${port}`,
    dir,
    configDir,
    queueDir,
    logFile,
    masterPid: () => masterPid,
    log,
    queueSize,
    async waitForEmptyQueue(timeoutMs = 15_000) {
      await waitFor(async () => (await queueSize()) === 0, {
        timeoutMs,
        what: `empty queue of Postfix on port ${port}`,
        detail: () => `see ${logFile}`,
      });
    },
    async flush() {
      await run(postqueue, ['-c', configDir, '-f'], { timeoutMs: 10_000 });
    },
    async delivered() {
      const out: Array<{ file: string; mailbox: string; content: string }> = [];
      for (const domain of await readdir(mailDir).catch(() => [])) {
        for (const user of await readdir(join(mailDir, domain)).catch(() => [])) {
          const nd = join(mailDir, domain, user, 'new');
          for (const f of await readdir(nd).catch(() => [])) {
            out.push({ file: join(nd, f), mailbox: `${user}@${domain}`, content: await readFile(join(nd, f), 'utf8') });
          }
        }
      }
      return out;
    },
    async reconfigure(params) {
      Object.assign(main, params);
      await writeMain();
      const r = await run(postfix, ['-c', configDir, 'reload'], { timeoutMs: 15_000 });
      if (r.code !== 0) throw new Error(`postfix reload failed: ${r.stdout}${r.stderr}\n${await log()}`);
    },
    stop,
  };
}
