/*
 * content/spam/engine.ts — score one message for spam: parse once, tokenize, Bayes, heuristics,
 * spamscanner features. Shared by the content check (daemon), `tuxhat scan`, `tuxhat learn` and
 * the quality benchmark, so all of them judge a message the same way.
 *
 * Bayes: the scope is the first recipient domain with its own training (both classes ≥
 * minLearned), else global; below minLearned in the chosen scope the classifier abstains
 * (BAYES_UNTRAINED, score 0) rather than guess from a handful of messages. Its probability maps
 * to one graded symbol (BAYES_SPAM_99 … BAYES_HAM_05), scored in rules/scores/spam.yaml.
 */
import type { Config } from '../../config/index.js';
import { inNetworks, networkList, type Hit } from '../../core/index.js';
import type { BayesStore, SpamClass, LearnItem } from '../../state/bayes-store.js';
import type { ScoreTable } from '../scores.js';
import { classify, DEFAULT_PARAMS, type ClassifierParams } from './classifier.js';
import type { FeaturePool } from './features.js';
import { heuristics } from './heuristics.js';
import { learnKey, parseMessage, type ParsedMessage } from './parse.js';
import { BAYES_BANDS, FEATURE_SYMBOL } from './symbols.js';
import type { RelayTrust } from './sa-relays.js';
import { saHits, type SaRuleSet } from './sa-rules.js';
import { tokenize } from './tokenizer.js';

export { BAYES_BANDS, SPAM_SYMBOLS } from './symbols.js';

export type SpamConfig = Config['spam'];

/** The relay trust path of spam.trustedNetworks: its networks (and loopback), or null (inferred). */
export function relayTrustOf(cfg: Pick<SpamConfig, 'trustedNetworks'>): RelayTrust {
  const nets = cfg.trustedNetworks;
  if (nets === undefined) return null;
  const list = networkList(nets);
  return (ip) => inNetworks(list, ip);
}

export interface SpamRuntime {
  readonly config: SpamConfig;
  readonly store: BayesStore | null;
  readonly features: FeaturePool | null;
  readonly scores: ScoreTable;
  readonly params?: ClassifierParams;
  /** SpamAssassin's rules as data (spam.spamassassinRules), compiled once per process. */
  readonly saRules?: SaRuleSet | null;
  /** relayTrustOf(config), built once. */
  readonly relayTrust?: RelayTrust;
}

export interface SpamScore {
  readonly hits: Hit[];
  /** Bayes probability, or null when the classifier abstained. */
  readonly probability: number | null;
  readonly parsed: ParsedMessage;
  readonly tokens: string[];
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

export function bayesScope(store: BayesStore, domains: readonly string[], cfg: SpamConfig): string {
  if (cfg.bayes.perDomain) {
    for (const d of domains) {
      const t = store.totals(d);
      if (d !== '' && t.nspam >= cfg.bayes.minLearned && t.nham >= cfg.bayes.minLearned) return d;
    }
  }
  return '';
}

export async function scoreMessage(rt: SpamRuntime, raw: Buffer, size: number, domains: readonly string[]): Promise<SpamScore> {
  const parsed = await parseMessage(raw, size, rt.config.maxBytes, rt.relayTrust ?? null);
  const tokens = tokenize(parsed);
  const hits: Hit[] = [];
  const featureJob = rt.features && rt.config.features.enabled
    ? rt.features.extract(parsed, rt.config.features.timeoutMs).then(
      (findings) => {
        const byKind = new Map<string, string[]>();
        for (const f of findings) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f.detail]);
        return [...byKind].filter(([k]) => FEATURE_SYMBOL[k]).map(([k, d]) => rt.scores.hit(FEATURE_SYMBOL[k]!, [...new Set(d)].slice(0, 3).join('; ').slice(0, 200)));
      },
      (err: Error) => [rt.scores.hit('SPAMSCANNER_UNAVAILABLE', err.message)],
    )
    : null;

  for (const h of heuristics(parsed)) hits.push(rt.scores.hit(h.name, h.detail));
  // SA_* symbols carry their score from rules/spamassassin/rules.yaml (not rules/scores).
  if (rt.saRules && rt.config.spamassassinRules) hits.push(...saHits(rt.saRules, parsed));
  if (parsed.truncated) hits.push(rt.scores.hit('SPAM_TRUNCATED', `scored the first ${rt.config.maxBytes} of ${parsed.size} bytes`));

  let probability: number | null = null;
  if (rt.store) {
    const scope = bayesScope(rt.store, domains, rt.config);
    const { nspam, nham } = rt.store.totals(scope);
    if (nspam < rt.config.bayes.minLearned || nham < rt.config.bayes.minLearned) {
      hits.push(rt.scores.hit('BAYES_UNTRAINED', `${scope || 'global'}: ${nspam} spam, ${nham} ham learned`));
    } else {
      const c = classify(tokens, (t) => rt.store!.counts(scope, t), nspam, nham, rt.params ?? DEFAULT_PARAMS);
      probability = c.probability;
      const band = BAYES_BANDS.find(([, floor]) => c.probability >= floor)![0];
      hits.push(rt.scores.hit(band, `p=${c.probability.toFixed(4)} ${scope || 'global'}`));
    }
  }
  if (featureJob) hits.push(...await featureJob);
  return { hits, probability, parsed, tokens };
}

/** A learning record for a message already parsed and tokenized. */
export function learnItem(s: Pick<SpamScore, 'parsed' | 'tokens'>, cls: SpamClass, domains: readonly string[], by: string): LearnItem {
  return { key: learnKey(s.parsed), cls, tokens: s.tokens, scopes: ['', ...new Set(domains.filter((d) => d !== ''))], by };
}

/** Parse and tokenize only (learning needs no scoring), with the trust path scoring uses (relayTrustOf). */
export async function tokensOf(raw: Buffer, maxBytes: number, relayTrust: RelayTrust = null): Promise<Pick<SpamScore, 'parsed' | 'tokens'>> {
  const parsed = await parseMessage(raw, raw.length, maxBytes, relayTrust);
  return { parsed, tokens: tokenize(parsed) };
}
