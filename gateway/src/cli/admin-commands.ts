/*
 * cli/admin-commands.ts — status, queue, trace and reload: requests to the running daemon.
 *
 * Input: parsed arguments. Output: a table (or --json) on stdout and the exit status. The socket
 * is --socket PATH, else the config's admin.socket (config resolved as in config-file.ts).
 * Does not: touch the queue or state files directly — the daemon owns them; a CLI that opened
 * LMDB itself could race the queue manager's moves.
 * Runs in the `tuxhat` process.
 */
import { QID_PATTERN, QUEUE_STATES, type QueueEntry } from '../core/index.js';
import type { QueueSummary, ReloadResult, StatusInfo } from '../admin/index.js';
import type { TraceEvent } from '../state/index.js';
import { AdminClient, AdminHttpError, DEFAULT_TIMEOUT_MS } from './admin-client.js';
import type { CommandContext } from './command.js';
import { loadResolvedConfig, resolveConfigFile } from './config-file.js';
import { formatQueueEntry, formatQueueList, formatStatus, formatTrace } from './format.js';
import { CliError, EXIT_OK, UsageError } from './io.js';

function timeoutMs(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_TIMEOUT_MS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new UsageError(`--timeout expects seconds between 0 and 3600, not "${raw}"`);
  return Math.round(seconds * 1000);
}

function socketPath(ctx: CommandContext): string {
  if (ctx.opts.socket !== undefined) return ctx.opts.socket;
  return loadResolvedConfig(resolveConfigFile(ctx.opts.config, ctx.io.defaultConfigFile)).admin.socket;
}

export async function withClient<T>(ctx: CommandContext, fn: (client: AdminClient) => Promise<T>): Promise<T> {
  const timeout = timeoutMs(ctx.opts.timeout);
  const client = new AdminClient(socketPath(ctx), timeout);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Queue ids are Crockford base32; accept them in any case, as people copy them from logs. */
export function qidArg(ctx: CommandContext): string {
  const raw = ctx.args[0] ?? '';
  const qid = raw.toUpperCase();
  if (!QID_PATTERN.test(qid)) throw new UsageError(`not a queue id: ${raw}`);
  return qid;
}

export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export async function statusCommand(ctx: CommandContext): Promise<number> {
  const status = await withClient(ctx, (c) => c.json<StatusInfo>('GET', '/status'));
  if (ctx.opts.json) printJson(ctx, status);
  else ctx.io.stdout.write(formatStatus(status));
  return EXIT_OK;
}

export async function queueListCommand(ctx: CommandContext): Promise<number> {
  const state = ctx.opts.state;
  if (state !== undefined && !(QUEUE_STATES as readonly string[]).includes(state)) {
    throw new UsageError(`--state expects one of ${QUEUE_STATES.join(', ')}, not "${state}"`);
  }
  const path = state === undefined ? '/queue' : `/queue?state=${encodeURIComponent(state)}`;
  const { entries } = await withClient(ctx, (c) => c.json<{ entries: QueueSummary[] }>('GET', path));
  if (ctx.opts.json) printJson(ctx, entries);
  else ctx.io.stdout.write(formatQueueList(entries));
  return EXIT_OK;
}

export async function queueShowCommand(ctx: CommandContext): Promise<number> {
  const qid = qidArg(ctx);
  const entry = await withClient(ctx, (c) => c.json<QueueEntry>('GET', `/queue/${qid}`));
  if (ctx.opts.json) printJson(ctx, entry);
  else ctx.io.stdout.write(formatQueueEntry(entry));
  return EXIT_OK;
}

export async function queueFlushCommand(ctx: CommandContext): Promise<number> {
  const qid = ctx.args.length > 0 ? qidArg(ctx) : null;
  const { flushed } = await withClient(ctx, (c) => c.json<{ flushed: number }>('POST', qid ? `/queue/${qid}/flush` : '/queue/flush'));
  ctx.io.stdout.write(qid
    ? `${qid}: ${flushed > 0 ? 'scheduled for delivery now' : 'nothing to flush (is it on hold?)'}\n`
    : `${flushed} message${flushed === 1 ? '' : 's'} scheduled for delivery now\n`);
  return EXIT_OK;
}

function moveCommand(action: 'hold' | 'release' | 'delete', done: string) {
  return async (ctx: CommandContext): Promise<number> => {
    const qid = qidArg(ctx);
    const [method, path] = action === 'delete' ? ['DELETE' as const, `/queue/${qid}`] : ['POST' as const, `/queue/${qid}/${action}`];
    await withClient(ctx, (c) => c.json<unknown>(method, path));
    ctx.io.stdout.write(`${qid}: ${done}\n`);
    return EXIT_OK;
  };
}

export const queueHoldCommand = moveCommand('hold', 'on hold');
export const queueReleaseCommand = moveCommand('release', 'released');
export const queueDeleteCommand = moveCommand('delete', 'deleted');

export async function traceCommand(ctx: CommandContext): Promise<number> {
  const qid = qidArg(ctx);
  const { events } = await withClient(ctx, (c) => c.json<{ qid: string; events: TraceEvent[] }>('GET', `/trace/${qid}`));
  if (ctx.opts.json) printJson(ctx, events);
  else ctx.io.stdout.write(formatTrace(qid, events));
  return EXIT_OK;
}

export async function reloadCommand(ctx: CommandContext): Promise<number> {
  try {
    await withClient(ctx, (c) => c.json<ReloadResult>('POST', '/reload'));
  } catch (err) {
    if (err instanceof AdminHttpError && err.status === 422) {
      throw new CliError(`reload refused, the running configuration is unchanged: ${err.message}`);
    }
    throw err;
  }
  ctx.io.stdout.write('reload: ok\n');
  return EXIT_OK;
}
