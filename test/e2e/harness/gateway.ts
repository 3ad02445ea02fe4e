/*
 * test/e2e/harness/gateway.ts — the real daemon, started as a user would start it.
 *
 * Contract with the daemon (ARCHITECTURE "Tests", "Embedded defaults"):
 *   `node dist/gateway/src/cli/main.js run --config FILE`, cwd = the repository root; YAML config
 *   (gateway/src/config/schema.ts); pino JSON lines on stdout; ready when the `mx` listener (or
 *   the one named by `readyListener`) answers a 220 greeting; SIGTERM = graceful stop;
 *   SIGHUP = reload config.
 *
 * What the harness fills into the config, so that tests are isolated and need say only what they
 * are about (anything the test gives explicitly wins):
 *   - listeners: default `{ mx: { kind: mx, tls: none } }`; every listener without a port (or with
 *     port 0) gets a free loopback port; address defaults to 127.0.0.1.
 *   - paths.state / paths.spool / paths.run and admin.socket under the gateway's temp dir.
 *   - domains: default `example.test` delivered to a maildir under the temp dir (the built-in
 *     default would write to ./var/mail in the repository).
 *   - workers: default 1 (the machine has 2 cores, and the tests run one file at a time).
 *   - greylisting: off unless the test gives a `greylisting` section. Every test client is
 *     127.0.0.1, so a test that sends refused or doubtful mail would otherwise earn that network
 *     a bad reputation and have its later mail greylisted (451) — right, but not what it tests.
 * The effective config is in `gw.config` and at `gw.configFile`.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { freePort, LOOPBACK } from './ports.js';
import { SmtpClient } from './smtp.js';
import { deadline, isAlive, spawnService, StopWaiting, tempDir, waitFor, type Cleanup, type Spawned } from './util.js';

/** One pino log line (or `{ msg, raw: true }` for a line that was not JSON). */
export type LogLine = Record<string, unknown> & { msg?: string; event?: string; qid?: string | null; level?: number | string };

export interface GatewayOptions {
  /** The config as an object or YAML text; see the module comment for what is filled in. */
  config?: Record<string, unknown> | string;
  /** Extra environment (merged over process.env). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the 220 greeting (default 20 s). */
  readyTimeoutMs?: number;
  /** Listener whose 220 means "ready" (default 'mx', else the first listener). */
  readyListener?: string;
  /** The script to run instead of dist/gateway/src/cli/main.js (tests of the harness itself). */
  entry?: string;
  /** Extra arguments after `run --config FILE`. */
  args?: string[];
  /** Node.js options before the script (e.g. `--cpu-prof`; cluster workers inherit them). */
  nodeArgs?: string[];
}

export interface Gateway {
  /** Listener name → port on 127.0.0.1. */
  ports: Record<string, number>;
  /** The gateway's temp dir (config, state, spool, run, mail, gateway.log). */
  dir: string;
  configFile: string;
  /** stdout + stderr of every run, appended. */
  logFile: string;
  adminSocket: string;
  /** The effective config as written. */
  config: Record<string, unknown>;
  pid(): number;
  /** Parsed log lines of all runs so far (a restart appends). */
  logs(): LogLine[];
  /** Raw stdout + stderr of the current run. */
  output(): string;
  /** Waits for a log line matching `pred` (looking at lines already logged too). */
  waitForLog(pred: (l: LogLine) => boolean, opts?: { timeoutMs?: number; what?: string }): Promise<LogLine>;
  /** Sends a signal to the daemon (its primary process; with group: true to every process of it). */
  kill(signal?: NodeJS.Signals, opts?: { group?: boolean }): void;
  /** Whether the daemon has exited (and with what). */
  exitStatus(): number | string | undefined;
  /** SIGTERM and wait for exit (SIGKILL to the whole group after `timeoutMs`, default 15 s). */
  stop(timeoutMs?: number): Promise<number | string>;
  /** stop() then start again, same ports and dirs; optionally with a new config (ports kept). */
  restart(config?: Record<string, unknown> | string): Promise<void>;
  /** Rewrites the config file (ports and paths kept) and sends SIGHUP. */
  reload(config: Record<string, unknown> | string): Promise<void>;
}

