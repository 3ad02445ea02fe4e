// test/e2e/harness/fake-gateway.mjs — a stand-in for the daemon, used only by the harness' own
// test (test/e2e/harness.test.ts) to prove gateway.ts against the contract the real daemon meets:
// `run --config FILE`, YAML config, pino-style JSON lines on stdout, a 220 greeting on every
// listener, SIGTERM = graceful stop, SIGHUP = reload. It accepts no mail.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parse } from 'yaml';

const log = (obj) => process.stdout.write(`${JSON.stringify({ level: 30, time: Date.now(), ...obj })}\n`);
const i = process.argv.indexOf('--config');
if (process.argv[2] !== 'run' || i < 0) {
  if (process.env.TAP === '1' && process.argv.length === 2) {
    // Picked up as a test file by `tap test/e2e` (a directory argument bypasses .taprc's include).
    process.stdout.write('1..0 # not a test: the stand-in daemon that harness.test.ts starts\n');
    process.exit(0);
  }
  process.stderr.write('usage: fake-gateway run --config FILE\n');
  process.exit(2);
}
const file = process.argv[i + 1];
let config = parse(readFileSync(file, 'utf8')) ?? {};
if (process.env.FAKE_GATEWAY_FAIL) {
  process.stderr.write(`config error: ${process.env.FAKE_GATEWAY_FAIL}\n`);
  process.exit(78);
}
const servers = [];
for (const [name, l] of Object.entries(config.listeners ?? {})) {
  const srv = createServer((sock) => {
    sock.write(`220 ${config.hostname ?? 'localhost'} ESMTP fake\r\n`);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let n;
      while ((n = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, n).trim();
        buf = buf.slice(n + 1);
        const verb = line.split(/[ :]/)[0].toUpperCase();
        if (verb === 'QUIT') sock.end('221 2.0.0 Bye\r\n');
        else if (verb === 'EHLO') sock.write('250-fake\r\n250 8BITMIME\r\n');
        else sock.write('502 5.5.2 fake gateway accepts nothing\r\n');
      }
    });
    sock.on('error', () => {});
  });
  srv.listen(l.port, l.address ?? '127.0.0.1', () => log({ event: 'listening', listener: name, port: l.port, msg: `listening on ${l.port}` }));
  servers.push(srv);
}
process.on('SIGHUP', () => {
  config = parse(readFileSync(file, 'utf8')) ?? {};
  log({ event: 'reload', msg: 'config reloaded' });
});
process.on('SIGTERM', () => {
  log({ event: 'stopping', msg: 'stopping' });
  for (const s of servers) s.close();
  setTimeout(() => process.exit(0), 50);
});
process.stderr.write('not json on stderr\n');
