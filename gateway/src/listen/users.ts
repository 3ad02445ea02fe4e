/*
 * listen/users.ts — the local AUTH user database: a YAML map of `address: scrypt hash`.
 *
 * Input: the configured usersFile (or none) and, at AUTH time, a user name and password.
 * Output: a UserDb snapshot, a yes/no answer, or (for `tuxhat user`) a rewritten file.
 * Hash format: `$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>` (PHC-like, unpadded base64).
 * Does not: normalise passwords (the UTF-8 bytes typed are the bytes hashed), rate-limit AUTH
 * attempts (policy/ does), lock the file against two concurrent `tuxhat user` runs, or ever log
 * a password or hash.
 * Runs in receiver workers (verify, at AUTH) and in the `tuxhat` CLI (hash and edit). Trusts the
 * file's owner (root, mode 0640) — but still bounds the scrypt parameters it reads, so a typo in
 * a hand-edited hash cannot make every AUTH attempt allocate gigabytes.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Document, LineCounter, isMap, isScalar, parseDocument, type Node } from 'yaml';
import { ConfigError, writeFileAtomic } from '../config/index.js';

/** A loaded user database. Keys are lower-cased: AUTH user names compare case-insensitively. */
export interface UserDb {
  /** The file it was read from; null when the config names no usersFile. */
  readonly file: string | null;
  /** Lower-cased user name → scrypt hash string, already checked to be well-formed. */
  readonly users: ReadonlyMap<string, string>;
}

interface ScryptParams {
  readonly ln: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

// N = 2^15, r = 8: 32 MiB and ~80 ms per hash on the 2-vCPU test VM, the OWASP floor for scrypt.
const DEFAULT = { ln: 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds for hashes read from the file: 128·r·2^ln must stay at or under 256 MiB.
const MAX_SCRYPT_BYTES = 256 * 1024 * 1024;
const HASH_PATTERN = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;
const FILE_MODE = 0o640;

/** Parse and bound a stored hash; a string describing the problem when it is not usable. */
function parseHash(text: string): ScryptParams | string {
  const m = HASH_PATTERN.exec(text);
  if (!m) return 'expected a hash like $scrypt$ln=15,r=8,p=1$SALT$HASH (made by `tuxhat user add`)';
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4] ?? '', 'base64');
  const hash = Buffer.from(m[5] ?? '', 'base64');
  if (ln < 10 || ln > 22 || r < 1 || p < 1 || p > 16 || 128 * r * 2 ** ln > MAX_SCRYPT_BYTES) {
    return `scrypt parameters ln=${ln},r=${r},p=${p} are out of range`;
  }
  if (salt.length < 8) return 'salt is shorter than 8 bytes';
  if (hash.length < 16 || hash.length > 64) return 'hash must be 16 to 64 bytes';
  return { ln, r, p, salt, hash };
}

function derive(password: string, salt: Buffer, ln: number, r: number, p: number, keyBytes: number): Promise<Buffer> {
  const N = 2 ** ln;
  // Node's default maxmem (32 MiB) rejects N=2^15,r=8 exactly at the limit; leave 2x headroom.
  const options: ScryptOptions = { N, r, p, maxmem: 2 * 128 * r * N + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    try {
      scrypt(password, salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key)));
    } catch (err) {
      // Invalid parameters throw synchronously instead of calling back.
      reject(err);
    }
  });
}

const b64 = (buf: Buffer): string => buf.toString('base64').replace(/=+$/, '');

/** Hash a password for the users file. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, DEFAULT.ln, DEFAULT.r, DEFAULT.p, KEY_BYTES);
  return `$scrypt$ln=${DEFAULT.ln},r=${DEFAULT.r},p=${DEFAULT.p}$${b64(salt)}$${b64(key)}`;
}

// The hash an unknown user is checked against, so "no such user" costs the same scrypt as a
// wrong password and AUTH timing does not reveal which addresses exist.
const DUMMY: ScryptParams = { ...DEFAULT, salt: randomBytes(SALT_BYTES), hash: randomBytes(KEY_BYTES) };

/** True when `password` is the user's; always spends one scrypt, whatever the outcome. */
export async function verifyPassword(db: UserDb, user: string, password: string): Promise<boolean> {
  const stored = db.users.get(user.toLowerCase());
  const parsed = stored === undefined ? undefined : parseHash(stored);
  const known = typeof parsed === 'object';
  const params = known ? parsed : DUMMY;
  const key = await derive(password, params.salt, params.ln, params.r, params.p, params.hash.length);
  return timingSafeEqual(key, params.hash) && known;
}

