/*
 * cli/spam-commands.ts — `tuxhat scan [--state DIR] [--json] FILE|DIR...` and
 * `tuxhat learn spam|ham [--state DIR] [--domain D] PATH...`.
 *
 * Both work on the state directory directly (the Bayes counts in its durable LMDB environment,
 * shared safely with a running daemon), without the daemon, in one process for any number of
 * files (content/spam/mailbox.ts: message files, mbox, maildir, directories).
 * scan runs the daemon's content pipeline (content/scanContent with the registered checks, minus
 * sender authentication, which needs the SMTP session) and the verdict (decide with the default
 * class of service, inbound) on each message and prints one line per message; --json prints one
 * JSON object per line: file, score, action, isSpam (tag, quarantine or reject at the default
 * thresholds), symbols [{name, score, detail}], bayes. learn parses and tokenizes like the check
 * and writes in batches (one LMDB transaction each); a message already learned as the same class
 * is not counted again (Message-ID, else a hash of the bytes).
 * Runs in the `tuxhat` process.
 */
import type { Config } from '../config/index.js';
import { CONTENT_CHECKS, loadContentScores, scanContent, headerValue, parseHeaders, type ContentScores } from '../content/index.js';
import { createSpamRuntime, tokensOf, learnItem, relayTrustOf, type SpamRuntime } from '../content/spam/index.js';
import type { RelayTrust } from '../content/spam/sa-relays.js';
import { readMailbox } from '../content/spam/mailbox.js';
import type { Session } from '../core/index.js';
import type { ResolveFn } from '../dns/index.js';
import { openState, type StateEnvs } from '../state/index.js';
import { BayesStore, type LearnItem } from '../state/bayes-store.js';
import { decide, selectClass } from '../verdict/index.js';
import { Readable } from 'node:stream';
import type { CommandContext } from './command.js';
import { loadResolvedConfig, resolveConfigFile } from './config-file.js';
import { CliError, EXIT_OK, UsageError } from './io.js';

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function open(ctx: CommandContext): { config: Config; state: StateEnvs } {
  const config = loadResolvedConfig(resolveConfigFile(ctx.opts.config, ctx.io.defaultConfigFile));
  try {
    return { config, state: openState(ctx.opts.state ?? config.paths.state) };
  } catch (err) {
    throw new CliError(`cannot open the state directory ${ctx.opts.state ?? config.paths.state}: ${(err as Error).message}`);
  }
}

/** scan makes no DNS lookups: the checks it runs need none, and a file has no SMTP client to check. */
const noDns: ResolveFn = (async (name: string) => {
  throw Object.assign(new Error(`no DNS in tuxhat scan (${name})`), { code: 'ENOTFOUND' });
}) as ResolveFn;

export interface ScanLine {
  readonly file: string;
  readonly score: number;
  readonly action: string;
  readonly isSpam: boolean;
  readonly symbols: ReadonlyArray<{ name: string; score: number; detail?: string }>;
  readonly bayes: number | null;
}

/** Scan one message through the content pipeline and the verdict (exported for bench/quality). */
export async function scanOne(config: Config, scores: ContentScores, spam: SpamRuntime, file: string, raw: Buffer, recipients: readonly string[] = []): Promise<ScanLine> {
  const headers = parseHeaders(raw.subarray(0, 256 * 1024).toString('utf8'));
  const rcpts = recipients.length > 0 ? [...recipients] : [];
  const session: Session = {
    id: 'scan', listener: 'scan', kind: 'mx', direction: 'inbound', clientIp: '127.0.0.1', clientPort: 0,
    ptr: null, helo: 'localhost', tls: null, authUser: null, trustedBy: null,
  };
  const message = { qid: 'scan', size: raw.length, headers, messageId: headerValue(headers, 'message-id'), addedHeaders: [], openBody: () => Readable.from([raw]) };
  const checks = CONTENT_CHECKS.filter((c) => c.name !== 'authentication');
  const content = await scanContent({ config, session, envelope: { mailFrom: '', recipients: rcpts, size: raw.length, bodyType: '8bitmime', smtpUtf8: false }, message, resolve: noDns, scores, spam }, checks);
  const cos = selectClass(config.classes, 'inbound', { recipients: rcpts, sender: '' });
  const verdict = decide({ direction: 'inbound', hits: content.hits, tempfail: content.tempfail, tempfailReply: content.tempfailReply, headerEdits: content.headerEdits, spam: { classOfService: cos, subject: headerValue(headers, 'subject') } });
  const bayesHit = content.hits.find((h) => h.name.startsWith('BAYES_') && h.detail?.startsWith('p='));
  return {
    file, score: verdict.score, action: verdict.action,
    isSpam: verdict.action === 'tag' || verdict.action === 'quarantine' || (verdict.action === 'reject' && verdict.reply === 'SPAM_REJECT'),
    symbols: content.hits.map((h) => (h.detail === undefined ? { name: h.name, score: h.score } : { name: h.name, score: h.score, detail: h.detail })),
    bayes: bayesHit ? Number(/^p=([0-9.]+)/.exec(bayesHit.detail!)![1]) : null,
  };
}

