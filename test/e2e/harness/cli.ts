/*
 * test/e2e/harness/cli.ts — the `tuxhat` command, run as a postmaster runs it:
 * `node dist/gateway/src/cli/main.js ARGS...` (cwd = the repository root unless given), with a
 * deadline. For admin commands pass the gateway's socket: `tuxhat(['queue', 'list', '--socket', gw.adminSocket])`,
 * or use `admin(gw, [...])`, which adds it. `tuxhatJson` adds --json and parses stdout.
 */
import { resolve } from 'node:path';
import { GATEWAY_ENTRY, repoRoot, type Gateway } from './gateway.js';
import { run, type RunResult } from './util.js';

export interface TuxhatOptions {
  /** Text for stdin (e.g. the password for `user add`). */
  input?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Default 30 s. */
  timeoutMs?: number;
}

/** Runs `tuxhat ARGS` to completion; never rejects on a non-zero exit (check `code`). */
export function tuxhat(args: string[], opts: TuxhatOptions = {}): Promise<RunResult> {
  const root = repoRoot();
  return run(process.execPath, [resolve(root, GATEWAY_ENTRY), ...args], {
    cwd: opts.cwd ?? root,
    env: { ...process.env, ...opts.env },
    timeoutMs: opts.timeoutMs ?? 30_000,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
}

/** An admin command against a running gateway (its admin socket is added). */
export function admin(gw: Pick<Gateway, 'adminSocket'>, args: string[], opts: TuxhatOptions = {}): Promise<RunResult> {
  return tuxhat([...args, '--socket', gw.adminSocket], opts);
}

/** An admin command with --json; throws (with the output) unless it exits 0 with JSON. */
export async function adminJson<T = unknown>(gw: Pick<Gateway, 'adminSocket'>, args: string[], opts: TuxhatOptions = {}): Promise<T> {
  const r = await admin(gw, [...args, '--json'], opts);
  if (r.code !== 0) throw new Error(`tuxhat ${args.join(' ')} exited ${r.code}\n${r.stdout}${r.stderr}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`tuxhat ${args.join(' ')} --json printed no JSON:\n${r.stdout}${r.stderr}`);
  }
}
