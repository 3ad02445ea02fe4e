/*
 * content/spam/ — spam scoring: tokenizer, our own Bayes classifier (counts in the durable LMDB
 * environment, state/bayes-store.ts), GTUBE and header/MIME/URL/attachment heuristics, and
 * spamscanner contained in worker threads as a feature extractor. The check is `spam`
 * (check.ts); thresholds and actions are the verdict's (verdict/class-of-service.ts).
 */
import type { RootDatabase } from 'lmdb';
import type { Config } from '../../config/index.js';
import { BayesStore } from '../../state/bayes-store.js';
import type { ScoreTable } from '../scores.js';
import { FeaturePool } from './features.js';
import { relayTrustOf, type SpamRuntime } from './engine.js';
import { loadSaRules } from './sa-rules.js';

export { spam } from './check.js';
export { SPAM_SYMBOLS, scoreMessage, learnItem, tokensOf, domainOf, relayTrustOf, type SpamRuntime, type SpamScore } from './engine.js';
export { FeaturePool } from './features.js';
export { loadSaRules, saHits, compileSaRules, type SaRuleSet } from './sa-rules.js';

/** One per process: the Bayes store on the durable environment and (when enabled) the feature threads. */
export function createSpamRuntime(config: Config, durable: RootDatabase | null, scores: ScoreTable): SpamRuntime {
  return {
    config: config.spam,
    store: durable ? new BayesStore(durable) : null,
    features: config.spam.enabled && config.spam.features.enabled ? new FeaturePool(config.spam.features.threads) : null,
    scores,
    saRules: config.spam.enabled && config.spam.spamassassinRules ? loadSaRules() : null,
    relayTrust: relayTrustOf(config.spam),
  };
}