export async function scanCommand(ctx: CommandContext): Promise<number> {
  const { config, state } = open(ctx);
  const scores = loadContentScores();
  const spam = createSpamRuntime(config, state.durable, scores.spam);
  try {
    await spam.features?.warm().catch(() => {});
    for (const path of ctx.args) {
      for (const m of readMailbox(path)) {
        const line = await scanOne(config, scores, spam, m.file, m.raw);
        if (ctx.opts.json) ctx.io.stdout.write(`${JSON.stringify(line)}\n`);
        else ctx.io.stdout.write(`${line.file}: ${line.action} score=${line.score} ${line.symbols.filter((s) => s.score !== 0).map((s) => `${s.name}(${s.score})`).join(' ')}\n`);
      }
    }
  } finally {
    await spam.features?.close();
    await state.close();
  }
  return EXIT_OK;
}

/** Learn messages into a store in batches; the summary counts (exported for bench/quality). */
export async function learnPaths(store: BayesStore, cls: 'spam' | 'ham', paths: readonly string[], opts: { domains: readonly string[]; by: string; maxBytes: number; relayTrust?: RelayTrust }): Promise<{ learned: number; relearned: number; unchanged: number }> {
  const total = { learned: 0, relearned: 0, unchanged: 0 };
  let batch: LearnItem[] = [];
  const flush = async () => {
    const r = await store.learn(batch);
    total.learned += r.learned;
    total.relearned += r.relearned;
    total.unchanged += r.unchanged;
    batch = [];
  };
  for (const path of paths) {
    for (const m of readMailbox(path)) {
      batch.push(learnItem(await tokensOf(m.raw, opts.maxBytes, opts.relayTrust ?? null), cls, opts.domains, opts.by));
      if (batch.length >= 500) await flush();
    }
  }
  if (batch.length > 0) await flush();
  return total;
}

export async function learnCommand(ctx: CommandContext): Promise<number> {
  const cls = ctx.args[0];
  if (cls !== 'spam' && cls !== 'ham') throw new UsageError(`learn spam or learn ham, not ${cls ?? '(nothing)'}`);
  const domain = ctx.opts.domain?.toLowerCase();
  if (domain !== undefined && !DOMAIN.test(domain)) throw new UsageError(`not a domain name: ${ctx.opts.domain}`);
  const { config, state } = open(ctx);
  try {
    const store = new BayesStore(state.durable);
    const by = `cli:${process.env.SUDO_USER ?? process.env.USER ?? 'unknown'}`;
    const r = await learnPaths(store, cls, ctx.args.slice(1), { domains: domain ? [domain] : [], by, maxBytes: config.spam.maxBytes, relayTrust: relayTrustOf(config.spam) });
    const t = store.totals(domain ?? '');
    ctx.io.stdout.write(`learned ${r.learned} as ${cls}, moved ${r.relearned} from the other class, ${r.unchanged} already known; ${domain ?? 'global'} now holds ${t.nspam} spam and ${t.nham} ham\n`);
  } finally {
    await state.close();
  }
  return EXIT_OK;
}