/** The repository root: the nearest ancestor of this file with package.json and gateway/. */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'gateway'))) return d;
    const up = dirname(d);
    if (up === d) throw new Error('repository root not found above test/e2e/harness');
    d = up;
  }
}

export const GATEWAY_ENTRY = 'dist/gateway/src/cli/main.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function toObject(config: Obj | string | undefined): Obj {
  if (config === undefined) return {};
  if (typeof config === 'string') {
    const v: unknown = parseYaml(config);
    if (v === null || v === undefined) return {};
    if (!isObj(v)) throw new Error('gateway config YAML must be a mapping');
    return v;
  }
  return structuredClone(config);
}

/** Fills in ports and paths (see the module comment). Exported for the harness' own tests. */
export async function completeConfig(input: Obj, dir: string, keepPorts: Record<string, number> = {}): Promise<{ config: Obj; ports: Record<string, number> }> {
  const config = { ...input };
  const listeners: Obj = isObj(config['listeners']) ? { ...config['listeners'] } : { mx: { kind: 'mx', tls: 'none' } };
  const ports: Record<string, number> = {};
  for (const [name, l] of Object.entries(listeners)) {
    const lst: Obj = isObj(l) ? { ...l } : {};
    if (typeof lst['port'] !== 'number' || lst['port'] === 0) lst['port'] = keepPorts[name] ?? (await freePort());
    lst['address'] ??= LOOPBACK;
    ports[name] = lst['port'] as number;
    listeners[name] = lst;
  }
  config['listeners'] = listeners;
  config['paths'] = { state: join(dir, 'state'), spool: join(dir, 'spool'), run: join(dir, 'run'), ...(isObj(config['paths']) ? config['paths'] : {}) };
  config['admin'] = { socket: join(dir, 'run', 'tuxhat.sock'), ...(isObj(config['admin']) ? config['admin'] : {}) };
  config['domains'] ??= { 'example.test': { route: { transport: 'maildir', path: join(dir, 'mail') } } };
  config['workers'] ??= 1;
  config['greylisting'] ??= { enabled: false };
  // spamscanner's feature threads cost ~180 MB and seconds of CPU per receiver: off unless a test
  // turns them on (test/e2e/spam-scoring.test.ts does).
  if (!isObj(config['spam'])) config['spam'] = { features: { enabled: false } };
  return { config, ports };
}

