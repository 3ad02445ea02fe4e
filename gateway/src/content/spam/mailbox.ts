/*
 * content/spam/mailbox.ts — the messages under a path, for `tuxhat scan` and `tuxhat learn`:
 * a message file; an mbox (a file whose first line starts with "From "), split at its "From "
 * lines that follow an empty line and carry a time (not at every line starting "From "), with
 * ">From " unquoted (mboxrd); a maildir (cur/ and new/); any other directory: every
 * regular file in it (not recursive), in name order. Yields one message at a time, so a large
 * mailbox is never held whole in memory.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface MailboxMessage {
  /** The file, with `#N` (1-based) for the Nth message of an mbox. */
  readonly file: string;
  readonly raw: Buffer;
}

export function* readMailbox(path: string): Generator<MailboxMessage> {
  const st = statSync(path);
  if (st.isDirectory()) {
    const isMaildir = existsSync(join(path, 'cur')) && existsSync(join(path, 'new'));
    const dirs = isMaildir ? [join(path, 'cur'), join(path, 'new')] : [path];
    for (const dir of dirs) {
      for (const name of readdirSync(dir).sort()) {
        const file = join(dir, name);
        if (name.startsWith('.') || !statSync(file).isFile()) continue;
        yield* readFileMessages(file);
      }
    }
    return;
  }
  yield* readFileMessages(path);
}

function* readFileMessages(file: string): Generator<MailboxMessage> {
  const raw = readFileSync(file);
  if (raw.subarray(0, 5).toString('latin1') !== 'From ') {
    yield { file, raw };
    return;
  }
  yield* splitMbox(file, raw);
}

/**
 * A "From " line that starts the next message of an mbox: after an empty line (the previous
 * message's end), with the asctime of its delivery (`From sender  Fri Dec  7 11:07:41 2001`).
 * Not every line that starts with "From ": a header written `From  : x` or a body line
 * "From home recordings to mp3s" after a paragraph break in an mbox that did not quote it.
 */
const SEPARATOR = /\n\r?\nFrom \S*[ \t]+[^\n]*\d\d?:\d\d/g;

function nextSeparator(text: string, from: number): number {
  SEPARATOR.lastIndex = from;
  const m = SEPARATOR.exec(text);
  // The index of the newline that ends the empty line, as the old "\nFrom " search gave.
  return m === null ? -1 : text.indexOf('\nFrom ', m.index + 1);
}

export function* splitMbox(file: string, raw: Buffer): Generator<MailboxMessage> {
  const text = raw.toString('latin1');
  let n = 0;
  let start = 0;
  while (start < text.length) {
    let next = nextSeparator(text, Math.max(0, start - 1));
    if (next === -1) next = text.length;
    // The "From " separator line is not part of the message; a file that does not start with
    // one (a single message handed to splitMbox) keeps its first line (e.g. Return-Path:).
    const chunk = text.startsWith('From ', start) ? text.slice(text.indexOf('\n', start) + 1, next + 1) : text.slice(start, next + 1);
    n++;
    // mboxrd: a body line ">From " (any number of >) was quoted; drop one level.
    const body = chunk.replace(/^>(>*From )/gm, '$1');
    if (body.trim() !== '') yield { file: `${file}#${n}`, raw: Buffer.from(body, 'latin1') };
    start = next + 1;
  }
}
