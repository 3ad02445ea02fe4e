/*
 * content/scores.ts — symbol scores as data: rules/scores/<group>.yaml → ScoreTable.
 *
 * Loaded once at start-up by each receiver worker (process/worker.ts), validated with zod
 * through config/'s YAML reader, so an error names FILE:LINE like a config error does. A group
 * is checked against the symbols its check declares: a declared symbol without a score, or a
 * score for a symbol no code emits, refuses to start (house style §7). Does not: add scores up
 * or choose actions (verdict/ does), or reload on SIGHUP (a restart of the workers does).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError, parseYamlText } from '../config/index.js';
import type { Hit } from '../core/index.js';

const scoreFileSchema = z.object({
  /** What the group is about, for people reading the file. */
  description: z.string().optional(),
  symbols: z.record(
    z.string().regex(/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/, 'symbol names are UPPER_SNAKE, check first, outcome last'),
    z.object({ score: z.number().finite(), description: z.string().min(1) }).strict(),
  ),
}).strict();

export type ScoreFile = z.output<typeof scoreFileSchema>;

/** The scores of one group; `hit()` refuses a symbol the file does not know. */
export class ScoreTable {
  readonly #symbols: ReadonlyMap<string, { score: number; description: string }>;
  readonly group: string;

  constructor(group: string, file: ScoreFile) {
    this.group = group;
    this.#symbols = new Map(Object.entries(file.symbols));
  }

  names(): string[] {
    return [...this.#symbols.keys()];
  }

  score(name: string): number {
    const s = this.#symbols.get(name);
    // Cannot happen after loadScores' declared-symbol check; a bug if it does.
    if (!s) throw new Error(`symbol ${name} has no score in rules/scores/${this.group}.yaml`);
    return s.score;
  }

  hit(name: string, detail?: string): Hit {
    return detail === undefined ? { name, score: this.score(name) } : { name, score: this.score(name), detail };
  }
}

/** The repository's rules/scores directory, found from this file (src/ and dist/ sit at different depths). */
export function defaultScoresDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'rules', 'scores');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('rules/scores not found above gateway/src/content');
}

/** Parse one group's YAML text (tests feed text directly). */
export function parseScores(group: string, text: string, file: string, declared: readonly string[]): ScoreTable {
  const table = new ScoreTable(group, parseYamlText(text, file, scoreFileSchema));
  const known = new Set(table.names());
  const declaredSet = new Set(declared);
  const problems = [
    ...declared.filter((n) => !known.has(n)).map((n) => `${file}: symbols.${n}: emitted by the ${group} check but has no score`),
    ...table.names().filter((n) => !declaredSet.has(n)).map((n) => `${file}: symbols.${n}: no check emits this symbol`),
  ];
  if (problems.length > 0) throw new ConfigError(file, problems);
  return table;
}

export function loadScores(group: string, declared: readonly string[], dir = defaultScoresDir()): ScoreTable {
  const file = join(dir, `${group}.yaml`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`${file}: cannot read: ${(err as Error).message}`]);
  }
  return parseScores(group, text, file, declared);
}
