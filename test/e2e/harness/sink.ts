/*
 * test/e2e/harness/sink.ts — Postfix's smtp-sink(1) as the internal mail server / next hop.
 *
 * smtp-sink is a fast, dumb SMTP server. Here it runs on 127.0.0.1:PORT with `-c` (running
 * counters on stdout: `sess=N quit=N mesg=N`, which is how we know a message is complete) and,
 * unless `dump: false`, `-d DIR/msg.` (one file per mail transaction, named msg.<random hex>).
 *
 * What smtp-sink can do (see `man smtp-sink`), mapped to options:
 *   rejectSoft ['RCPT']   -r  answer 4xx ("450 4.3.0 Error: command failed", or `softReply`)
 *   rejectHard ['DATA']   -f  answer 5xx ("500 5.3.0 Error: command failed", or `hardReply`)
 *   reply421 ['MAIL']     -Q  answer 421 and disconnect
 *   drop ['.']            -q  disconnect without a reply
 *   abortData  (seconds)  -A  550 and stop reading after DATA
 *   dataDelaySec          -w  wait before answering DATA;  commandDelay 'RCPT:5'  -W
 *   maxConnections        -m  (excess connections stay queued in the kernel, not refused)
 * Command names: CONNECT, HELO, EHLO, MAIL, RCPT, DATA, '.', RSET, NOOP, QUIT.
 * -r/-f imply -p (PIPELINING is not announced).
 *
 * What it cannot do, and how the harness copes:
 *   - Reject only some recipients or change behaviour while running: stop and `restart()` it
 *     with other options; it binds the same port again at once (it sets SO_REUSEADDR).
 *   - Report completion of a dump file: messages() only returns files whose transaction the
 *     counter has seen end, and that end in the blank line smtp-sink appends.
 *   - As root it must drop privileges (`-u nobody`), so the dump directory is mode 0777 and the
 *     files belong to nobody.
 *   - The dump files hold the message as received, after smtp-sink's own X-Client-Addr /
 *     X-Helo-Args / X-Mail-Args / X-Rcpt-Args / 3-line Received: headers, which are parsed off.
 *   - Mail is not stored per recipient: one file per transaction, recipients in `rcptTo`.
 */
import { chmod, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, LOOPBACK, waitForPort } from './ports.js';
import { isRoot, spawnService, tempDir, waitFor, which, type Cleanup, type Spawned } from './util.js';

export type SinkCommand = 'CONNECT' | 'HELO' | 'EHLO' | 'MAIL' | 'RCPT' | 'DATA' | '.' | 'RSET' | 'NOOP' | 'QUIT' | 'VRFY';

export interface SinkOptions {
  /** Default: a free port. */
  port?: number;
  /** Write each message to a file (default true). Off for benchmarks: disk writes dominate. */
  dump?: boolean;
  rejectSoft?: SinkCommand[];
  rejectHard?: SinkCommand[];
  softReply?: string;
  hardReply?: string;
  reply421?: SinkCommand[];
  drop?: SinkCommand[];
  abortDataSec?: number;
  dataDelaySec?: number;
  /** `-W command:delay[:odds]`, e.g. 'RCPT:2'. */
  commandDelay?: string[];
  /** Greeting / EHLO name (default 'smtp-sink'). */
  hostname?: string;
  /** Simultaneous connections handled (default 256 here, as smtp-sink's own default). */
  maxConnections?: number;
  /** listen(2) backlog (default 1024). */
  backlog?: number;
  /** Anything else, passed before the address. */
  extraArgs?: string[];
}

export interface SinkMessage {
  file: string;
  clientAddr: string;
  helo: string;
  /** The MAIL FROM address without <> and parameters. */
  mailFrom: string;
  /** The RCPT TO addresses without <> and parameters, in order. */
  rcptTo: string[];
  /** Message-ID header value including <>, if any. */
  messageId: string | undefined;
  /** The message as received: header block. */
  header: string;
  /** The message as received: body (after the blank line). */
  body: string;
  /** The message as received, header + blank line + body. */
  message: string;
  /** First value of a header (case-insensitive, unfolded), or undefined. */
  get(name: string): string | undefined;
  /** All values of a header (case-insensitive, unfolded). */
  getAll(name: string): string[];
}

