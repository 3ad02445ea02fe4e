/*
 * core/qid.ts — time-sortable queue ids.
 *
 * 10 chars of Crockford base32 milliseconds (sortable until year 10889) + 8 chars of randomness
 * (40 bits). Lexical order is arrival order, so the id doubles as an LMDB key in arrival order, and
 * it is safe in file names, SMTP replies and log lines. Runs in every process; needs no coordination.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newQid(now: number = Date.now()): string {
  let t = now;
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = ALPHABET[t % 32] + head;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(5);
  let bits = 0n;
  for (const b of rnd) bits = (bits << 8n) | BigInt(b);
  let tail = '';
  for (let i = 0; i < 8; i++) {
    tail = ALPHABET[Number(bits & 31n)] + tail;
    bits >>= 5n;
  }
  return head + tail;
}

/** Arrival time (epoch ms) encoded in a queue id. */
export function qidTime(qid: string): number {
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + ALPHABET.indexOf(qid[i] ?? '0');
  return t;
}

export const QID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{18}$/;
