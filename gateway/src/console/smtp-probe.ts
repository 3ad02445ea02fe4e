/*
 * console/smtp-probe.ts — the console's "SMTP test": connect to a next hop, read the banner,
 * EHLO, QUIT, and show the transcript. Input: host, port, our name. Output: the transcript
 * (resolves even on a 4xx/5xx banner, which is itself the answer); rejects on connect failure or
 * the overall deadline. Does not: send mail or STARTTLS (the hop's EHLO shows whether it offers it).
 * Runs in the console process.
 */
import { connect } from 'node:net';

export function smtpProbe(host: string, port: number, helo: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [`connecting to ${host}:${port}`];
    const sock = connect({ host, port });
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no complete answer from ${host}:${port} within ${timeoutMs / 1000} s`)); }, timeoutMs);
    const done = (err?: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(lines.join('\n'));
    };
    sock.setEncoding('utf8');
    sock.on('error', (err) => done(new Error(`${host}:${port}: ${err.message}`)));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        lines.push(`<<< ${line}`);
        if (/^\d{3}-/.test(line)) continue; // continuation of a multi-line reply
        if (step === 0) {
          step = 1;
          if (!line.startsWith('2')) { sock.write('QUIT\r\n'); lines.push('>>> QUIT'); step = 2; continue; }
          sock.write(`EHLO ${helo}\r\n`);
          lines.push(`>>> EHLO ${helo}`);
        } else if (step === 1) {
          step = 2;
          sock.write('QUIT\r\n');
          lines.push('>>> QUIT');
        } else {
          done();
          return;
        }
      }
    });
    sock.on('end', () => (step === 2 ? done() : done(new Error(`${host}:${port} closed the connection early`))));
  });
}
