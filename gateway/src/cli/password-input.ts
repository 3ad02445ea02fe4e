/*
 * cli/password-input.ts — read a new password for `tuxhat user add`.
 *
 * Input: stdin. A terminal is switched to raw mode so nothing is echoed, and the password is
 * asked twice; a pipe (`printf %s "$PW" | tuxhat user add …`) is read to its first line break.
 * Output: the password string. Does not: print, log or keep it anywhere; check its strength.
 * Runs in the `tuxhat` process.
 */
import { CliError, type CliIo } from './io.js';

// A password longer than this on a pipe is almost certainly the wrong file piped in.
const MAX_PIPE_BYTES = 4096;

function readHidden(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin;
  io.stderr.write(prompt);
  stdin.setRawMode?.(true);
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      const input = Array.from(chunk);
      for (let i = 0; i < input.length; i++) {
        const ch = input[i] as string;
        if (ch === '\r' || ch === '\n') {
          finish();
          // A pasted "pw\rpw\r" arrives as one chunk; the rest belongs to the next prompt.
          const rest = input.slice(i + 1).join('').replace(/^\n/, '');
          if (rest !== '') stdin.unshift(rest);
          resolve(chars.join(''));
          return;
        }
        // Raw mode delivers Ctrl-C and Ctrl-D as bytes instead of signals; honour them.
        if (ch === '\u0003' || (ch === '\u0004' && chars.length === 0)) {
          finish();
          reject(new CliError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') chars.pop();
        else if (ch === '\u0015') chars = []; // Ctrl-U: start over
        else if (ch >= ' ') chars.push(ch);
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

async function readPipe(io: CliIo): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of io.stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(buf);
    bytes += buf.length;
    if (bytes > MAX_PIPE_BYTES) throw new CliError(`the password on standard input is longer than ${MAX_PIPE_BYTES} bytes`);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const end = text.indexOf('\n');
  return (end === -1 ? text : text.slice(0, end)).replace(/\r$/, '');
}

/** The new password, never empty. */
export async function readNewPassword(io: CliIo, user: string): Promise<string> {
  let password: string;
  if (io.stdin.isTTY && io.stdin.setRawMode) {
    password = await readHidden(io, `New password for ${user}: `);
    if (password !== '') {
      const again = await readHidden(io, 'Again: ');
      if (again !== password) throw new CliError('the passwords do not match; nothing changed');
    }
  } else {
    password = await readPipe(io);
  }
  if (password === '') throw new CliError('empty password; nothing changed');
  return password;
}
