/*
 * test/e2e/harness/util.ts — small shared pieces of the e2e harness: the teardown contract, temp
 * directories, finding Debian's tools, bounded waits and process clean-up.
 *
 * Every helper takes a `Cleanup` (a tap `Test` satisfies it structurally; bench/ passes its own
 * `Scope`) and registers its own clean-up there, so a test never has to remember to stop anything.
 * As a last resort every process the harness spawned is SIGKILLed (by process group) when the test
 * process exits, even if a teardown never ran.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, readFileSync, createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** What every harness helper needs from its caller: a place to register clean-up. tap's `t` fits. */
export interface Cleanup {
  teardown(fn: () => unknown): void;
}

/** A stand-alone `Cleanup` for scripts (bench/): call `close()` at the end, in reverse order. */
export class Scope implements Cleanup {
  readonly #fns: Array<() => unknown> = [];
  teardown(fn: () => unknown): void {
    this.#fns.push(fn);
  }
  async close(): Promise<void> {
    while (this.#fns.length > 0) {
      const fn = this.#fns.pop()!;
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`teardown failed: ${String(err)}\n`);
      }
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A timer for Promise.race deadlines that does not keep the process alive: a pending 15 s
 * deadline must not hold a finished test file open for 15 s.
 */
export const deadline = (ms: number): Promise<'timeout'> =>
  new Promise((r) => {
    setTimeout(() => r('timeout'), ms).unref();
  });

/** Keep temp dirs after the run (for debugging) when TUXHAT_KEEP_TMP=1. */
export const keepTmp = (): boolean => process.env['TUXHAT_KEEP_TMP'] === '1';

/**
 * A fresh directory under the system temp dir, removed in teardown. Mode 0755 because Postfix
 * daemons (user postfix), smtp-sink (-u nobody) and dnsmasq (nobody) must be able to traverse it.
 */
export async function tempDir(t: Cleanup, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `tuxhat-e2e-${prefix}-`));
  await chmod(dir, 0o755);
  t.teardown(async () => {
    if (keepTmp()) process.stderr.write(`# kept ${dir}\n`);
    else await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  });
  return dir;
}

/**
 * Absolute path of a command, searching PATH and then the sbin directories (Postfix's and
 * dnsmasq's tools live in /usr/sbin, which is not on a normal user's PATH). Throws a message
 * naming the Debian package to install.
 */
export function which(cmd: string, debPackage?: string): string {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  const pkg = debPackage ? ` (Debian package ${debPackage}; test/run.sh installs it)` : '';
  throw new Error(`required command not found: ${cmd}${pkg}`);
}

export const isRoot = (): boolean => typeof process.geteuid === 'function' && process.geteuid() === 0;

/**
 * Whether a pid is a running process. A zombie counts as dead: in some sandboxes pid 1 does not
 * reap orphans, so `kill(pid, 0)` would say "alive" forever.
 */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Named in the timeout error. */
  what?: string;
  /** Extra text for the timeout error (e.g. collected logs), computed only on failure. */
  detail?: () => string;
}

/** Thrown from a `waitFor` callback to give up at once (e.g. the process being waited for died). */
export class StopWaiting extends Error {}

/**
 * Polls `fn` until it returns a truthy value (which is returned) or the deadline passes. Errors
 * thrown by `fn` count as "not yet", except StopWaiting, which ends the wait with that error.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = opts;
  const until = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastErr = err;
    }
    if (Date.now() >= until) {
      const why = lastErr ? ` (last error: ${String(lastErr)})` : '';
      const extra = opts.detail ? `\n${opts.detail()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}${extra}`);
    }
    await sleep(intervalMs);
  }
}

// ---- spawned processes ----------------------------------------------------------------------

/** Process groups (negative pids) to SIGKILL if the test process exits without tearing down. */
const groups = new Set<number>();
let exitHookInstalled = false;

/** Remember a process group leader to kill on exit; returns a function that forgets it. */
export function trackGroup(pid: number): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const g of groups) {
        try {
          process.kill(-g, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
  }
  groups.add(pid);
  return () => groups.delete(pid);
}

export interface Spawned {
  child: ChildProcess;
  pid: number;
  /** stdout+stderr so far (also written to `logFile` when given). */
  output(): string;
  /** Resolves with the exit code (or signal name) when the process has exited. */
  exited: Promise<number | string>;
  hasExited(): boolean;
  /** SIGTERM the process group, wait up to `graceMs`, then SIGKILL it. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns a long-running helper in its own process group (so stopping it also stops anything it
 * forked), collects its output, and registers its stop in teardown.
 */
export function spawnService(
  t: Cleanup,
  cmd: string,
  args: string[],
  opts: SpawnOptions & { logFile?: string; onLine?: (line: string) => void } = {},
): Spawned {
  const { logFile, onLine, ...spawnOpts } = opts;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...spawnOpts });
  if (child.pid === undefined) throw new Error(`failed to spawn ${cmd}`);
  const pid = child.pid;
  const forget = trackGroup(pid);
  let out = '';
  let partial = '';
  const file: WriteStream | undefined = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  const onData = (buf: Buffer): void => {
    const s = buf.toString('utf8');
    if (out.length < 4_000_000) out += s;
    file?.write(buf);
    if (onLine) {
      partial += s;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (err) => {
      out += `\n[spawn error: ${err.message}]`;
    });
    child.once('close', (code, signal) => {
      done = true;
      forget();
      if (onLine && partial) onLine(partial);
      file?.end();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const stop = async (graceMs = 5000): Promise<void> => {
    if (done) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    if ((await Promise.race([exited, deadline(graceMs)])) === 'timeout') {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await Promise.race([exited, deadline(2000)]);
    }
    // Anything left in the group (a grandchild that ignored SIGTERM) goes too.
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  t.teardown(() => stop());
  return { child, pid, output: () => out, exited, hasExited: () => done, stop };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion with a deadline (SIGKILL on timeout). Never rejects on exit code. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs ?? 30_000} ms]`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {
      /* the command may exit without reading its input */
    });
    child.stdin.end(opts.input ?? '');
  });
}