export const emptyUserDb: UserDb = Object.freeze({ file: null, users: new Map<string, string>() });

interface ParsedFile {
  readonly doc: Document;
  /** lower-cased name → the key as written and its hash */
  readonly users: Map<string, { readonly key: string; readonly hash: string }>;
}

function parseUsersText(text: string, file: string): ParsedFile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lc.linePos(node.range[0]).line : 1);
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `${file}:${lc.linePos(e.pos[0]).line}: YAML syntax: ${e.message.split('\n')[0]}`));
  }
  const users = new Map<string, { key: string; hash: string }>();
  const problems: string[] = [];
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return { doc, users };
  if (!isMap(root)) throw new ConfigError(file, [`${file}:${lineOf(root)}: expected a map of address: hash`]);
  for (const pair of root.items) {
    const keyNode = pair.key as Node | null;
    const line = lineOf(keyNode);
    const key = isScalar(keyNode) ? keyNode.value : undefined;
    const value = isScalar(pair.value) ? pair.value.value : undefined;
    if (typeof key !== 'string' || key === '') {
      problems.push(`${file}:${line}: user names must be non-empty strings`);
      continue;
    }
    if (typeof value !== 'string') {
      problems.push(`${file}:${line}: ${key}: expected a hash string`);
      continue;
    }
    const bad = parseHash(value);
    if (typeof bad === 'string') {
      problems.push(`${file}:${line}: ${key}: ${bad}`);
      continue;
    }
    const lower = key.toLowerCase();
    const earlier = users.get(lower);
    if (earlier) {
      // Names are case-insensitive, so two spellings would make AUTH depend on map order.
      problems.push(`${file}:${line}: ${key}: duplicate of ${earlier.key} (user names ignore case)`);
      continue;
    }
    users.set(lower, { key, hash: value });
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  return { doc, users };
}

/**
 * Load the users file named by the config. No file configured → the empty database. A file that is
 * configured but missing or invalid is a ConfigError naming the file and line: AUTH that silently
 * lets nobody in would look like an outage of the clients, not of the config.
 */
export function loadUsers(file: string | undefined): UserDb {
  if (file === undefined) return emptyUserDb;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`${file}: cannot read: ${(err as Error).message}`]);
  }
  const { users } = parseUsersText(text, file);
  return Object.freeze({ file, users: new Map([...users].map(([lower, u]) => [lower, u.hash])) });
}

async function readForEdit(file: string): Promise<ParsedFile | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(file, [`${file}: cannot read: ${(err as Error).message}`]);
  }
  // A file we cannot parse is refused, never rewritten: the postmaster's other users are in it.
  return parseUsersText(text, file);
}

function newDocument(): Document {
  const doc = new Document({});
  doc.commentBefore = ' TuxHat local AUTH users: address: scrypt hash. Edit with `tuxhat user add|remove`.';
  return doc;
}

/** Add or update a user (the name is stored lower-cased). Comments in the file are kept. */
export async function setUser(file: string, user: string, hash: string): Promise<'added' | 'updated'> {
  const bad = parseHash(hash);
  if (typeof bad === 'string') throw new Error(`refusing to store a malformed hash: ${bad}`);
  const parsed = await readForEdit(file);
  const doc = parsed?.doc.contents && isMap(parsed.doc.contents) ? parsed.doc : newDocument();
  const existing = parsed?.users.get(user.toLowerCase());
  doc.set(existing ? existing.key : user.toLowerCase(), hash);
  await writeFileAtomic(file, doc.toString());
  return existing ? 'updated' : 'added';
}

/** Remove a user; false when the file or the user does not exist. */
export async function removeUser(file: string, user: string): Promise<boolean> {
  const parsed = await readForEdit(file);
  const existing = parsed?.users.get(user.toLowerCase());
  if (!parsed || !existing) return false;
  parsed.doc.delete(existing.key);
  await writeFileAtomic(file, parsed.doc.toString());
  return true;
}
