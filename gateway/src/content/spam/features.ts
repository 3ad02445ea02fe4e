/*
 * content/spam/features.ts — the pool of spamscanner worker threads (features-worker.ts).
 *
 * One pool per process, started on first use (or by warm() at worker start, because importing
 * spamscanner takes 1.5–5 s and ~180 MB per thread). Requests go to the least busy thread; each
 * has a deadline: a thread that misses it is terminated and replaced (a regex stuck on a hostile
 * message must not hold the next ones), and the caller gets an error. The thread gets a private
 * copy of the environment without anything secret-looking, so whatever spamscanner's
 * dependencies do to process.env stays in the thread.
 */
import { Worker } from 'node:worker_threads';
import type { FeatureFinding, FeatureReply, FeatureRequest } from './features-worker.js';
import type { ParsedMessage } from './parse.js';

export type { FeatureFinding } from './features-worker.js';

interface Pending {
  resolve(f: FeatureFinding[]): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

class Slot {
  worker: Worker;
  ready: Promise<void>;
  isReady = false;
  readonly pending = new Map<number, Pending>();

  constructor() {
    const env: Record<string, string> = { DOTENV_CONFIG_QUIET: 'true' };
    for (const k of ['PATH', 'HOME', 'LANG', 'TZ', 'NODE_ENV']) if (process.env[k]) env[k] = process.env[k]!;
    this.worker = new Worker(new URL('./features-worker.js', import.meta.url), { env, stdout: true, stderr: true });
    // spamscanner's dependencies print banners; they are not ours to show.
    this.worker.stdout.resume();
    this.worker.stderr.resume();
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`feature extractor exited (${code}) while starting`)));
      const onMessage = (m: FeatureReply) => {
        if ('ready' in m) {
          this.worker.off('message', onMessage);
          resolve();
        }
      };
      this.worker.on('message', onMessage);
    });
    this.ready.then(() => { this.isReady = true; }, () => {});
    this.worker.on('message', (m: FeatureReply) => {
      if ('ready' in m) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve(m.findings);
    });
    this.worker.on('exit', () => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error('feature extractor exited'));
      }
      this.pending.clear();
    });
  }
}

export class FeaturePool {
  readonly #size: number;
  #slots: Slot[] = [];
  #next = 1;

  constructor(size: number) {
    this.#size = Math.max(1, size);
  }

  /** Start the threads now (import takes seconds); resolves when they are ready. */
  async warm(): Promise<void> {
    while (this.#slots.length < this.#size) this.#slots.push(new Slot());
    await Promise.all(this.#slots.map((s) => s.ready));
  }

  async extract(msg: Pick<ParsedMessage, 'text' | 'html' | 'attachments'>, timeoutMs: number): Promise<FeatureFinding[]> {
    while (this.#slots.length < this.#size) this.#slots.push(new Slot());
    const slot = this.#slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.#next++;
    const req: FeatureRequest = { id, text: msg.text, html: msg.html, attachments: msg.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, head: new Uint8Array(a.head) })) };
    // A thread still importing spamscanner (seconds) is not waited for: the message is scored
    // without its features (the check says so) rather than held.
    if (!slot.isReady) throw new Error('feature extractor is still starting');
    return new Promise<FeatureFinding[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.pending.delete(id);
        reject(new Error(`feature extractor gave no answer within ${timeoutMs} ms`));
        this.#replace(slot);
      }, timeoutMs);
      slot.pending.set(id, { resolve, reject, timer });
      slot.worker.postMessage(req, req.attachments.map((a) => a.head.buffer as ArrayBuffer));
    });
  }

  #replace(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i === -1) return;
    this.#slots.splice(i, 1, new Slot());
    void slot.worker.terminate();
  }

  async close(): Promise<void> {
    const slots = this.#slots;
    this.#slots = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
