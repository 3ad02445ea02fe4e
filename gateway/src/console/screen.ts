/*
 * console/screen.ts — the console's terminal: line input (readline), hidden input for passwords,
 * clear-and-redraw. Plain text only, so it works on the Linux VT, a serial console (vt220), tmux
 * and TERM=dumb alike (no cursor addressing beyond "clear" on capable terminals).
 * Runs in the console process.
 */
import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';

export interface Screen {
  clear(): void;
  print(text: string): void;
  ask(prompt: string): Promise<string>;
  askHidden(prompt: string): Promise<string>;
  /** "Press Enter to continue". */
  pause(): Promise<void>;
  /** Give the terminal to a child (shell) and take it back. */
  suspend<T>(fn: () => Promise<T>): Promise<T>;
  close(): void;
}

export class TerminalScreen implements Screen {
  readonly #input: NodeJS.ReadableStream;
  readonly #output: NodeJS.WritableStream;
  readonly #dumb: boolean;
  #muted = false;
  #closed = false;
  #rl: Interface;
  // Lines typed (or pasted on a serial console) before the question is asked are kept, not lost.
  readonly #lines: string[] = [];
  readonly #waiters: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];

  constructor(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout) {
    this.#input = input;
    this.#output = output;
    this.#dumb = (process.env.TERM ?? 'dumb') === 'dumb';
    this.#rl = this.#open();
  }

  #open(): Interface {
    const sink = new Writable({
      write: (chunk: Buffer | string, _enc, cb) => {
        if (!this.#muted) this.#output.write(chunk);
        cb();
      },
    });
    const rl = createInterface({ input: this.#input, output: sink, terminal: Boolean((this.#input as { isTTY?: boolean }).isTTY) });
    // Ctrl-C on the console must not kill the menu (it would respawn, but lose the screen).
    rl.on('SIGINT', () => this.#output.write('\n(use 0 to go back)\n'));
    rl.on('line', (line: string) => {
      const w = this.#waiters.shift();
      if (w) w.resolve(line);
      else this.#lines.push(line);
    });
    rl.on('close', () => {
      if (this.#suspended) return;
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w.reject(new Error('console input closed'));
    });
    return rl;
  }

  clear(): void { if (!this.#dumb) this.#output.write('\x1b[H\x1b[2J'); }
  print(text: string): void { this.#output.write(text.endsWith('\n') ? text : `${text}\n`); }
  #suspended = false;

  #line(prompt: string, echo: boolean): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) {
      this.#output.write(`${prompt}${echo ? queued : ''}\n`);
      return Promise.resolve(queued);
    }
    if (this.#closed) return Promise.reject(new Error('console input closed'));
    this.#rl.setPrompt(prompt);
    this.#rl.prompt();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async ask(prompt: string): Promise<string> { return (await this.#line(prompt, true)).trim(); }
  async askHidden(prompt: string): Promise<string> {
    this.#output.write(prompt);
    this.#muted = true;
    try {
      return await this.#line('', false);
    } finally {
      this.#muted = false;
      this.#output.write('\n');
    }
  }
  async pause(): Promise<void> { await this.#line('\nPress Enter to continue ', true); }
  async suspend<T>(fn: () => Promise<T>): Promise<T> {
    this.#suspended = true;
    this.#rl.close();
    try {
      return await fn();
    } finally {
      this.#suspended = false;
      this.#rl = this.#open();
    }
  }
  close(): void { this.#rl.close(); }
}
