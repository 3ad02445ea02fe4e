/*
 * cli/rules-commands.ts — `tuxhat rules check | test | replay`: the postmaster's view of the
 * rules engine (docs/rules.md).
 *
 * - check: load every rule file of the config's rules.dirs (plus --rules FILE), print a summary
 *   or every problem as FILE:LINE: field: problem. Exit 1 on errors.
 * - test MESSAGE: evaluate the rules over a message file (- for stdin) with the envelope and
 *   client given by options; print the rules that match, the actions and the verdict they lead
 *   to, and the body transforms; sends and stores nothing. The content checks do not run here,
 *   so symbol, score and auth conditions see none (unless the rules file says otherwise).
 * - replay --since 7d: evaluate over the verdict records in the trace store (queue.lmdb, opened
 *   read-only: nothing is moved or written, so it is safe next to the running daemon). A record
 *   keeps the envelope, client, symbols, score and authentication results, not the headers or
 *   the body: rules needing those are counted as "could not judge", never as matches.
 * Runs in the `tuxhat` process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database } from 'lmdb';
import { newQid, type Hit, type QueueEntry } from '../core/index.js';
import { parseHeaders, headerValue } from '../content/index.js';
import type { Config } from '../config/index.js';
import { buildRuleSet, loadRuleSet, parseRuleFile, ruleFilesIn, type RuleSet } from '../rules/load.js';
import { evaluateRules, loadRuleContent } from '../rules/evaluate.js';
import { localDomainsOf } from '../rules/pipeline.js';
import { transformBody } from '../rules/transform.js';
import type { RuleFacts } from '../rules/match.js';
import type { TraceEvent } from '../state/index.js';
import type { CommandContext } from './command.js';
import { loadResolvedConfig, resolveConfigFile } from './config-file.js';
import { CliError, EXIT_OK, UsageError } from './io.js';

function configOf(ctx: CommandContext): Config {
  return loadResolvedConfig(resolveConfigFile(ctx.opts.config, ctx.io.defaultConfigFile));
}

/** The configured rule set, with --rules FILE added last (its rules replace same-named ones). */
function ruleSetOf(ctx: CommandContext, config: Config, only = false): RuleSet {
  const extra = ctx.opts.rules;
  if (!extra) return loadRuleSet(config.rules.dirs);
  const text = readText(extra);
  const mine = { file: extra, rules: parseRuleFile(text, extra) };
  if (only) return buildRuleSet([mine]);
  const base = ruleFilesIn(config.rules.dirs).map((file) => ({ file, rules: parseRuleFile(readFileSync(file, 'utf8'), file) }));
  return buildRuleSet([...base, mine]);
}

