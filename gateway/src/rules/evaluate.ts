/*
 * rules/evaluate.ts — run a RuleSet over one message: RuleFacts → RulesOutcome.
 *
 * Rules run highest priority first; a rule matches when its direction fits and every group it
 * has (who, when, what — cheapest first) matches. Its actions run in order. `accept` ends the
 * evaluation and delivers; `stop` ends it keeping what earlier actions did; `reject` ends it;
 * `quarantine` and `discard` set the final action (reject > quarantine > discard > deliver) and
 * later rules still run (they may add headers or a BCC). Header-changing actions become
 * HeaderEdits; disclaimer and strip become BodyTransforms applied before DKIM signing
 * (rules/transform.ts). The verdict (verdict/index.ts) turns the outcome into a Verdict.
 * evaluateRules is synchronous and pure (bench/rules-bench.ts measures it); loadRuleContent
 * reads and parses the body only when an applicable rule needs it. Runs in receiver workers and
 * the CLI.
 */
import type { Readable } from 'node:stream';
import type { BodyTransform, HeaderEdit, Hit, QuarantineOriginalRequest, ReplyKey, RuleHit, RuleNotification } from '../core/index.js';
import { mayHaveParts, parseContent, readAll, scanAttachments, type MessageContent } from './content.js';
import type { CompiledRule, RuleSet } from './load.js';
import { header, type EvalState, type RuleFacts, type Tri } from './match.js';
import type { RuleAction } from './schema.js';

export interface RulesOutcome {
  readonly matched: RuleHit[];
  /** Rules that could not be judged (facts missing: replay, or a body over the parse limit). */
  readonly unjudged: string[];
  /** The strongest final action a rule chose; null: none (the verdict decides). */
  final: 'accept' | 'reject' | 'quarantine' | 'discard' | null;
  reject?: { readonly reply: ReplyKey; readonly text: string };
  quarantineReason?: string;
  /** RULE_<NAME> symbols from `score` actions. */
  readonly hits: Hit[];
  readonly headerEdits: HeaderEdit[];
  readonly bcc: string[];
  redirect: string[] | null;
  readonly bodyTransforms: BodyTransform[];
  quarantineOriginal?: QuarantineOriginalRequest;
  classOfService?: string;
  readonly notifications: RuleNotification[];
}

export interface EvaluateContext {
  readonly qid: string;
  readonly postmaster: string;
}

const RANK = { accept: 0, discard: 1, quarantine: 2, reject: 3 } as const;

function applies(rule: CompiledRule, direction: 'inbound' | 'outbound'): boolean {
  return rule.direction === 'both' || (rule.direction === 'in') === (direction === 'inbound');
}

/** Whether any applicable rule needs the body text / attachments. */
export function contentNeeds(set: RuleSet, direction: 'inbound' | 'outbound'): { text: boolean; attachments: boolean } {
  let text = false;
  let attachments = false;
  for (const r of set.rules) {
    if (!applies(r, direction)) continue;
    text ||= r.needsText;
    attachments ||= r.needsAttachments;
  }
  return { text, attachments };
}

/**
 * The message content the rule set needs, or null when it needs none. A message over
 * `maxBytes` is not parsed: its body conditions are reported as unjudged, not guessed.
 */
export async function loadRuleContent(set: RuleSet, direction: 'inbound' | 'outbound', contentType: string | null, open: () => Readable, maxBytes: number): Promise<MessageContent | null | 'too-big'> {
  const needs = contentNeeds(set, direction);
  if (!needs.text && !needs.attachments) return null;
  if (!needs.text && !mayHaveParts(contentType)) return { text: '', attachments: [], notes: [] };
  const raw = await readAll(open(), maxBytes);
  if (raw === null) return 'too-big';
  return needs.text ? parseContent(raw) : scanAttachments(raw);
}