export interface Sink {
  port: number;
  /** '127.0.0.1:PORT', the form config `hosts:` and Postfix's relayhost (as [127.0.0.1]:PORT) use. */
  hostPort: string;
  /** Where the dump files are written. */
  dir: string;
  /** Messages completed according to smtp-sink's counter (also counts when dump is off). */
  count(): number;
  /** SMTP sessions ended according to smtp-sink's counter. */
  sessions(): number;
  /** The complete messages dumped so far, oldest first. */
  messages(): Promise<SinkMessage[]>;
  /** Waits until at least `n` messages are complete (and, with dump on, readable); returns them. */
  waitForMessages(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  /** Removes the dump files and resets the counter base. */
  clear(): Promise<void>;
  /** Stops smtp-sink (the port is then closed: a "next hop down" scenario). */
  stop(): Promise<void>;
  /** Starts it again on the same port, optionally with different options. Messages are kept. */
  restart(opts?: SinkOptions): Promise<void>;
  /** smtp-sink's stdout/stderr (counter lines included). */
  output(): string;
  running(): boolean;
}

function buildArgs(opts: SinkOptions, dir: string, port: number): string[] {
  const a: string[] = ['-c'];
  if (isRoot()) a.push('-u', 'nobody');
  if (opts.dump !== false) a.push('-d', join(dir, 'msg.'));
  const list = (flag: string, v?: string[]): void => {
    if (v && v.length > 0) a.push(flag, v.join(','));
  };
  list('-r', opts.rejectSoft);
  list('-f', opts.rejectHard);
  list('-Q', opts.reply421);
  list('-q', opts.drop);
  if (opts.softReply) a.push('-b', opts.softReply);
  if (opts.hardReply) a.push('-B', opts.hardReply);
  if (opts.abortDataSec !== undefined) a.push('-A', String(opts.abortDataSec));
  if (opts.dataDelaySec !== undefined) a.push('-w', String(opts.dataDelaySec));
  for (const w of opts.commandDelay ?? []) a.push('-W', w);
  if (opts.hostname) a.push('-h', opts.hostname);
  a.push('-m', String(opts.maxConnections ?? 256));
  a.push(...(opts.extraArgs ?? []));
  a.push(`${LOOPBACK}:${port}`, String(opts.backlog ?? 1024));
  return a;
}

/** Parses one smtp-sink dump file. Exported for tests of the parser itself. */
export function parseSinkDump(file: string, text: string): SinkMessage {
  const lines = text.split('\n');
  let i = 0;
  let clientAddr = '';
  let helo = '';
  let mailFrom = '';
  const rcptTo: string[] = [];
  const addr = (args: string): string => {
    const m = /^\s*<([^>]*)>/.exec(args);
    return m ? m[1]! : (args.trim().split(/\s+/)[0] ?? '');
  };
  for (; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.startsWith('X-Client-Addr: ')) clientAddr = l.slice(15);
    else if (l.startsWith('X-Helo-Args: ')) helo = l.slice(13);
    else if (l.startsWith('X-Mail-Args: ')) mailFrom = addr(l.slice(13));
    else if (l.startsWith('X-Rcpt-Args: ')) rcptTo.push(addr(l.slice(13)));
    else if (l.startsWith('X-Client-Proto: ')) continue;
    else if (l.startsWith('Received: ') && lines[i + 1]?.includes('(smtp-sink)')) {
      i += 3; // the 3-line Received: header ends smtp-sink's own part
      break;
    }
  }
  // smtp-sink appends one empty line after the message.
  const rest = lines.slice(i);
  if (rest.length >= 2 && rest[rest.length - 1] === '' && rest[rest.length - 2] === '') rest.splice(-2, 2, '');
  const message = rest.map((l) => l.replace(/\r$/, '')).join('\n');
  const split = message.indexOf('\n\n');
  const header = split >= 0 ? message.slice(0, split) : message;
  const body = split >= 0 ? message.slice(split + 2) : '';
  const fields: Array<[string, string]> = [];
  for (const l of header.split('\n')) {
    if (/^[ \t]/.test(l) && fields.length > 0) fields[fields.length - 1]![1] += ` ${l.trim()}`;
    else {
      const c = l.indexOf(':');
      if (c > 0) fields.push([l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()]);
    }
  }
  const getAll = (name: string): string[] => fields.filter(([k]) => k === name.toLowerCase()).map(([, v]) => v);
  return {
    file,
    clientAddr,
    helo,
    mailFrom,
    rcptTo,
    messageId: getAll('message-id')[0],
    header,
    body,
    message,
    get: (name) => getAll(name)[0],
    getAll,
  };
}

