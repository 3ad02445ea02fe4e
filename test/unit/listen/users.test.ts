import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hashPassword, loadUsers, removeUser, setUser, verifyPassword } from '../../../gateway/src/listen/users.js';

const HASH_FORMAT = /^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/;

t.test('hashPassword: PHC-like scrypt string with a fresh salt each time', async (t) => {
  const [a, b] = await Promise.all([hashPassword('correct horse'), hashPassword('correct horse')]);
  t.match(a, HASH_FORMAT);
  t.not(a, b, 'salted');
});

t.test('verifyPassword: right, wrong, case of the name, unknown user', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'users.yaml');
  writeFileSync(file, `Alice@Example.TEST: "${await hashPassword('s3cret ü')}"\n`);
  const db = loadUsers(file);
  t.equal(db.file, file);
  t.same([...db.users.keys()], ['alice@example.test']);
  t.equal(await verifyPassword(db, 'alice@example.test', 's3cret ü'), true);
  t.equal(await verifyPassword(db, 'ALICE@example.test', 's3cret ü'), true, 'user names ignore case');
  t.equal(await verifyPassword(db, 'alice@example.test', 'S3cret ü'), false, 'passwords do not');
  t.equal(await verifyPassword(db, 'alice@example.test', ''), false);
  t.equal(await verifyPassword(db, 'mallory@example.test', 's3cret ü'), false);
});

t.test('an unknown user costs a scrypt too (no timing oracle for which users exist)', async (t) => {
  const file = join(t.testdir({}), 'users.yaml');
  writeFileSync(file, `a@example.test: "${await hashPassword('pw')}"\n`);
  const db = loadUsers(file);
  const time = async (user: string): Promise<number> => {
    const start = performance.now();
    await verifyPassword(db, user, 'wrong');
    return performance.now() - start;
  };
  await time('a@example.test'); // warm up
  const known = Math.min(await time('a@example.test'), await time('a@example.test'));
  const unknown = Math.min(await time('nobody@example.test'), await time('nobody@example.test'));
  // Loose on purpose (shared 2-core CI): without the dummy scrypt, unknown is ~0.01 ms vs ~80 ms.
  t.ok(unknown > known / 3, `unknown ${unknown.toFixed(1)} ms vs known ${known.toFixed(1)} ms`);
});

t.test('loadUsers: no file configured is an empty database; a configured file must be valid', async (t) => {
  t.same(loadUsers(undefined), { file: null, users: new Map() });
  const dir = t.testdir({
    'empty.yaml': '',
    'comments.yaml': '# nobody yet\n',
    'syntax.yaml': 'a@example.test: "unterminated\n',
    'list.yaml': '- a@example.test\n',
    'badhash.yaml': `a@example.test: "${'$'}scrypt${'$'}ln=15,r=8,p=1${'$'}c2FsdHNhbHQ${'$'}c2hvcnQ"\nb@example.test: plaintext\nc@example.test: 42\n`,
    'huge.yaml': `a@example.test: "${'$'}scrypt${'$'}ln=30,r=8,p=1${'$'}c2FsdHNhbHRzYWx0${'$'}MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"\n`,
  });
  t.equal(loadUsers(join(dir, 'empty.yaml')).users.size, 0);
  t.equal(loadUsers(join(dir, 'comments.yaml')).users.size, 0);
  const missing = join(dir, 'missing.yaml');
  t.throws(() => loadUsers(missing), { name: 'ConfigError', message: new RegExp(`${missing}: cannot read: ENOENT`) });
  t.throws(() => loadUsers(join(dir, 'syntax.yaml')), { name: 'ConfigError', message: /syntax\.yaml:\d+: YAML syntax: Missing closing/ });
  t.throws(() => loadUsers(join(dir, 'list.yaml')), { message: /list\.yaml:1: expected a map of address: hash/ });
  let problems: readonly string[] = [];
  try {
    loadUsers(join(dir, 'badhash.yaml'));
  } catch (err) {
    problems = (err as { problems: readonly string[] }).problems;
  }
  t.match(problems, [
    /badhash\.yaml:1: a@example\.test: hash must be 16 to 64 bytes/,
    /badhash\.yaml:2: b@example\.test: expected a hash like \$scrypt\$/,
    /badhash\.yaml:3: c@example\.test: expected a hash string/,
  ]);
  t.throws(() => loadUsers(join(dir, 'huge.yaml')), { message: /huge\.yaml:1: a@example\.test: scrypt parameters ln=30,r=8,p=1 are out of range/ });
});

t.test('loadUsers: two spellings of one name are refused, naming both lines', async (t) => {
  const h = await hashPassword('x');
  const file = join(t.testdir({}), 'users.yaml');
  writeFileSync(file, `# users\nbob@example.test: "${h}"\nBob@Example.test: "${h}"\n`);
  t.throws(() => loadUsers(file), { message: /users\.yaml:3: Bob@Example\.test: duplicate of bob@example\.test/ });
});

t.test('setUser/removeUser: atomic rewrite, mode 0640, comments kept, names lower-cased', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'users.yaml');
  const h1 = await hashPassword('one');
  const h2 = await hashPassword('two');
  t.equal(await setUser(file, 'Carol@Example.test', h1), 'added');
  t.equal(statSync(file).mode & 0o777, 0o640);
  t.match(readFileSync(file, 'utf8'), /^# TuxHat local AUTH users/);
  t.equal(await setUser(file, 'dave@example.test', h1), 'added');
  t.equal(await setUser(file, 'CAROL@example.test', h2), 'updated');
  let db = loadUsers(file);
  t.same([...db.users.keys()], ['carol@example.test', 'dave@example.test']);
  t.equal(await verifyPassword(db, 'carol@example.test', 'two'), true, 'updated hash is in effect');

  writeFileSync(file, `# kept comment\n${readFileSync(file, 'utf8')}`);
  t.equal(await removeUser(file, 'Dave@example.test'), true);
  t.equal(await removeUser(file, 'dave@example.test'), false);
  t.equal(await removeUser(join(dir, 'absent.yaml'), 'dave@example.test'), false);
  t.notOk(existsSync(join(dir, 'absent.yaml')));
  db = loadUsers(file);
  t.same([...db.users.keys()], ['carol@example.test']);
  t.match(readFileSync(file, 'utf8'), /# kept comment/);
  t.same(readdirSync(dir), ['users.yaml'], 'no temp files left behind');
});

t.test('a broken users file is refused, never overwritten', async (t) => {
  const file = join(t.testdir({}), 'users.yaml');
  writeFileSync(file, 'a@example.test: not-a-hash\n');
  await t.rejects(setUser(file, 'b@example.test', await hashPassword('x')), { name: 'ConfigError', message: /users\.yaml:1: a@example\.test: expected a hash/ });
  t.equal(readFileSync(file, 'utf8'), 'a@example.test: not-a-hash\n');
  await t.rejects(setUser(file, 'b@example.test', 'plain'), /malformed hash/);
});
