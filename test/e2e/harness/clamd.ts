/*
 * test/e2e/harness/clamd.ts — a private clamd with a signature database the test creates.
 *
 * No downloaded database (no freshclam, no network): the database directory holds one .ndb file
 * with body-based signatures made from marker strings the test chooses, e.g.
 * `startClamd(t, { signatures: { 'TuxHat.Test.Virus': 'TUXHAT-TEST-VIRUS-MARKER' } })`; a message
 * whose body contains the marker is then reported as `TuxHat.Test.Virus.UNOFFICIAL FOUND`.
 * (clamd appends `.UNOFFICIAL` to names from non-official databases.) The default signature is
 * TuxHat.Test.Virus on the marker `TUXHAT_TEST_VIRUS` + `_SIGNATURE`, exported as CLAMD_TEST_MARKER.
 *
 * `eicar: ['hdb', 'ndb']` adds the EICAR test file as a whole-file MD5 signature (Test.EICAR.HDB,
 * .hdb: md5:size:name) and/or a body signature (Test.EICAR.NDB); `hashes` adds .hdb signatures for
 * any bytes (e.g. a test zip: clamd matches the attachment file itself). EICAR_TEST_STRING() builds
 * the EICAR string at run time, so no file in the repository carries it.
 *
 * clamd listens on a unix socket in the temp dir (`socket`) and, with `tcp: true`, on a loopback
 * port. Runs in the foreground (`Foreground yes`) as the current user (no `User` line), logs to
 * `<dir>/clamd.log`. stop() / restart() make "clamd down" scenarios.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { freePort, LOOPBACK } from './ports.js';
import { spawnService, StopWaiting, tempDir, waitFor, which, type Cleanup, type Spawned } from './util.js';

/** The default test signature's marker (built from two halves so this file itself is clean). */
export const CLAMD_TEST_MARKER = ['TUXHAT_TEST_VIRUS', '_SIGNATURE'].join('');

/** The EICAR anti-virus test file (68 bytes), assembled here so this source file is not flagged. */
export function EICAR_TEST_STRING(): string {
  return ['X5O!P%@AP[4\\PZX54(P^)7CC)7}', '$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'].join('');
}

export interface ClamdOptions {
  /** Signature name → marker string found anywhere in a scanned file. */
  signatures?: Record<string, string>;
  /** EICAR signatures to add: 'hdb' (Test.EICAR.HDB, whole-file MD5) and/or 'ndb' (Test.EICAR.NDB, body). */
  eicar?: ReadonlyArray<'hdb' | 'ndb'>;
  /** Signature name → exact file content, as an .hdb (MD5 of the whole file) signature. */
  hashes?: Record<string, Buffer>;
  /** Also listen on a loopback TCP port. */
  tcp?: boolean;
  /** Extra clamd.conf lines, e.g. ['MaxFileSize 1M']. */
  extraConfig?: string[];
}

export interface Clamd {
  /** Unix socket path (what a `clamd.socket` config key wants). */
  socket: string;
  /** TCP port with `tcp: true`, else undefined. */
  port: number | undefined;
  dir: string;
  /** Scans a buffer with INSTREAM; returns clamd's reply, e.g. 'stream: OK' or 'stream: X FOUND'. */
  scan(data: Buffer | string): Promise<string>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  output(): string;
}

/** Talks the clamd protocol (zINSTREAM) over the unix socket. */
export function clamdCommand(socket: string, data: Buffer | string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socket);
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`clamd did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('connect', () => {
      const body = typeof data === 'string' ? Buffer.from(data) : data;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      const end = Buffer.alloc(4);
      s.write('zINSTREAM\0');
      s.write(len);
      s.write(body);
      s.write(end);
    });
    s.on('data', (b) => (out += b.toString()));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out.replace(/\0$/, '').trim());
    });
  });
}

/** Starts clamd with a tiny made-up database; stopped in teardown. Loading takes about a second. */
export async function startClamd(t: Cleanup, opts: ClamdOptions = {}): Promise<Clamd> {
  const bin = which('clamd', 'clamav-daemon');
  const dir = await tempDir(t, 'clamd');
  const db = join(dir, 'db');
  await mkdir(db);
  const sigs = opts.signatures ?? { 'TuxHat.Test.Virus': CLAMD_TEST_MARKER };
  // .ndb: Name:TargetType:Offset:HexSignature — target 0 = any file, offset * = anywhere.
  const ndb = Object.entries(sigs).map(([name, marker]) => `${name}:0:*:${Buffer.from(marker).toString('hex')}`);
  const eicar = Buffer.from(EICAR_TEST_STRING());
  if (opts.eicar?.includes('ndb')) ndb.push(`Test.EICAR.NDB:0:*:${eicar.toString('hex')}`);
  await writeFile(join(db, 'tuxhat-test.ndb'), `${ndb.join('\n')}\n`);
  const hdb = Object.entries(opts.hashes ?? {}).map(([name, data]) => `${createHash('md5').update(data).digest('hex')}:${data.length}:${name}`);
  if (opts.eicar?.includes('hdb')) hdb.push(`${createHash('md5').update(eicar).digest('hex')}:${eicar.length}:Test.EICAR.HDB`);
  if (hdb.length > 0) await writeFile(join(db, 'tuxhat-test.hdb'), `${hdb.join('\n')}\n`);
  const socket = join(dir, 'clamd.sock');
  const port = opts.tcp ? await freePort() : undefined;
  const conf = join(dir, 'clamd.conf');
  await writeFile(
    conf,
    [
      `LocalSocket ${socket}`,
      'LocalSocketMode 666',
      'FixStaleSocket yes',
      ...(port ? [`TCPSocket ${port}`, `TCPAddr ${LOOPBACK}`] : []),
      `DatabaseDirectory ${db}`,
      `LogFile ${join(dir, 'clamd.log')}`,
      `PidFile ${join(dir, 'clamd.pid')}`,
      `TemporaryDirectory ${dir}`,
      'Foreground yes',
      'LogTime yes',
      'SelfCheck 0',
      'MaxThreads 4',
      'Bytecode no',
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  let proc: Spawned | undefined;
  const start = async (): Promise<void> => {
    const p = spawnService(t, bin, ['--config-file', conf], { cwd: dir });
    proc = p;
    await waitFor(
      async () => {
        if (p.hasExited()) throw new StopWaiting(`clamd exited: ${p.output()}`);
        const r = await clamdCommand(socket, 'ping', 2000).catch(() => '');
        return r.startsWith('stream:');
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'clamd to answer', detail: () => p.output() },
    );
  };
  await start();
  return {
    socket,
    port,
    dir,
    scan: (data) => clamdCommand(socket, data),
    stop: async () => proc?.stop(5000),
    async restart() {
      await proc?.stop(5000);
      await start();
    },
    output: () => proc?.output() ?? '',
  };
}
