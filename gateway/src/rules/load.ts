/*
 * rules/load.ts — rule files → a compiled RuleSet.
 *
 * Reads every *.yaml under each directory of config `rules.dirs` (the shipped rules/ is
 * `builtin`, every folder of it except scores/ and spamassassin/ — symbol scores and the spam
 * check's translated SpamAssassin rules, data of other stages; /etc/tuxhat/rules by default; a missing
 * directory is simply empty), validates each file with the zod schema through config/'s YAML
 * reader (FILE:LINE: field: problem) and compiles regexes, CIDRs and list files. A rule with
 * the name of an earlier one (a later directory) replaces it: that is how a site disables or
 * changes a shipped rule. Any error refuses the whole set (the caller keeps the running one).
 * Runs in the primary (validation on start and reload), receiver workers, and the CLI.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseYamlText } from '../config/index.js';
import { compileGroup, compileWhat, compileWho, compileWhen, type Cond } from './match.js';
import { ruleFileSchema, type RuleAction, type RuleDef } from './schema.js';

export interface CompiledRule {
  readonly name: string;
  readonly file: string;
  readonly priority: number;
  readonly direction: 'in' | 'out' | 'both';
  readonly def: RuleDef;
  readonly who: Cond | null;
  readonly what: Cond | null;
  readonly when: Cond | null;
  readonly actions: readonly RuleAction[];
  /** The rule looks at the body text / at attachments (content must be loaded for it). */
  readonly needsText: boolean;
  readonly needsAttachments: boolean;
}

export interface RuleSet {
  /** Enabled rules, highest priority first. */
  readonly rules: readonly CompiledRule[];
  readonly files: readonly string[];
  /** Disabled rules, by name (for `rules check`). */
  readonly disabled: readonly string[];
}

export const EMPTY_RULES: RuleSet = { rules: [], files: [], disabled: [] };

/** The repository's rules/ directory (shipped defaults), found from this file. */
export function builtinRulesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'rules'))) return join(dir, 'rules');
    dir = dirname(dir);
  }
  throw new Error('rules/ not found above gateway/src/rules');
}

/** Folders of the shipped rules/ that hold other stages' data, not rule files. */
const NOT_RULES = new Set(['scores', 'spamassassin']);

function yamlFiles(dir: string, skipScores: boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (skipScores && NOT_RULES.has(name)) continue;
      out.push(...yamlFiles(p, false));
    } else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

export function ruleFilesIn(dirs: readonly string[]): string[] {
  return dirs.flatMap((d) => (d === 'builtin' ? yamlFiles(builtinRulesDir(), true) : yamlFiles(d, false)));
}

/** Parse and compile one file's text (tests and `rules test --rules` feed text directly). */
export function parseRuleFile(text: string, file: string): CompiledRule[] {
  const parsed = parseYamlText(text, file, ruleFileSchema);
  return parsed.rules.map((def) => compileRule(def, file));
}

function compileRule(def: RuleDef, file: string): CompiledRule {
  const whatConds = def.what?.conditions ?? [];
  const needsText = whatConds.some((c) => 'body' in c);
  const needsAttachments = whatConds.some((c) => 'attachment' in c) || def.actions.some((a) => typeof a === 'object' && 'stripAttachments' in a);
  return {
    name: def.name, file, priority: def.priority, direction: def.direction, def, actions: def.actions,
    who: def.who ? compileGroup(def.who, (c) => compileWho(c, file)) : null,
    what: def.what ? compileGroup(def.what, compileWhat) : null,
    when: def.when ? compileGroup(def.when, compileWhen) : null,
    needsText, needsAttachments,
  };
}

export function buildRuleSet(perFile: ReadonlyArray<{ file: string; rules: CompiledRule[] }>): RuleSet {
  const byName = new Map<string, { rule: CompiledRule; order: number }>();
  let order = 0;
  for (const { rules } of perFile) for (const r of rules) byName.set(r.name, { rule: r, order: order++ });
  const all = [...byName.values()].sort((a, b) => b.rule.priority - a.rule.priority || a.order - b.order);
  return {
    rules: all.filter((x) => x.rule.def.enabled).map((x) => x.rule),
    disabled: all.filter((x) => !x.rule.def.enabled).map((x) => x.rule.name),
    files: perFile.map((p) => p.file),
  };
}

/** Load every rule file of `dirs`; all problems of all files in one ConfigError. */
export function loadRuleSet(dirs: readonly string[]): RuleSet {
  const perFile: { file: string; rules: CompiledRule[] }[] = [];
  const problems: string[] = [];
  for (const file of ruleFilesIn(dirs)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
      perFile.push({ file, rules: parseRuleFile(text, file) });
    } catch (err) {
      if (err instanceof ConfigError || (err as Error).name === 'ConfigError') problems.push(...(err as ConfigError).problems);
      else problems.push(`${file}: cannot read: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(dirs.join(', '), problems);
  return buildRuleSet(perFile);
}

/** A file name for messages: relative to the working directory when shorter. */
export function shortName(file: string): string {
  const r = relative(process.cwd(), file);
  return r.length < file.length && !r.startsWith('..') ? r : file;
}