function symbolOf(rule: string): string {
  return `RULE_${rule.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

export function actionLabel(a: RuleAction): string {
  if (typeof a === 'string') return a;
  const [k, v] = Object.entries(a)[0]!;
  if (k === 'reject') return `reject ${(v as { code: number }).code}`;
  if (typeof v === 'string' || typeof v === 'number') return `${k} ${v}`;
  if (k === 'addHeader' || k === 'rewriteHeader') return `${k} ${(v as { name: string }).name}`;
  if (k === 'notify') return `notify ${(v as { to: string }).to}`;
  return k;
}

export function evaluateRules(set: RuleSet, facts: RuleFacts, ctx: EvaluateContext): RulesOutcome {
  const out: RulesOutcome = {
    matched: [], unjudged: [], final: null, hits: [], headerEdits: [], bcc: [], redirect: null,
    bodyTransforms: [], notifications: [],
  };
  const st: EvalState = { score: facts.hits.reduce((s, h) => s + h.score, 0) };
  // Header values as the actions change them (tag subject twice, rewrite after add...).
  const changed = new Map<string, string[]>();
  const current = (name: string): string[] => changed.get(name.toLowerCase()) ?? header(facts, name) ?? [];
  for (const rule of set.rules) {
    if (!applies(rule, facts.direction)) continue;
    let m: Tri = true;
    for (const g of [rule.who, rule.when, rule.what]) {
      if (!g) continue;
      const v = g(facts, st);
      if (v === false) { m = false; break; }
      if (v === null) m = null;
    }
    if (m === null) { out.unjudged.push(rule.name); continue; }
    if (!m) continue;
    out.matched.push({ rule: rule.name, file: rule.file, actions: rule.actions.map(actionLabel) });
    let end = false;
    for (const a of rule.actions) {
      if (a === 'accept') { if (out.final === null) out.final = 'accept'; end = true; break; }
      if (a === 'stop') { end = true; break; }
      if (a === 'quarantine' || a === 'discard') { raise(out, a); if (a === 'quarantine') out.quarantineReason ??= rule.name; continue; }
      if ('reject' in a) {
        raise(out, 'reject');
        const reply: ReplyKey = a.reject.code === 451 ? 'RULE_DEFER' : a.reject.code === 554 ? 'RULE_REJECT_TRANSACTION' : 'RULE_REJECT';
        out.reject = { reply, text: a.reject.text };
        end = true;
        break;
      }
      if ('quarantine' in a) { raise(out, 'quarantine'); out.quarantineReason ??= a.quarantine.reason ?? rule.name; continue; }
      if ('score' in a) {
        out.hits.push({ name: symbolOf(rule.name), score: a.score, detail: rule.name });
        st.score += a.score;
      } else if ('tagSubject' in a) {
        const subject = current('subject')[0] ?? '';
        if (!subject.startsWith(a.tagSubject)) setHeader(out, changed, 'Subject', [`${a.tagSubject} ${subject}`.trimEnd()]);
      } else if ('addHeader' in a) {
        out.headerEdits.push({ op: 'prepend', name: a.addHeader.name, value: a.addHeader.value });
      } else if ('removeHeader' in a) {
        out.headerEdits.push({ op: 'remove', name: a.removeHeader });
        changed.set(a.removeHeader.toLowerCase(), []);
      } else if ('rewriteHeader' in a) {
        const re = new RegExp(a.rewriteHeader.regex, 'giu');
        const values = current(a.rewriteHeader.name);
        const next = values.map((v) => v.replace(re, a.rewriteHeader.replace));
        if (next.some((v, i) => v !== values[i])) setHeader(out, changed, a.rewriteHeader.name, next);
      } else if ('disclaimer' in a) {
        if (!out.bodyTransforms.some((t) => t.op === 'disclaimer' && t.text === a.disclaimer.text)) {
          out.bodyTransforms.push({ op: 'disclaimer', text: a.disclaimer.text, rule: rule.name, ...(a.disclaimer.html ? { html: a.disclaimer.html } : {}), ...(a.disclaimer.marker ? { marker: a.disclaimer.marker } : {}) });
        }
      } else if ('stripAttachments' in a) {
        const s = a.stripAttachments;
        out.bodyTransforms.push({ op: 'strip-attachments', names: s.name ? [s.name] : [], types: s.type ? [s.type] : [], note: expand(s.note, facts, ctx, rule.name, st.score), rule: rule.name });
        if (s.keepOriginal) {
          const prev = out.quarantineOriginal;
          out.quarantineOriginal = { reason: prev?.reason ?? `attachments stripped by rule ${rule.name}`, rules: [...(prev?.rules ?? []), rule.name] };
        }
      } else if ('bcc' in a) {
        if (!out.bcc.includes(a.bcc.toLowerCase())) out.bcc.push(a.bcc.toLowerCase());
      } else if ('redirect' in a) {
        out.redirect = [...(out.redirect ?? []), a.redirect];
      } else if ('notify' in a) {
        const to = a.notify.to === 'postmaster' ? ctx.postmaster : a.notify.to === 'sender' ? facts.mailFrom : a.notify.to;
        // Never notify the null sender (that would be a bounce to a bounce).
        if (to) out.notifications.push({ to, rule: rule.name, subject: expand(a.notify.subject, facts, ctx, rule.name, st.score), text: expand(a.notify.text, facts, ctx, rule.name, st.score) });
      } else if ('setClass' in a) {
        out.classOfService = a.setClass;
      }
    }
    if (end) break;
  }
  return out;
}

function raise(out: RulesOutcome, a: 'reject' | 'quarantine' | 'discard'): void {
  if (out.final === null || out.final === 'accept' || RANK[a] > RANK[out.final]) out.final = a;
}

function setHeader(out: RulesOutcome, changed: Map<string, string[]>, name: string, values: string[]): void {
  const lower = name.toLowerCase();
  // Replace any earlier edit of the same header by this one.
  for (let i = out.headerEdits.length - 1; i >= 0; i--) {
    const e = out.headerEdits[i]!;
    if (e.name.toLowerCase() === lower) out.headerEdits.splice(i, 1);
  }
  out.headerEdits.push({ op: 'remove', name });
  for (const v of values) out.headerEdits.push({ op: 'prepend', name, value: v });
  changed.set(lower, values);
}

/** Notification macros: {{qid}} {{from}} {{to}} {{subject}} {{rule}} {{score}} {{symbols}} {{client}} {{direction}} {{filename}}. */
export function expand(template: string, f: RuleFacts, ctx: EvaluateContext, rule: string, score: number): string {
  const subject = (header(f, 'subject') ?? [])[0] ?? '';
  const values: Record<string, string> = {
    qid: ctx.qid, from: f.mailFrom || '<>', to: f.recipients.join(', '), subject: subject.replace(/[\r\n]/g, ' '), rule,
    score: String(Math.round(score * 100) / 100), symbols: f.hits.map((h) => h.name).join(' '), client: f.clientIp ?? '',
    direction: f.direction,
  };
  return template.replace(/\{\{(\w+)\}\}/g, (all, k: string) => values[k] ?? all);
}
