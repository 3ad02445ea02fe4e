/*
 * cli/policy-state-commands.ts — `tuxhat reputation show|reset SUBJECT` and
 * `tuxhat greylist list|release MATCH`: requests to the running daemon's admin API.
 *
 * Why the admin API and not the state directory: the daemon owns cache.lmdb (its environment
 * flags, its owner and mode); a root CLI opening it directly could create root-owned files the
 * daemon then cannot open after a rebuild, and it would need to know the state directory of the
 * config the daemon actually runs with. Through the socket the CLI works exactly like
 * `tuxhat queue`, and the daemon answers with the configuration it uses (prefixes, half-life).
 * Runs in the `tuxhat` process.
 */
import type { GreylistView, ReputationView } from '../state/index.js';
import { AdminClient, DEFAULT_TIMEOUT_MS } from './admin-client.js';
import type { CommandContext } from './command.js';
import { loadResolvedConfig, resolveConfigFile } from './config-file.js';
import { EXIT_OK, UsageError } from './io.js';

async function withClient<T>(ctx: CommandContext, fn: (client: AdminClient) => Promise<T>): Promise<T> {
  let timeout = DEFAULT_TIMEOUT_MS;
  if (ctx.opts.timeout !== undefined) {
    const seconds = Number(ctx.opts.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new UsageError(`--timeout expects seconds between 0 and 3600, not "${ctx.opts.timeout}"`);
    timeout = Math.round(seconds * 1000);
  }
  const socket = ctx.opts.socket ?? loadResolvedConfig(resolveConfigFile(ctx.opts.config, ctx.io.defaultConfigFile)).admin.socket;
  const client = new AdminClient(socket, timeout);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

export function formatReputation(entries: readonly ReputationView[]): string {
  const lines = entries.map((e) => {
    const c = e.counts;
    return `${e.scope.padEnd(5)} ${e.subject.padEnd(28)} ${e.cls.padEnd(8)} bad ${(e.badShare * 100).toFixed(0).padStart(3)}%  ham ${c.ham.toFixed(1)} spam ${c.spam.toFixed(1)} virus ${c.virus.toFixed(1)} reject ${c.reject.toFixed(1)} authfail ${c.authfail.toFixed(1)}  since ${iso(e.since)}`;
  });
  return `${['scope subject                      class    share  decayed counts', ...lines].join('\n')}\n`;
}

export function formatGreylist(entries: readonly GreylistView[], now = Date.now()): string {
  if (entries.length === 0) return 'greylist is empty\n';
  const lines = entries.map((e) => {
    const state = e.passed ? 'passed' : now < e.passAfter ? `wait ${Math.ceil((e.passAfter - now) / 1000)}s` : 'retry ok';
    return `${e.network.padEnd(20)} ${e.sender.padEnd(30)} ${e.recipient.padEnd(30)} ${state.padEnd(10)} tries ${e.attempts}  first ${iso(e.first)}  expires ${iso(e.expires)}`;
  });
  return `${lines.join('\n')}\n`;
}

function print(ctx: CommandContext, json: unknown, text: string): void {
  ctx.io.stdout.write(ctx.opts.json ? `${JSON.stringify(json, null, 2)}\n` : text);
}

export async function reputationShowCommand(ctx: CommandContext): Promise<number> {
  const subject = ctx.args[0]!;
  const { entries } = await withClient(ctx, (c) => c.json<{ entries: ReputationView[] }>('GET', `/reputation/${encodeURIComponent(subject)}`));
  print(ctx, entries, formatReputation(entries));
  return EXIT_OK;
}

export async function reputationResetCommand(ctx: CommandContext): Promise<number> {
  const subject = ctx.args[0]!;
  const { removed } = await withClient(ctx, (c) => c.json<{ removed: number }>('DELETE', `/reputation/${encodeURIComponent(subject)}`));
  ctx.io.stdout.write(`${subject}: ${removed > 0 ? `reputation reset (${removed} record${removed === 1 ? '' : 's'})` : 'nothing was known'}\n`);
  return EXIT_OK;
}

export async function greylistListCommand(ctx: CommandContext): Promise<number> {
  const { entries } = await withClient(ctx, (c) => c.json<{ entries: GreylistView[] }>('GET', '/greylist'));
  print(ctx, entries, formatGreylist(entries));
  return EXIT_OK;
}

export async function greylistReleaseCommand(ctx: CommandContext): Promise<number> {
  const match = ctx.args[0]!;
  const { released } = await withClient(ctx, (c) => c.json<{ released: number }>('POST', `/greylist/release/${encodeURIComponent(match)}`));
  ctx.io.stdout.write(`${match}: ${released} triplet${released === 1 ? '' : 's'} released\n`);
  return EXIT_OK;
}
