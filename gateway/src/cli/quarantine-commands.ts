/*
 * cli/quarantine-commands.ts — `tuxhat quarantine list|show|release|delete|learn`: requests to the
 * running daemon's admin API (the daemon owns the quarantine store, as it owns the queue).
 *
 * release and delete take optional recipients after the queue id (none: every recipient still
 * held) and send who runs the command (SUDO_USER, else the login name) so the gateway records it.
 * learn trains the daemon's Bayes store with a quarantined message (spam or ham) and the record's
 * history keeps who trained what. Runs in the `tuxhat` process.
 */
import { userInfo } from 'node:os';
import type { QuarantineRecord, QuarantineSummary } from '../quarantine/index.js';
import { printJson, qidArg, withClient } from './admin-commands.js';
import type { CommandContext } from './command.js';
import { formatBytes, formatTime } from './format.js';
import { EXIT_OK, UsageError } from './io.js';

/** Who is running the command, as the gateway records it. */
export function actorName(env: NodeJS.ProcessEnv = process.env): string {
  if (env['SUDO_USER']) return env['SUDO_USER'];
  try {
    return userInfo().username;
  } catch {
    return env['USER'] ?? 'unknown';
  }
}

function recipientQuery(ctx: CommandContext): string {
  const q = new URLSearchParams();
  for (const r of ctx.args.slice(1)) q.append('to', r);
  q.set('by', actorName());
  return q.toString();
}

export function formatQuarantineList(entries: readonly QuarantineSummary[]): string {
  if (entries.length === 0) return 'Quarantine is empty.\n';
  const lines: string[] = [];
  for (const e of entries) {
    lines.push(`${e.qid}  ${e.direction.padEnd(8)} ${formatBytes(e.size).padStart(9)}  ${formatTime(e.storedAt)}  ${e.mailFrom === '' ? '<>' : e.mailFrom}`);
    lines.push(`${' '.repeat(20)}${e.reason}${e.subject ? ` — ${e.subject}` : ''}`);
    for (const r of e.held) lines.push(`${' '.repeat(20)}${r}`);
    lines.push('');
  }
  lines.push(`-- ${entries.length} message${entries.length === 1 ? '' : 's'} in quarantine`);
  return `${lines.join('\n')}\n`;
}

export function formatQuarantineRecord(r: QuarantineRecord, headers: string | null): string {
  const lines = [
    `Queue id:   ${r.qid}`,
    `Direction:  ${r.direction}`,
    `Reason:     ${r.reason}`,
    `Sender:     ${r.mailFrom === '' ? '<>' : r.mailFrom}`,
    `Subject:    ${r.subject ?? ''}`,
    `Size:       ${formatBytes(r.size)}`,
    `Stored:     ${formatTime(r.storedAt)}`,
    `Expires:    ${formatTime(r.expiresAt)}`,
    `Score:      ${String(r.verdict['score'] ?? '')}`,
    `Symbols:    ${Array.isArray(r.verdict['symbols']) ? (r.verdict['symbols'] as string[]).join(' ') : ''}`,
    'Recipients:',
    ...r.recipients.map((x) => `  ${x.address}  ${x.state}${x.by ? ` by ${x.by}` : ''}${x.at ? ` at ${formatTime(x.at)}` : ''}${x.releasedAs ? ` as ${x.releasedAs}` : ''}`),
    'History:',
    ...r.history.map((h) => `  ${formatTime(h.at)}  ${h.action} by ${h.by}: ${h.recipients.join(', ')}${h.releasedAs ? ` (queued as ${h.releasedAs})` : ''}`),
  ];
  if (headers !== null) lines.push('Headers:', ...headers.replace(/\r?\n$/, '').split(/\r?\n/).map((l) => `  ${l}`));
  else lines.push('Body: removed (no recipient is held any more)');
  return `${lines.join('\n')}\n`;
}

export async function quarantineListCommand(ctx: CommandContext): Promise<number> {
  const recipient = ctx.args[0];
  const path = recipient ? `/quarantine?recipient=${encodeURIComponent(recipient)}` : '/quarantine';
  const { entries } = await withClient(ctx, (c) => c.json<{ entries: QuarantineSummary[] }>('GET', path));
  if (ctx.opts.json) printJson(ctx, entries);
  else ctx.io.stdout.write(formatQuarantineList(entries));
  return EXIT_OK;
}

export async function quarantineShowCommand(ctx: CommandContext): Promise<number> {
  const qid = qidArg(ctx);
  const shown = await withClient(ctx, (c) => c.json<{ record: QuarantineRecord; headers: string | null }>('GET', `/quarantine/${qid}`));
  if (ctx.opts.json) printJson(ctx, shown);
  else ctx.io.stdout.write(formatQuarantineRecord(shown.record, shown.headers));
  return EXIT_OK;
}

export async function quarantineReleaseCommand(ctx: CommandContext): Promise<number> {
  const qid = qidArg(ctx);
  const r = await withClient(ctx, (c) => c.json<{ released: string[]; queuedAs: string }>('POST', `/quarantine/${qid}/release?${recipientQuery(ctx)}`));
  if (ctx.opts.json) printJson(ctx, r);
  else ctx.io.stdout.write(`${qid}: released to ${r.released.join(', ')}; queued as ${r.queuedAs}\n`);
  return EXIT_OK;
}

export async function quarantineDeleteCommand(ctx: CommandContext): Promise<number> {
  const qid = qidArg(ctx);
  const r = await withClient(ctx, (c) => c.json<{ deleted: string[] }>('DELETE', `/quarantine/${qid}?${recipientQuery(ctx)}`));
  if (ctx.opts.json) printJson(ctx, r);
  else ctx.io.stdout.write(`${qid}: deleted for ${r.deleted.join(', ')}\n`);
  return EXIT_OK;
}

/** `tuxhat quarantine learn spam|ham QID`: the daemon trains its Bayes store and records who did. */
export async function quarantineLearnCommand(ctx: CommandContext): Promise<number> {
  const cls = ctx.args[0];
  if (cls !== 'spam' && cls !== 'ham') throw new UsageError(`quarantine learn spam QID or quarantine learn ham QID, not ${cls ?? '(nothing)'}`);
  const qid = qidArg({ ...ctx, args: ctx.args.slice(1) });
  const q = new URLSearchParams({ as: cls, by: actorName() });
  const r = await withClient(ctx, (c) => c.json<{ learned: string; result: string }>('POST', `/quarantine/${qid}/learn?${q.toString()}`));
  if (ctx.opts.json) printJson(ctx, r);
  else ctx.io.stdout.write(`${qid}: ${r.result === 'unchanged' ? 'already learned' : r.result} as ${r.learned}\n`);
  return EXIT_OK;
}
