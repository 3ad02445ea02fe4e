/*
 * content/headers.ts — capture and parse the header block while the body streams to disk.
 * The capture observes chunks on their way to the spool (no second read of the file), bounded to
 * 256 KiB; a longer header block is still spooled, only the parsed view is cut short.
 */
export interface HeaderField { readonly name: string; readonly value: string }

const MAX_HEAD = 256 * 1024;

/** Sees each DATA chunk on its way to the spool; keeps the header block and counts bytes. */
export class HeaderCapture {
  #chunks: Buffer[] = [];
  #bytes = 0;
  #done = false;
  /** Bytes seen (the message size as spooled, without our added headers). */
  size = 0;

  observe(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.#done) return;
    const prevTail = this.#chunks.at(-1)?.subarray(-3);
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    // The blank line may straddle two chunks: look at the previous chunk's last 3 bytes too.
    if (this.#bytes >= MAX_HEAD || chunk.includes('\r\n\r\n') || (prevTail && Buffer.concat([prevTail, chunk.subarray(0, 3)]).includes('\r\n\r\n'))) {
      this.#done = true;
    }
  }

  headerBlock(): string {
    const all = Buffer.concat(this.#chunks);
    const end = all.indexOf('\r\n\r\n');
    return all.subarray(0, end === -1 ? Math.min(all.length, MAX_HEAD) : end + 2).toString('utf8');
  }
}

export function parseHeaders(block: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '') break;
    if (/^[ \t]/.test(line)) {
      const last = fields.pop();
      if (last) fields.push({ name: last.name, value: `${last.value} ${line.trim()}` });
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

export function headerValue(fields: readonly HeaderField[], name: string): string | null {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value ?? null;
}