function readText(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

export async function rulesCheckCommand(ctx: CommandContext): Promise<number> {
  const config = configOf(ctx);
  const set = ruleSetOf(ctx, config);
  const files = ctx.opts.rules ? [...ruleFilesIn(config.rules.dirs), ctx.opts.rules] : ruleFilesIn(config.rules.dirs);
  ctx.io.stdout.write(`${set.rules.length} rules enabled, ${set.disabled.length} disabled, from ${files.length} files: ok\n`);
  if (ctx.opts.json) ctx.io.stdout.write(`${JSON.stringify({ files, enabled: set.rules.map((r) => ({ name: r.name, priority: r.priority, direction: r.direction, file: r.file })), disabled: set.disabled })}\n`);
  return EXIT_OK;
}

const DIRECTIONS: Record<string, 'inbound' | 'outbound'> = { in: 'inbound', inbound: 'inbound', out: 'outbound', outbound: 'outbound' };

export async function rulesTestCommand(ctx: CommandContext): Promise<number> {
  const config = configOf(ctx);
  const set = ruleSetOf(ctx, config);
  const direction = DIRECTIONS[ctx.opts.direction ?? 'in'];
  if (!direction) throw new UsageError(`--direction expects in or out, not "${ctx.opts.direction}"`);
  const at = ctx.opts.at ? new Date(ctx.opts.at) : new Date();
  if (Number.isNaN(at.getTime())) throw new UsageError(`--at expects an ISO time, e.g. 2026-11-30T10:00:00Z, not "${ctx.opts.at}"`);
  const raw = Buffer.from(readText(ctx.args[0]!), 'utf8');
  const crlf = raw.toString('latin1').replace(/\r?\n/g, '\r\n');
  const bytes = Buffer.from(crlf, 'latin1');
  const end = crlf.indexOf('\r\n\r\n');
  const headers = parseHeaders(end === -1 ? crlf : crlf.slice(0, end + 2));
  const mailFrom = ctx.opts.from ?? addressIn(headerValue(headers, 'from')) ?? '';
  const recipients = (ctx.opts.to ?? addressIn(headerValue(headers, 'to')) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const contentType = headerValue(headers, 'content-type');
  const loaded = await loadRuleContent(set, direction, contentType, () => bufferStream(bytes), config.rules.maxParseBytes);
  const facts: RuleFacts = {
    direction, listener: ctx.opts.listener ?? (direction === 'inbound' ? 'mx' : 'submission'), clientIp: ctx.opts.ip ?? '127.0.0.1',
    authUser: ctx.opts.user ?? null, mailFrom, recipients, headers, size: bytes.length, hits: [], auth: null, now: at,
    localDomains: localDomainsOf(config), content: loaded === 'too-big' ? null : loaded,
  };
  const out = evaluateRules(set, facts, { qid: 'TEST', postmaster: config.postmaster });
  const w = (s: string) => ctx.io.stdout.write(`${s}\n`);
  w(`message: ${ctx.args[0]} (${bytes.length} bytes), ${direction}, from <${mailFrom}> to ${recipients.map((r) => `<${r}>`).join(', ') || '(none)'}, client ${facts.clientIp}, at ${at.toISOString()}`);
  w(`rules: ${set.rules.length} enabled; content checks not run (symbol, score and auth conditions see none)`);
  if (out.matched.length === 0) w('no rule matches');
  for (const m of out.matched) w(`match  ${m.rule}  (${m.file})\n         → ${m.actions.join('; ')}`);
  if (out.unjudged.length > 0) w(`could not judge: ${out.unjudged.join(', ')}${loaded === 'too-big' ? ` (body over rules.maxParseBytes ${config.rules.maxParseBytes})` : ''}`);
  const final = out.final === null || out.final === 'accept' ? 'deliver' : out.final;
  w(`verdict: ${final}${out.reject ? ` (${out.reject.reply}${out.reject.text ? `: ${out.reject.text}` : ''})` : ''}${out.hits.length > 0 ? `, rule score ${out.hits.reduce((s, h) => s + h.score, 0)}` : ''}`);
  for (const e of out.headerEdits) w(`header: ${e.op} ${e.name}${e.op === 'prepend' ? `: ${e.value}` : ''}`);
  for (const b of out.bcc) w(`copy to: ${b}`);
  if (out.redirect) w(`redirect to: ${out.redirect.join(', ')}`);
  if (out.classOfService) w(`class of service: ${out.classOfService}`);
  for (const n of out.notifications) w(`notify: ${n.to}: ${n.subject}`);
  if (out.bodyTransforms.length > 0) {
    const r = await transformBody(bytes, contentType, out.bodyTransforms);
    w(`body: ${r.applied.join('; ') || r.skipped}${out.quarantineOriginal ? '; the original would be kept in quarantine' : ''}`);
  }
  w('nothing was sent');
  return EXIT_OK;
}

function addressIn(value: string | null): string | null {
  if (!value) return null;
  return [...value.matchAll(/<([^<>@\s]+@[^<>\s]+)>|([^\s<>,"]+@[^\s<>,"]+)/g)].map((m) => m[1] ?? m[2]).join(',') || null;
}

function bufferStream(b: Buffer) {
  // A one-chunk stream, like the spool's reads of small messages.
  return (async function* () { yield b; })() as unknown as import('node:stream').Readable;
}

/** 7d, 24h, 30m → milliseconds. */
export function parseSince(s: string): number {
  const m = /^(\d+)\s*([smhdw])$/.exec(s.trim());
  if (!m) throw new UsageError(`--since expects e.g. 7d, 24h or 30m, not "${s}"`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
}

/** RuleFacts from a verdict record (the trace store's `queued` event or a queued entry's receipt). */
export function factsFromRecord(r: Record<string, unknown>, config: Config): RuleFacts {
  const symbols = Array.isArray(r.symbols) ? (r.symbols as string[]) : [];
  const hits: Hit[] = symbols.map((s) => { const m = /^(.+)\((-?[\d.]+)\)$/.exec(s); return m ? { name: m[1]!, score: Number(m[2]) } : { name: s, score: 0 }; })
    .filter((h) => !h.name.startsWith('RULE_'));
  const user = typeof r.user === 'string' ? r.user : null;
  const direction = r.direction === 'outbound' || r.direction === 'inbound' ? r.direction : user ? 'outbound' : 'inbound';
  return {
    direction, listener: typeof r.listener === 'string' ? r.listener : null, clientIp: typeof r.client === 'string' ? r.client : null,
    authUser: user, mailFrom: typeof r.from === 'string' ? r.from : '', recipients: Array.isArray(r.to) ? (r.to as string[]) : [],
    headers: null, size: typeof r.size === 'number' ? r.size : 0, hits,
    auth: typeof r.spf === 'string' ? { spf: r.spf, dkim: String(r.dkim ?? 'none'), dmarc: String(r.dmarc ?? 'none'), arc: String(r.arc ?? 'none') } : null,
    now: new Date(typeof r.at === 'number' ? r.at : Date.now()), localDomains: localDomainsOf(config), content: null,
  };
}

export async function rulesReplayCommand(ctx: CommandContext): Promise<number> {
  const config = configOf(ctx);
  const set = ruleSetOf(ctx, config, true);
  const since = Date.now() - parseSince(ctx.opts.since ?? '7d');
  const path = join(config.paths.state, 'queue.lmdb');
  let env;
  try {
    env = open({ path, readOnly: true, maxDbs: 16 });
  } catch (err) {
    throw new CliError(`cannot open ${path}: ${(err as Error).message}`);
  }
  const stats = new Map(set.rules.map((r) => [r.name, { now: 0, unjudged: 0, before: 0 }]));
  let total = 0;
  try {
    const trace = env.openDB<TraceEvent, [string, number, number]>('trace', { encoding: 'msgpack', keyEncoding: 'ordered-binary' });
    const queue = env.openDB<QueueEntry, string>('queue', { encoding: 'msgpack' });
    const seen = new Set<string>();
    const judge = (qid: string, record: Record<string, unknown>) => {
      if (seen.has(qid) || typeof record.dsnFor === 'string' || typeof record.notificationFor === 'string' || typeof record.originalOf === 'string' || typeof record.releasedFrom === 'string') return;
      seen.add(qid);
      total++;
      const out = evaluateRules(set, factsFromRecord(record, config), { qid, postmaster: config.postmaster });
      for (const m of out.matched) stats.get(m.rule)!.now++;
      for (const u of out.unjudged) stats.get(u)!.unjudged++;
      const then = Array.isArray(record.rules) ? (record.rules as string[]).map((s) => s.split(':')[0]) : [];
      for (const name of then) { const s = stats.get(name!); if (s) s.before++; }
    };
    const cutoff = newQid(since).slice(0, 10);
    for (const { key, value } of trace.getRange({ start: [cutoff], end: ['\uffff'] })) {
      if (value.event === 'queued' && value.at >= since) judge(key[0], value as Record<string, unknown>);
    }
    for (const { key, value } of queue.getRange({})) {
      if (value.receivedAt >= since) judge(key, { ...value.receipt, at: value.receivedAt, direction: value.direction, listener: value.listener });
    }
    // Quarantined messages were judged too (their record is the verdict record at receipt).
    let quarantine: Database<{ direction: string; storedAt: number; verdict: Record<string, unknown> }, string> | null = null;
    try {
      quarantine = env.openDB('quarantine', { encoding: 'msgpack' });
    } catch {
      quarantine = null; // never used on this state dir (a read-only environment cannot create it)
    }
    for (const { key, value } of quarantine?.getRange({}) ?? []) {
      if (value.storedAt >= since) judge(key, { ...value.verdict, at: value.storedAt, direction: value.direction });
    }
  } finally {
    await env.close();
  }
  const rows = [...stats.entries()];
  if (ctx.opts.json) {
    ctx.io.stdout.write(`${JSON.stringify({ since, messages: total, rules: Object.fromEntries(rows) })}\n`);
    return EXIT_OK;
  }
  const w = (s: string) => ctx.io.stdout.write(`${s}\n`);
  w(`${total} messages since ${new Date(since).toISOString()} (verdict records: envelope, client, symbols, score, authentication; no headers or body)`);
  const width = Math.max(4, ...rows.map(([n]) => n.length));
  w(`${'rule'.padEnd(width)}  would match  could not judge  matched then`);
  for (const [name, s] of rows) w(`${name.padEnd(width)}  ${String(s.now).padStart(11)}  ${String(s.unjudged).padStart(15)}  ${String(s.before).padStart(12)}`);
  const blind = rows.filter(([, s]) => s.unjudged > 0).map(([n]) => n);
  if (blind.length > 0) w(`could not judge (they need headers or the body, which the records do not keep): ${blind.join(', ')}`);
  return EXIT_OK;
}