/** Starts smtp-sink on a free (or the given) loopback port; stopped in teardown. */
export async function startSink(t: Cleanup, opts: SinkOptions = {}): Promise<Sink> {
  const bin = which('smtp-sink', 'postfix');
  const base = await tempDir(t, 'sink');
  const dir = join(base, 'mail');
  await mkdir(dir);
  await chmod(dir, 0o777); // smtp-sink writes as nobody when started as root
  const port = opts.port ?? (await freePort());
  let current = opts;
  let proc: Spawned | undefined;
  // Counter lines look like "sess=3 quit=3 mesg=2", separated by \r.
  let mesg = 0;
  let sess = 0;
  let mesgBase = 0;
  let carried = 0;
  let carriedSess = 0;
  const counterRe = /sess=(\d+) quit=\d+ mesg=(\d+)/g;

  const start = async (): Promise<void> => {
    mesg = 0;
    sess = 0;
    let acc = '';
    const p = spawnService(t, bin, buildArgs(current, dir, port), {});
    p.child.stdout?.on('data', (b: Buffer) => {
      acc = (acc + b.toString()).slice(-200);
      for (const m of acc.matchAll(counterRe)) {
        sess = Number(m[1]);
        mesg = Number(m[2]);
      }
    });
    proc = p;
    try {
      await Promise.race([
        waitForPort(port, { timeoutMs: 5000 }),
        p.exited.then((code) => {
          throw new Error(`smtp-sink exited (${code}) on start`);
        }),
      ]);
    } catch (err) {
      throw new Error(`smtp-sink did not start on ${LOOPBACK}:${port}: ${String(err)}\n${p.output()}`);
    }
  };

  const count = (): number => carried + mesg - mesgBase;

  const messages = async (): Promise<SinkMessage[]> => {
    const names = (await readdir(dir)).filter((n) => n.startsWith('msg.'));
    const out: Array<{ m: SinkMessage; mtime: number }> = [];
    for (const n of names) {
      const file = join(dir, n);
      const [text, st] = await Promise.all([readFile(file, 'latin1').catch(() => ''), stat(file).catch(() => undefined)]);
      if (!st || !text.endsWith('\n\n')) continue; // gone, or still being written
      out.push({ m: parseSinkDump(file, text), mtime: st.mtimeMs });
    }
    // Arrival order as far as file times tell (names are random); tests should not rely on it.
    out.sort((a, b) => a.mtime - b.mtime || a.m.file.localeCompare(b.m.file));
    return out.map((o) => o.m);
  };

  const sink: Sink = {
    port,
    hostPort: `${LOOPBACK}:${port}`,
    dir,
    count,
    sessions: () => carriedSess + sess,
    messages,
    async waitForMessages(n, timeoutMs = 15_000) {
      let last: SinkMessage[] = [];
      await waitFor(
        async () => {
          if (count() < n) return false;
          if (current.dump === false) return true;
          last = await messages();
          return last.length >= n;
        },
        {
          timeoutMs,
          what: `${n} message(s) at smtp-sink ${LOOPBACK}:${port}`,
          detail: () => `counter says ${count()} complete, ${last.length} dump file(s) readable`,
        },
      );
      return current.dump === false ? [] : last;
    },
    async clear() {
      for (const n of await readdir(dir)) await rm(join(dir, n), { force: true });
      carried = 0;
      mesgBase = mesg;
    },
    async stop() {
      if (proc && !proc.hasExited()) {
        const before = mesg - mesgBase;
        const beforeSess = sess;
        await proc.stop(3000);
        carried += before;
        carriedSess += beforeSess;
        mesgBase = 0;
        mesg = 0;
        sess = 0;
      }
    },
    async restart(newOpts) {
      await sink.stop();
      if (newOpts) current = { ...newOpts, port };
      await start();
    },
    output: () => proc?.output() ?? '',
    running: () => proc !== undefined && !proc.hasExited(),
  };
  await start();
  return sink;
}
