import t from 'tap';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadUsers, verifyPassword } from '../../../gateway/src/listen/users.js';
import { fakeTty, tuxhat } from './fixtures/capture.js';

t.test('user add from a pipe, list, update, remove', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'users.yaml');
  const F = ['--file', file];
  const added = await tuxhat(['user', 'add', 'Alice@Example.test', ...F], { input: 'first pass\n' });
  t.same(added, { code: 0, stdout: `${file}: added alice@example.test\n`, stderr: '' });
  t.equal(statSync(file).mode & 0o777, 0o640);
  t.notMatch(readFileSync(file, 'utf8'), /first pass/, 'never the password itself');
  t.equal(await verifyPassword(loadUsers(file), 'alice@example.test', 'first pass'), true, 'only the first line, without the newline');

  t.equal((await tuxhat(['user', 'add', 'bob@example.test', ...F], { input: 'pw\r\nignored\n' })).code, 0);
  t.equal(await verifyPassword(loadUsers(file), 'bob@example.test', 'pw'), true, 'CRLF stripped');
  t.same(await tuxhat(['user', 'list', ...F]), { code: 0, stdout: 'alice@example.test\nbob@example.test\n', stderr: '' });
  t.same(JSON.parse((await tuxhat(['user', 'list', '--json', ...F])).stdout), ['alice@example.test', 'bob@example.test']);

  t.same(await tuxhat(['user', 'add', 'ALICE@example.test', ...F], { input: 'second' }), { code: 0, stdout: `${file}: updated alice@example.test\n`, stderr: '' });
  t.equal(await verifyPassword(loadUsers(file), 'alice@example.test', 'second'), true);

  t.same(await tuxhat(['user', 'remove', 'bob@example.test', ...F]), { code: 0, stdout: `${file}: removed bob@example.test\n`, stderr: '' });
  t.same(await tuxhat(['user', 'remove', 'bob@example.test', ...F]), { code: 1, stdout: '', stderr: `tuxhat: bob@example.test is not in ${file}\n` });
  t.same(await tuxhat(['user', 'list', ...F]), { code: 0, stdout: 'alice@example.test\n', stderr: '' });
});

t.test('user add refuses empty passwords and bad addresses; nothing is written', async (t) => {
  const file = join(t.testdir({}), 'users.yaml');
  t.same(await tuxhat(['user', 'add', 'a@example.test', '--file', file], { input: '' }), { code: 1, stdout: '', stderr: 'tuxhat: empty password; nothing changed\n' });
  t.same(await tuxhat(['user', 'add', 'a@example.test', '--file', file], { input: '\nsecond line\n' }), { code: 1, stdout: '', stderr: 'tuxhat: empty password; nothing changed\n' });
  const bad = await tuxhat(['user', 'add', 'not an address', '--file', file], { input: 'pw\n' });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^tuxhat: not an address: not an address\n/);
  const big = await tuxhat(['user', 'add', 'a@example.test', '--file', file], { input: 'x'.repeat(5000) });
  t.match(big, { code: 1, stderr: /longer than 4096 bytes/ });
  t.same(await tuxhat(['user', 'list', '--file', file]), { code: 0, stdout: '', stderr: `tuxhat: ${file} does not exist yet; no users\n` });
});

t.test('user add on a terminal: no echo, asked twice', async (t) => {
  const file = join(t.testdir({}), 'users.yaml');
  const tty = fakeTty(['s3cr\u007fret\r', 'wrong\u0015s3cret\r']);
  const r = await tuxhat(['user', 'add', 'c@example.test', '--file', file], { stdin: tty });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, 'New password for c@example.test: \nAgain: \n', 'prompts only; the password is not echoed');
  t.same(tty.rawModes, [true, false, true, false], 'raw mode is always switched back');
  t.equal(await verifyPassword(loadUsers(file), 'c@example.test', 's3cret'), true, 'backspace and Ctrl-U edit the input');

  const pasted = fakeTty(['pw1\rpw1\r']);
  t.equal((await tuxhat(['user', 'add', 'd@example.test', '--file', file], { stdin: pasted })).code, 0, 'both answers in one chunk');
  t.equal(await verifyPassword(loadUsers(file), 'd@example.test', 'pw1'), true);

  const mismatch = await tuxhat(['user', 'add', 'e@example.test', '--file', file], { stdin: fakeTty(['one\r', 'two\r']) });
  t.match(mismatch, { code: 1, stderr: /tuxhat: the passwords do not match; nothing changed\n$/ });
  const cancelled = await tuxhat(['user', 'add', 'e@example.test', '--file', file], { stdin: fakeTty(['ab\u0003']) });
  t.match(cancelled, { code: 1, stderr: /tuxhat: cancelled\n$/ });
  t.notOk(loadUsers(file).users.has('e@example.test'));
});

t.test('the users file comes from --file, else the config usersFile', async (t) => {
  const dir = t.testdir({});
  const users = join(dir, 'users.yaml');
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, `usersFile: ${users}\n`);
  t.equal((await tuxhat(['user', 'add', 'f@example.test', '--config', config], { input: 'pw' })).code, 0);
  t.same(await tuxhat(['user', 'list'], { defaultConfigFile: config }), { code: 0, stdout: 'f@example.test\n', stderr: '' });
  const none = await tuxhat(['user', 'list']);
  t.same(none, { code: 1, stdout: '', stderr: 'tuxhat: no users file: give --file FILE or set usersFile in the configuration\n' });
  writeFileSync(join(dir, 'empty.yaml'), '');
  const noKey = await tuxhat(['user', 'list', '--config', join(dir, 'empty.yaml')]);
  t.equal(noKey.stderr, `tuxhat: no users file: give --file FILE or set usersFile in ${join(dir, 'empty.yaml')}\n`);
});
