/*
 * bench/corpus.ts — the SpamAssassin public corpus as the quality benches read it (quality.ts,
 * quality-validate.ts, scan-cpu.ts): one message per file of a group directory, named by its
 * 5-digit id, split by the same mbox reader `tuxhat learn` uses.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitMbox } from '../gateway/src/content/spam/mailbox.js';

export interface CorpusItem {
  readonly group: string;
  readonly id: number;
  /** `group/file`, as results name the message. */
  readonly name: string;
  readonly path: string;
  readonly spam: boolean;
  readonly raw: Buffer;
}

/** The messages of `group` (e.g. 'spam-1') whose id `keep` accepts, in file order. */
export function loadGroup(corpus: string, group: string, spam: boolean, keep: (id: number) => boolean = () => true): CorpusItem[] {
  const dir = join(corpus, group);
  return readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().flatMap((f) => {
    const id = Number(f.slice(0, 5));
    if (!keep(id)) return [];
    const path = join(dir, f);
    const msg = [...splitMbox(path, readFileSync(path))][0];
    return msg ? [{ group, id, name: `${group}/${f}`, path, spam, raw: msg.raw }] : [];
  });
}
