/*
 * policy/smuggling.ts — SMTP smuggling protection (CVE-2023-51764/51765/51766 class).
 *
 * smtp-server ends DATA only on <CRLF>.<CRLF>, so `\n.\n`, `\r.\n` or `\n.\r\n` do not end the
 * message here; but they are carried inside the body, and a next hop that accepts a sloppier
 * end-of-data would see a second, forged message after them. Every such sequence contains a
 * bare LF or a bare CR, which RFC 5321 §2.3.8 forbids in SMTP text anyway, so (like Postfix's
 * smtpd_forbid_bare_newline) a message with either is refused instead of being passed on.
 * Observes the DATA chunks as they stream to the spool; state carries across chunk borders.
 */
export class BareNewlineDetector {
  #prevCr = false;
  /** What was found first ("bare LF at byte N" / "bare CR at byte N"), or null. */
  found: string | null = null;
  #offset = 0;

  observe(chunk: Buffer): void {
    if (this.found !== null) return;
    const len = chunk.length;
    if (len === 0) return;
    // A CR at the end of the previous chunk must be followed by LF here.
    if (this.#prevCr && chunk[0] !== 0x0a) this.found = `bare CR at byte ${this.#offset - 1}`;
    let i = chunk.indexOf(0x0a);
    while (i >= 0 && this.found === null) {
      if (i === 0 ? !this.#prevCr : chunk[i - 1] !== 0x0d) this.found = `bare LF at byte ${this.#offset + i}`;
      i = chunk.indexOf(0x0a, i + 1);
    }
    let j = chunk.indexOf(0x0d);
    while (j >= 0 && j < len - 1 && this.found === null) {
      if (chunk[j + 1] !== 0x0a) this.found = `bare CR at byte ${this.#offset + j}`;
      j = chunk.indexOf(0x0d, j + 1);
    }
    this.#prevCr = chunk[len - 1] === 0x0d;
    this.#offset += len;
  }

  /** Call at the end of the data: a trailing CR is bare too. */
  end(): string | null {
    if (this.found === null && this.#prevCr) this.found = `bare CR at byte ${this.#offset - 1}`;
    return this.found;
  }
}
