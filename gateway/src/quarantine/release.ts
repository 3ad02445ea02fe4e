/*
 * quarantine/release.ts — the postmaster's quarantine operations, as the admin API calls them.
 *
 * release: the original message (as received, with the verdict's header edits) goes through the
 * normal queue and delivery path to the chosen (or every held) recipient: written to the spool,
 * committed as a new queue entry (listener `quarantine`, receipt naming the quarantined qid and
 * who released it), then the quarantine record is settled. A crash between the two may deliver a
 * copy twice, never lose one (at-least-once, like the queue). Released outbound mail is
 * DKIM-signed with the keys of the moment, as listen/server.ts signs at receipt. delete: records who deleted what;
 * the body goes when no recipient is held. Both log one line and write the trace.
 * Runs in the primary process. `learn` (Bayes training from quarantine, issue 4 spam branch)
 * plugs in here as one more operation.
 */
import type { Config } from '../config/index.js';
import { newQid, type HeaderEdit, type QueueEntry } from '../core/index.js';
import { headerValue, parseHeaders } from '../content/headers.js';
import { logEvent, type Logger } from '../log/index.js';
import { applyHeaderEdits, type Spool } from '../queue/index.js';
import { dkimHeaderEdits, dkimKeysDir, loadKeyRing, signingDomainOf } from '../sign/index.js';
import { insertEntry } from '../queue/states.js';
import type { StateEnvs } from '../state/index.js';
import type { BayesStore } from '../state/bayes-store.js';
import { QuarantineError, summarizeQuarantine, type QuarantineRecord, type QuarantineStore, type QuarantineSummary } from './store.js';

export interface QuarantineDeps {
  readonly store: QuarantineStore;
  readonly state: StateEnvs;
  readonly spool: Spool;
  readonly log: Logger;
  /** Tell the queue manager a message is due. */
  readonly wake: () => void;
  /** The running configuration (it may be reloaded): released outbound mail is DKIM-signed as on receipt. */
  readonly config?: () => Config;
  /** The Bayes store (state/bayes-store.ts) that `quarantine learn` trains; absent: learn answers 409. */
  readonly bayes?: BayesStore;
}

/**
 * DKIM signatures for a released outbound message, as listen/server.ts signs at receipt (the
 * quarantine keeps the unsigned original). Keys are read at release time; null: nothing to sign.
 */
async function outboundSignatures(deps: QuarantineDeps, record: QuarantineRecord): Promise<HeaderEdit[] | null> {
  const config = deps.config?.();
  if (!config || record.direction !== 'outbound' || !config.dkim.enabled) return null;
  const ring = loadKeyRing(dkimKeysDir(config), config.dkim.domains);
  if (ring.size === 0) return null;
  const headers = parseHeaders(deps.store.headers(record.qid) ?? '');
  const domain = signingDomainOf(config.dkim.signBy, record.mailFrom, headerValue(headers, 'from'));
  return dkimHeaderEdits(ring, domain, () => applyHeaderEdits(deps.store.openBody(record.qid), record.headerEdits));
}

/** What the admin API offers (admin/backend.ts AdminBackend.quarantine). */
export interface QuarantineAdmin {
  list(opts: { recipient?: string; all?: boolean }): Promise<QuarantineSummary[]>;
  show(qid: string): Promise<{ record: QuarantineRecord; headers: string | null } | null>;
  release(qid: string, recipients: readonly string[], by: string): Promise<{ qid: string; released: string[]; queuedAs: string }>;
  delete(qid: string, recipients: readonly string[], by: string): Promise<{ qid: string; deleted: string[] }>;
  /** Train the Bayes store with the message as spam or ham (globally and for its recipients' domains). */
  learn(qid: string, cls: 'spam' | 'ham', by: string): Promise<{ qid: string; learned: 'spam' | 'ham'; result: 'learned' | 'relearned' | 'unchanged' }>;
}

