/*
 * rules/ — the rules engine: who / what / when → actions, as data (rule files in rules/ and
 * /etc/tuxhat/rules/). load.ts compiles the files, evaluate.ts runs them over one message,
 * transform.ts rewrites bodies (disclaimer, strip attachments), archive.ts adds archive copies.
 * docs/rules.md is the postmaster's guide.
 */
export { loadRuleSet, parseRuleFile, buildRuleSet, builtinRulesDir, ruleFilesIn, EMPTY_RULES, type RuleSet, type CompiledRule } from './load.js';
export { evaluateRules, loadRuleContent, contentNeeds, type RulesOutcome, type EvaluateContext } from './evaluate.js';
export { transformBody, isSignedOrEncrypted, type TransformResult } from './transform.js';
export { type RuleFacts } from './match.js';
export { parseContent, readAll, zipNames, type MessageContent } from './content.js';
export { archiveRecipients } from './archive.js';