/** Starts the gateway and waits until it greets; stopped (and its processes killed) in teardown. */
export async function startGateway(t: Cleanup, opts: GatewayOptions = {}): Promise<Gateway> {
  const root = repoRoot();
  const entry = resolve(root, opts.entry ?? GATEWAY_ENTRY);
  if (!existsSync(entry)) {
    throw new Error(`gateway entry point ${entry} does not exist: run \`npm run build\` first (test/run.sh does)`);
  }
  const dir = await tempDir(t, 'gateway');
  const configFile = join(dir, 'gateway.yaml');
  const logFile = join(dir, 'gateway.log');
  let { config, ports } = await completeConfig(toObject(opts.config), dir);
  const paths = config['paths'] as Record<string, string>;
  for (const p of [paths['state'], paths['spool'], paths['run']]) if (p) await mkdir(p, { recursive: true });
  const readyName = opts.readyListener ?? ('mx' in ports ? 'mx' : Object.keys(ports)[0]);
  if (readyName === undefined || ports[readyName] === undefined) throw new Error(`no listener '${opts.readyListener ?? 'mx'}' in the config to wait for`);
  const readyPort = ports[readyName]!;

  const writeConfig = async (): Promise<void> => {
    await writeFile(configFile, toYaml(config), 'utf8');
  };
  await writeConfig();

  const lines: LogLine[] = [];
  let proc: Spawned | undefined;
  let status: number | string | undefined;

  const collect = (stream: NodeJS.ReadableStream | null, isErr: boolean): void => {
    let partial = '';
    stream?.on('data', (b: Buffer) => {
      partial += b.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) {
        if (!l.trim()) continue;
        try {
          const v: unknown = JSON.parse(l);
          lines.push(isObj(v) ? (v as LogLine) : { msg: l, raw: true });
        } catch {
          lines.push({ msg: l, raw: true, stderr: isErr });
        }
      }
    });
  };

  const launch = async (): Promise<void> => {
    status = undefined;
    const p = spawnService(t, process.execPath, [...(opts.nodeArgs ?? []), entry, 'run', '--config', configFile, ...(opts.args ?? [])], {
      cwd: root,
      env: { ...process.env, ...opts.env },
      logFile,
    });
    proc = p;
    collect(p.child.stdout, false);
    collect(p.child.stderr, true);
    void p.exited.then((s) => (status = s));
    const timeoutMs = opts.readyTimeoutMs ?? 20_000;
    const showLog = (): string => `--- gateway output (${logFile}) ---\n${p.output().slice(-20_000)}`;
    try {
      await waitFor(
        async () => {
          if (p.hasExited()) throw new StopWaiting(`gateway exited (${String(await p.exited)}) before it was ready`);
          let c: SmtpClient | undefined;
          try {
            c = await SmtpClient.connect(readyPort, { timeoutMs: 2000 });
            return c.greeting.code === 220;
          } catch {
            return false;
          } finally {
            c?.close();
          }
        },
        { timeoutMs, intervalMs: 100, what: `a 220 greeting on ${readyName} (${LOOPBACK}:${readyPort})` },
      );
    } catch (err) {
      await p.stop(2000);
      throw new Error(`${(err as Error).message}\n${showLog()}`);
    }
  };

  const stop = async (timeoutMs = 15_000): Promise<number | string> => {
    const p = proc;
    if (!p) return 'not started';
    if (!p.hasExited()) {
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      if ((await Promise.race([p.exited, deadline(timeoutMs)])) === 'timeout') await p.stop(1000); // SIGTERM/SIGKILL to the whole group
    }
    await p.stop(1000); // no-op if gone; otherwise clears leftovers (workers) in the group
    return p.exited;
  };

  const gw: Gateway = {
    ports,
    dir,
    configFile,
    logFile,
    adminSocket: (config['admin'] as Obj)['socket'] as string,
    get config() {
      return config;
    },
    pid: () => proc?.pid ?? 0,
    logs: () => lines,
    output: () => proc?.output() ?? '',
    async waitForLog(pred, o = {}) {
      return waitFor(() => lines.find(pred), {
        timeoutMs: o.timeoutMs ?? 10_000,
        what: o.what ?? 'a matching gateway log line',
        detail: () => `--- last log lines ---\n${lines.slice(-30).map((l) => JSON.stringify(l)).join('\n')}`,
      });
    },
    kill(signal = 'SIGTERM', o = {}) {
      if (!proc || proc.hasExited()) return;
      try {
        process.kill(o.group ? -proc.pid : proc.pid, signal);
      } catch {
        /* gone */
      }
    },
    exitStatus: () => status,
    stop,
    async restart(newConfig) {
      await stop();
      if (newConfig !== undefined) {
        ({ config, ports: gw.ports } = await completeConfig(toObject(newConfig), dir, ports));
        ports = gw.ports;
        await writeConfig();
      }
      await launch();
    },
    async reload(newConfig) {
      ({ config } = await completeConfig(toObject(newConfig), dir, ports));
      await writeConfig();
      if (proc && isAlive(proc.pid)) process.kill(proc.pid, 'SIGHUP');
    },
  };
  await launch();
  return gw;
}
