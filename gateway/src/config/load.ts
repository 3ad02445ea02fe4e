/*
 * config/load.ts — read a YAML config file, validate it, and explain errors by field and line.
 *
 * Input: a path (or no path: the embedded defaults). Output: a frozen Config or a ConfigError
 * whose message lists every problem as "FILE:LINE: field.path: what is wrong". Relative paths in
 * the config stay relative to the daemon's working directory (documented), not to the file.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Node } from 'yaml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super(`invalid configuration in ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/** Validate an already-parsed object (used for embedded defaults and by tests). */
export function parseConfig(input: unknown, file = '<embedded>'): Config {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ConfigError(file, result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`));
  }
  return deepFreeze(result.data);
}

export function loadConfigText(text: string, file: string): Config {
  return parseYamlText(text, file, configSchema);
}

/**
 * Parse YAML text and validate it with any zod schema, with the same FILE:LINE error messages
 * as the config (used for rules/ data files too). The result is deep-frozen.
 */
export function parseYamlText<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return `${file}:${pos.line}: YAML syntax: ${e.message.split('\n')[0]}`;
    }));
  }
  const input: unknown = doc.toJS() ?? {};
  const result = schema.safeParse(input);
  if (result.success) return deepFreeze(result.data);
  throw new ConfigError(file, result.error.issues.map((issue) => {
    const line = lineOf(doc, lineCounter, issue);
    return `${file}:${line}: ${formatPath(issue.path)}: ${issue.message}`;
  }));
}

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`${file}: cannot read: ${(err as Error).message}`]);
  }
  return loadConfigText(text, file);
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** The line of the deepest node that exists on the issue's path (an unknown key: the key itself). */
function lineOf(doc: ReturnType<typeof parseDocument>, lc: LineCounter, issue: z.core.$ZodIssue): number {
  const path = [...issue.path] as (string | number)[];
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) {
    const parent = doc.getIn(path, true);
    const pairNode = parent && isNode(parent) && 'items' in parent
      ? (parent.items as Array<{ key: Node | null }>).find((p) => p.key && isNode(p.key) && String((p.key as unknown as { value: unknown }).value) === issue.keys[0])
      : undefined;
    if (pairNode?.key?.range) return lc.linePos(pairNode.key.range[0]).line;
  }
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node && isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return 1;
}
