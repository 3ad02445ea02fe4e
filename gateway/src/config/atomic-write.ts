/*
 * config/atomic-write.ts — replace a configuration file so that after a crash it is either the
 * old or the new text, never half: temp file in the same directory (rename is atomic only
 * within a filesystem), fsync, rename over the old file, fsync the directory.
 *
 * Mode and ownership follow the old file; a new file gets `defaultMode` and the directory's
 * group (best effort: only root may give a file away), so a root-run `tuxhat user add` or the
 * console menu keeps /etc/tuxhat files readable by the daemon's group. Used by the CLI and the
 * console menu; never by the daemon.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileAtomic(path: string, text: string, defaultMode = 0o640): Promise<void> {
  const dir = dirname(path);
  const old = await stat(path).catch(() => null);
  const parent = await stat(dir);
  const mode = old ? old.mode & 0o7777 : defaultMode;
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.chmod(mode); // the umask may have narrowed open()'s mode
    await fh.chown(old ? old.uid : -1, old ? old.gid : parent.gid).catch(() => undefined);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
