/*
 * process/pidfile.ts — one daemon per state directory.
 *
 * Two primaries on the same spool would each treat the other's unfinished spool data as crash
 * leftovers and sweep it (queue/manager.ts collectGarbage at start-up). The primary therefore
 * claims <state>/tuxhat.pid: a file naming a live process refuses the start; a stale one (its
 * process is gone, e.g. after kill -9) is taken over. Primary process only.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function claimStateDir(stateDir: string): { release(): void } {
  const path = join(stateDir, 'tuxhat.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      return { release: () => { if (ownerOf(path) === process.pid) rmSync(path, { force: true }); } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = ownerOf(path);
      if (owner !== null && owner !== process.pid && isAlive(owner)) {
        throw new Error(`another gateway (pid ${owner}) is running on the state directory ${stateDir}`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`cannot claim ${path}`);
}

function ownerOf(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
