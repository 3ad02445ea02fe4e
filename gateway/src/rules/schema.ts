/*
 * rules/schema.ts — the rule file format as one strict zod schema (docs/rules.md explains it).
 *
 * A rule file holds `rules:`, each rule with name, priority, direction, enabled, and three
 * condition groups — who, what, when — plus actions in order. A group is a list of conditions
 * (any must match), or `{ any | all: [...], invert }` (PMG's object groups with "and" and
 * "invert"). Every condition may carry `not: true`. All groups present must match (and).
 * Regular expressions are compiled here, at load, so a bad one names its file and line.
 * Does not: read files (load.ts) or evaluate (match.ts).
 */
import { z } from 'zod';
import { cidr } from '../config/schema.js';
import { isKnownTimeZone } from './time-zone.js';

/** A regular expression source, checked to compile; matched without case. */
const regex = z.string().min(1).superRefine((s, ctx) => {
  try {
    new RegExp(s, 'iu');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(err as Error).message}` });
  }
});

const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

/** Address matching: any of the given kinds matches. */
const addressMatcher = z.object({
  /** Whole addresses, compared without case. */
  address: oneOrMany(z.string().min(1)).optional(),
  /** Domains; also matches their subdomains. */
  domain: oneOrMany(z.string().min(1)).optional(),
  regex: regex.optional(),
  /** A file with one address or @domain per line (# comments); relative to the rule file. */
  list: z.string().min(1).optional(),
  /** Only for sender: the empty envelope sender <> (bounces). */
  empty: z.boolean().optional(),
}).strict().refine((m) => m.address || m.domain || m.regex || m.list || m.empty !== undefined, 'give address, domain, regex, list or empty');

const range = z.object({ min: z.number().optional(), max: z.number().optional() }).strict()
  .refine((r) => r.min !== undefined || r.max !== undefined, 'give min, max or both');

const AUTH_WORDS = z.enum(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy']);

/**
 * A condition is an object with exactly one known key (plus `not`). zod's union would answer
 * "Invalid input" for any mistake; this names the key and the field that is wrong.
 */
type Keyed<M extends Record<string, z.ZodType>> = { [K in keyof M]: { [P in K]: z.output<M[K]> } & { not?: boolean } }[keyof M];

function keyed<M extends Record<string, z.ZodType>>(map: M, noun = 'condition'): z.ZodType<Keyed<M>> {
  const keys = Object.keys(map);
  return z.record(z.string(), z.unknown()).transform((v, ctx) => {
    const present = Object.keys(v).filter((k) => k !== 'not');
    const known = present.filter((k) => keys.includes(k));
    for (const k of present.filter((k) => !keys.includes(k))) ctx.addIssue({ code: 'custom', path: [k], message: `unknown ${noun} ${k}; expected one of: ${keys.join(', ')}` });
    if (present.length === 0) ctx.addIssue({ code: 'custom', message: `expected one of: ${keys.join(', ')}` });
    if (known.length > 1) ctx.addIssue({ code: 'custom', message: `one ${noun} per list item (found ${known.join(', ')}); use all: [...] to combine` });
    if ('not' in v && typeof v.not !== 'boolean') ctx.addIssue({ code: 'custom', path: ['not'], message: 'expected true or false' });
    if (known.length !== 1 || present.length !== 1) return z.NEVER;
    const k = known[0]!;
    const r = map[k]!.safeParse(v[k]);
    if (!r.success) {
      for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: [k, ...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
      return z.NEVER;
    }
    return { [k]: r.data, ...(v.not === true ? { not: true } : {}) } as Keyed<M>;
  }) as unknown as z.ZodType<Keyed<M>>;
}

/** who: the parties of the SMTP transaction. */
const whoCondition = keyed({
  sender: addressMatcher,
  recipient: addressMatcher,
  /** The From: header address (what the user sees). */
  from: addressMatcher,
  clientIp: oneOrMany(cidr),
  /** true: any authenticated client; false: none; a string or list: those users; { regex }. */
  authenticated: z.union([z.boolean(), oneOrMany(z.string().min(1)), z.object({ regex }).strict()]),
  listener: oneOrMany(z.string().min(1)),
});

const attachmentMatcher = z.object({
  /** File name regex. */
  name: regex.optional(),
  /** Content type regex, e.g. ^application/x-msdownload$. */
  type: regex.optional(),
  /** Also look at the names inside zip archives (default true). */
  inZip: z.boolean().default(true),
  /** Only names found inside zip archives. */
  onlyInZip: z.boolean().default(false),
}).strict().refine((a) => a.name || a.type, 'give name, type or both');

/** what: the message. */
const whatCondition = keyed({
  header: z.object({ name: z.string().regex(/^[!-9;-~]+$/, 'expected a header name'), regex: regex.optional(), present: z.boolean().optional() }).strict(),
  subject: regex,
  /** Text of the message body (text parts, HTML with tags removed). */
  body: regex,
  attachment: attachmentMatcher,
  /** Size in bytes. */
  size: range,
  /** The score so far (content checks plus earlier rules). */
  score: range,
  /** true: an AV_VIRUS hit (the antivirus check found something). */
  virus: z.boolean(),
  /** Any of these symbols was hit. */
  symbol: oneOrMany(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'symbols are UPPER_SNAKE')),
  /** Sender authentication results (any listed word matches; all listed methods must). */
  auth: z.object({
    spf: oneOrMany(AUTH_WORDS).optional(), dkim: oneOrMany(AUTH_WORDS).optional(),
    dmarc: oneOrMany(AUTH_WORDS).optional(), arc: oneOrMany(AUTH_WORDS).optional(),
  }).strict(),
});

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'expected HH:MM');
const DAY = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

/** when: a time frame. `from` > `to` wraps past midnight. */
const whenCondition = z.object({
  days: z.array(DAY).min(1).optional(),
  from: HHMM.default('00:00'),
  to: HHMM.default('24:00'),
  /** IANA zone, e.g. Europe/Berlin (default UTC). */
  zone: z.string().default('UTC').superRefine((zone, ctx) => {
    if (!isKnownTimeZone(zone)) ctx.addIssue({ code: 'custom', message: `unknown time zone ${zone}` });
  }),
  not: z.boolean().optional(),
}).strict();

/** A list (any must match), or { any: [...] } / { all: [...] } with optional invert. */
function group<C extends z.ZodType>(cond: C) {
  const list = z.array(cond).min(1);
  const obj = z.object({ any: list.optional(), all: list.optional(), invert: z.boolean().default(false) }).strict()
    .refine((g) => (g.any === undefined) !== (g.all === undefined), 'give either any: [...] or all: [...]');
  return z.unknown().transform((v, ctx): Group<z.output<C>> => {
    const r = Array.isArray(v) ? list.safeParse(v) : obj.safeParse(v);
    if (!r.success) {
      for (const issue of r.error.issues) ctx.addIssue({ ...issue } as Parameters<typeof ctx.addIssue>[0]);
      return z.NEVER;
    }
    if (Array.isArray(r.data)) return { mode: 'any', invert: false, conditions: r.data };
    const g = r.data as { any?: z.output<C>[]; all?: z.output<C>[]; invert: boolean };
    return g.any ? { mode: 'any', invert: g.invert, conditions: g.any } : { mode: 'all', invert: g.invert, conditions: g.all! };
  });
}

const address = z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an address');
const headerName = z.string().regex(/^[!-9;-~]+$/, 'expected a header name');

const WORD_ACTIONS = ['accept', 'stop', 'quarantine', 'discard'] as const;

const objectAction = keyed({
  reject: z.object({ code: z.number().refine((c) => c === 550 || c === 554 || c === 451, 'code must be 550, 554 or 451 (451: try again later)').default(550), text: z.string().regex(/^[\x20-\x7e]*$/, 'printable ASCII only').max(200).default('') }).strict(),
  quarantine: z.object({ reason: z.string().max(200).optional() }).strict(),
  tagSubject: z.string().min(1).max(60),
  addHeader: z.object({ name: headerName, value: z.string().regex(/^[^\r\n]*$/, 'one line') }).strict(),
  removeHeader: headerName,
  rewriteHeader: z.object({ name: headerName, regex, replace: z.string().regex(/^[^\r\n]*$/, 'one line') }).strict(),
  disclaimer: z.object({ text: z.string().min(1), html: z.string().min(1).optional(), marker: z.string().min(1).optional() }).strict(),
  stripAttachments: z.object({
    name: regex.optional(), type: regex.optional(),
    note: z.string().default('The attachment "{{filename}}" was removed by the mail gateway ({{rule}}). The original is kept in quarantine as {{qid}}.'),
    /** Ask for the unmodified original to be kept in quarantine (default true). */
    keepOriginal: z.boolean().default(true),
  }).strict().prefault({}),
  bcc: address,
  redirect: address,
  notify: z.object({
    /** postmaster (config.postmaster), sender (envelope sender; never for <>), or an address. */
    to: z.union([z.literal('postmaster'), z.literal('sender'), address]),
    subject: z.string().regex(/^[^\r\n]*$/, 'one line').default('[TuxHat] rule {{rule}} matched {{qid}}'),
    text: z.string().default('Rule {{rule}} matched message {{qid}} from {{from}} to {{to}}.\nSubject: {{subject}}\nScore: {{score}}\nSymbols: {{symbols}}\n'),
  }).strict(),
  setClass: z.string().regex(/^[a-z][a-z0-9-]*$/, 'class names are lower-case words'),
  /** Add this score as a RULE_<NAME> symbol (tag-by-score instead of a hard action). */
  score: z.number().finite(),
}, 'action');

/**
 * accept: deliver now, no later rule runs. stop: keep what earlier actions did, no later rule
 * runs. quarantine, discard: as named. Or an object with one key (reject, tagSubject, ...).
 */
const action = z.unknown().transform((v, ctx): (typeof WORD_ACTIONS)[number] | z.output<typeof objectAction> => {
  if (typeof v === 'string') {
    if ((WORD_ACTIONS as readonly string[]).includes(v)) return v as (typeof WORD_ACTIONS)[number];
    ctx.addIssue({ code: 'custom', message: `unknown action ${v}; expected ${WORD_ACTIONS.join(', ')} or an object like { reject: ... }` });
    return z.NEVER;
  }
  const r = objectAction.safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues) ctx.addIssue({ ...issue } as Parameters<typeof ctx.addIssue>[0]);
  return z.NEVER;
});

export const ruleSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'rule names are lower-case words joined by -'),
  description: z.string().optional(),
  /** Higher runs first; equal priorities run in file and then list order. */
  priority: z.number().int().min(0).max(1000).default(50),
  direction: z.enum(['in', 'out', 'both']).default('both'),
  enabled: z.boolean().default(true),
  who: group(whoCondition).optional(),
  what: group(whatCondition).optional(),
  when: group(whenCondition).optional(),
  actions: z.array(action).min(1),
}).strict();

export const ruleFileSchema = z.object({
  description: z.string().optional(),
  rules: z.array(ruleSchema).default([]),
}).strict().superRefine((f, ctx) => {
  const seen = new Set<string>();
  f.rules.forEach((r, i) => {
    if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `rule ${r.name} is defined twice in this file` });
    seen.add(r.name);
  });
});

export type RuleDef = z.output<typeof ruleSchema>;
export type RuleFile = z.output<typeof ruleFileSchema>;
export type WhoCondition = z.output<typeof whoCondition>;
export type WhatCondition = z.output<typeof whatCondition>;
export type WhenCondition = z.output<typeof whenCondition>;
export type RuleAction = z.output<typeof action>;
export type AddressMatcher = z.output<typeof addressMatcher>;
export type AttachmentMatcher = z.output<typeof attachmentMatcher>;
export interface Group<C> { readonly mode: 'any' | 'all'; readonly invert: boolean; readonly conditions: readonly C[] }
