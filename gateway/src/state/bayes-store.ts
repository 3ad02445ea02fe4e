/*
 * state/bayes-store.ts — the Bayes token counts, in the durable LMDB environment (queue.lmdb).
 *
 * Named databases (their own, next to the queue's):
 * - `bayes`: [scope, token] → [spam, ham] message counts; [scope, ''] → [nspam, nham], the
 *   number of messages learned. Scope '' is global; a domain name is that recipient domain's own.
 * - `bayes-learned`: learn key (Message-ID or hash, content/spam/parse.ts learnKey) → what was
 *   learned, by whom and when. Learning is idempotent per message: the same message learned twice
 *   as the same class counts once; learned as the other class it moves (unlearn, then learn),
 *   like sa-learn.
 * Durable because a trained model is the postmaster's work and not rebuildable from anything we
 * keep. Writes run in one LMDB transaction per batch (read-modify-write is atomic across the
 * receiver processes and the CLI); reads are synchronous memory-map lookups (microseconds).
 */
import type { Database, RootDatabase } from 'lmdb';

export type SpamClass = 'spam' | 'ham';

export interface LearnItem {
  readonly key: string;
  readonly cls: SpamClass;
  readonly tokens: readonly string[];
  /** '' (global) and/or recipient domains. */
  readonly scopes: readonly string[];
  /** Who trained it (cli user, quarantine action, auto-learn). */
  readonly by: string;
}

export interface LearnedRecord {
  readonly cls: SpamClass;
  readonly scopes: readonly string[];
  readonly by: string;
  readonly at: number;
}

export interface LearnSummary {
  readonly learned: number;
  readonly relearned: number;
  readonly unchanged: number;
}

export class BayesStore {
  readonly #root: RootDatabase;
  readonly #counts: Database<[number, number], [string, string]>;
  readonly #learned: Database<LearnedRecord, string>;

  constructor(durable: RootDatabase) {
    this.#root = durable;
    this.#counts = durable.openDB<[number, number], [string, string]>('bayes', { encoding: 'msgpack', keyEncoding: 'ordered-binary' });
    this.#learned = durable.openDB<LearnedRecord, string>('bayes-learned', { encoding: 'msgpack' });
  }

  /** [nspam, nham] learned in a scope. */
  totals(scope = ''): { nspam: number; nham: number } {
    const v = this.#counts.get([scope, '']);
    return { nspam: v?.[0] ?? 0, nham: v?.[1] ?? 0 };
  }

  counts(scope: string, token: string): { spam: number; ham: number } | undefined {
    const v = this.#counts.get([scope, token]);
    return v ? { spam: v[0], ham: v[1] } : undefined;
  }

  learnedRecord(key: string): LearnedRecord | undefined {
    return this.#learned.get(key);
  }

  /** Learn a batch in one transaction (one commit, one fsync). */
  async learn(items: readonly LearnItem[]): Promise<LearnSummary> {
    return this.#root.transaction(() => {
      const deltas = new Map<string, [string, string, number, number]>();
      const bump = (scope: string, token: string, ds: number, dh: number) => {
        const k = `${scope}\u0000${token}`;
        const d = deltas.get(k);
        if (d) {
          d[2] += ds;
          d[3] += dh;
        } else deltas.set(k, [scope, token, ds, dh]);
      };
      const apply = (cls: SpamClass, tokens: readonly string[], scopes: readonly string[], sign: 1 | -1) => {
        const ds = cls === 'spam' ? sign : 0;
        const dh = cls === 'ham' ? sign : 0;
        for (const scope of scopes) {
          bump(scope, '', ds, dh);
          for (const t of tokens) if (t !== '') bump(scope, t, ds, dh);
        }
      };
      const seen = new Map<string, LearnedRecord>();
      let learned = 0;
      let relearned = 0;
      let unchanged = 0;
      const at = Date.now();
      for (const item of items) {
        const before = seen.get(item.key) ?? this.#learned.get(item.key);
        if (before?.cls === item.cls) {
          unchanged++;
          continue;
        }
        if (before) {
          apply(before.cls, item.tokens, before.scopes, -1);
          relearned++;
        } else learned++;
        apply(item.cls, item.tokens, item.scopes, 1);
        const rec: LearnedRecord = { cls: item.cls, scopes: [...item.scopes], by: item.by, at };
        seen.set(item.key, rec);
        void this.#learned.put(item.key, rec);
      }
      for (const [scope, token, ds, dh] of deltas.values()) {
        const cur = this.#counts.get([scope, token]);
        const spam = Math.max(0, (cur?.[0] ?? 0) + ds);
        const ham = Math.max(0, (cur?.[1] ?? 0) + dh);
        if (spam === 0 && ham === 0) void this.#counts.remove([scope, token]);
        else void this.#counts.put([scope, token], [spam, ham]);
      }
      return { learned, relearned, unchanged };
    });
  }
}