export { QuarantineError };

export function quarantineAdmin(deps: QuarantineDeps): QuarantineAdmin {
  const { store, log } = deps;
  return {
    async list(opts) {
      return store.list(opts).map(summarizeQuarantine);
    },
    async show(qid) {
      const record = store.get(qid);
      if (!record) return null;
      return { record, headers: record.hasBody ? store.headers(qid) : null };
    },
    async release(qid, requested, by) {
      const { record, recipients } = store.targets(qid, requested);
      const signatures = await outboundSignatures(deps, record);
      const headerEdits = signatures ? [...signatures, ...record.headerEdits] : record.headerEdits;
      const queuedAs = newQid();
      const where = await deps.spool.write(queuedAs, Buffer.alloc(0), store.openBody(qid));
      const now = Date.now();
      const entry: QueueEntry = {
        qid: queuedAs, state: 'incoming', direction: record.direction, listener: 'quarantine',
        client: String(record.verdict['client'] ?? 'localhost'), helo: String(record.verdict['helo'] ?? ''),
        authUser: typeof record.verdict['user'] === 'string' ? record.verdict['user'] : null, mailFrom: record.mailFrom,
        recipients: recipients.map((address) => ({ address, state: 'pending' as const, attempts: 0 })),
        size: record.size, body: where, messageId: record.messageId, bodyType: record.bodyType, smtpUtf8: record.smtpUtf8,
        receivedAt: now, nextAttemptAt: now, attempts: 0, headerEdits, isBounce: false, delayWarned: false,
        receipt: { from: record.mailFrom, to: recipients, size: record.size, msgid: record.messageId, action: 'deliver', releasedFrom: qid, releasedBy: by, ...(signatures ? { dkimSigned: true } : {}) },
      };
      try {
        await insertEntry(deps.state, entry);
      } catch (err) {
        deps.spool.remove(queuedAs, where);
        throw err;
      }
      await store.settle(qid, recipients, 'released', by, queuedAs);
      logEvent(log, 'released', { qid, from: 'quarantine', to: recipients, by, queuedAs });
      deps.wake();
      return { qid, released: recipients, queuedAs };
    },
    async delete(qid, requested, by) {
      const { recipients } = store.targets(qid, requested);
      await store.settle(qid, recipients, 'deleted', by);
      logEvent(log, 'removed', { qid, from: 'quarantine', to: recipients, by });
      return { qid, deleted: recipients };
    },
    async learn(qid, cls, by) {
      const record = store.get(qid);
      if (!record) throw new QuarantineError(404, `no quarantined message with queue id ${qid}`);
      if (!record.hasBody) throw new QuarantineError(409, `quarantined message ${qid} has no body left to learn from (released or deleted)`);
      if (!deps.bayes) throw new QuarantineError(409, 'spam scoring is off: there is no Bayes store to train');
      // Loaded on first use: the primary does not otherwise need the MIME parser and tokenizer.
      const { learnItem, relayTrustOf, tokensOf } = await import('../content/spam/engine.js');
      const chunks: Buffer[] = [];
      for await (const c of store.openBody(qid)) chunks.push(c as Buffer);
      const spam = deps.config?.().spam;
      const domains = [...new Set(record.recipients.map((r) => r.address.slice(r.address.lastIndexOf('@') + 1).toLowerCase()))];
      const summary = await deps.bayes.learn([learnItem(await tokensOf(Buffer.concat(chunks), spam?.maxBytes ?? 1024 * 1024, spam ? relayTrustOf(spam) : null), cls, record.direction === 'inbound' ? domains : [], by)]);
      await store.noteLearned(qid, cls, by);
      const result = summary.learned > 0 ? 'learned' : summary.relearned > 0 ? 'relearned' : 'unchanged';
      logEvent(log, 'learned', { qid, from: 'quarantine', as: cls, by, result });
      return { qid, learned: cls, result };
    },
  };
}
