import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configSchema } from '../../../gateway/src/config/index.js';
import { resolveConfigFile } from '../../../gateway/src/cli/index.js';
import { tuxhat } from './fixtures/capture.js';

const COMMANDS = [
  'run', 'status', 'queue list', 'queue show QID', 'queue flush [QID]', 'queue hold QID', 'queue release QID',
  'queue delete QID', 'trace QID', 'reload', 'config check [FILE]', 'config defaults', 'user add ADDRESS',
  'user remove ADDRESS', 'user list', 'dkim keygen DOMAIN', 'help',
];

t.test('--help and help list every command with a description, and the config rule', async (t) => {
  const a = await tuxhat(['--help']);
  const b = await tuxhat(['help']);
  t.equal(a.code, 0);
  t.equal(a.stdout, b.stdout);
  for (const c of COMMANDS) t.match(a.stdout, new RegExp(`^  ${c.replace(/[[\]]/g, '\\$&')} +\\S.+$`, 'm'), c);
  t.match(a.stdout, /--config FILE if given; otherwise \/etc\/tuxhat\/gateway\.yaml if it exists; otherwise the\n {2}embedded development defaults/);
  t.equal((await tuxhat(['queue', 'list', '-h'])).stdout, a.stdout, '--help wins anywhere');
});

t.test('--version prints the package version', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.same(await tuxhat(['--version']), { code: 0, stdout: `tuxhat ${pkg.version}\n`, stderr: '' });
  t.equal((await tuxhat(['-V'])).stdout, `tuxhat ${pkg.version}\n`);
});

t.test('usage errors exit 2 with one line and a hint', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /^Usage: tuxhat COMMAND/],
    [['frobnicate'], /^tuxhat: unknown command: frobnicate\nTry 'tuxhat --help'\.\n$/],
    [['queue'], /^tuxhat: queue needs a subcommand: list, show, flush, hold, release, delete\n/],
    [['queue', 'purge'], /^tuxhat: unknown command: queue purge \(expected one of list, show/],
    [['status', '--bogus'], /^tuxhat: Unknown option '--bogus'\n/],
    [['status', '--state', 'hold'], /^tuxhat: --state does not apply to status\n/],
    [['config', 'defaults', '--json'], /^tuxhat: --json does not apply to config defaults\n/],
    [['trace'], /^tuxhat: trace needs QID\n/],
    [['reload', 'now'], /^tuxhat: too many arguments for reload: now\n/],
    [['config', 'check', 'a.yaml', '--config', 'b.yaml'], /^tuxhat: give the file either as an argument or with --config, not both\n/],
    [['status', '--socket'], /^tuxhat: Option '-s, --socket <value>' argument missing\n/],
  ];
  for (const [argv, stderr] of cases) {
    const r = await tuxhat(argv);
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.stderr, stderr, argv.join(' '));
    t.equal(r.stdout, '', argv.join(' '));
  }
});

t.test('config resolution: --config, else the default file if it exists, else embedded defaults', async (t) => {
  const dir = t.testdir({ 'gateway.yaml': 'hostname: gw.example.test\n' });
  const file = join(dir, 'gateway.yaml');
  t.equal(resolveConfigFile('given.yaml', file), 'given.yaml');
  t.equal(resolveConfigFile(undefined, file), file);
  t.equal(resolveConfigFile(undefined, join(dir, 'absent.yaml')), null);
});

t.test('config check', async (t) => {
  const dir = t.testdir({
    'good.yaml': 'hostname: gw.example.test\n',
    'bad.yaml': 'hostname: gw.example.test\nlisteners:\n  mx:\n    kind: mx\n    port: seventy\n',
    'users-bad.yaml': 'usersFile: USERS\n',
    'users.yaml': 'a@example.test: nope\n',
  });
  const good = join(dir, 'good.yaml');
  t.same(await tuxhat(['config', 'check', good]), { code: 0, stdout: `${good}: ok\n`, stderr: '' });
  t.same(await tuxhat(['config', 'check', '--config', good]), { code: 0, stdout: `${good}: ok\n`, stderr: '' });
  t.same(await tuxhat(['config', 'check'], { defaultConfigFile: good }), { code: 0, stdout: `${good}: ok\n`, stderr: '' });
  t.same(await tuxhat(['config', 'check']), { code: 0, stdout: '<embedded defaults>: ok\n', stderr: '' });
  const bad = join(dir, 'bad.yaml');
  const r = await tuxhat(['config', 'check', bad]);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, new RegExp(`^invalid configuration in ${bad}:\\n  ${bad}:5: listeners\\.mx\\.port: .*number`));
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const missing = await tuxhat(['config', 'check', join(dir, 'absent.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /absent\.yaml: cannot read: ENOENT/);
  const withUsers = join(dir, 'users-bad.yaml');
  writeFileSync(withUsers, `usersFile: ${join(dir, 'users.yaml')}\n`);
  const u = await tuxhat(['config', 'check', withUsers]);
  t.equal(u.code, 1);
  t.match(u.stderr, /users\.yaml:1: a@example\.test: expected a hash like/);
});

t.test('config defaults prints the schema defaults as YAML', async (t) => {
  const r = await tuxhat(['config', 'defaults']);
  t.equal(r.code, 0);
  t.same(parse(r.stdout), configSchema.parse({}));
  t.match(r.stdout, /socket: \.\/var\/run\/tuxhat\.sock/);
});

t.test('run hands the resolved config file to the daemon', async (t) => {
  const seen: Array<string | null> = [];
  const startDaemon = async (opts: { configFile: string | null }) => {
    seen.push(opts.configFile);
  };
  const dir = t.testdir({ 'gateway.yaml': '' });
  const file = join(dir, 'gateway.yaml');
  t.equal((await tuxhat(['run', '--config', 'x.yaml'], { startDaemon })).code, 0);
  t.equal((await tuxhat(['run'], { startDaemon, defaultConfigFile: file })).code, 0);
  t.equal((await tuxhat(['run'], { startDaemon })).code, 0);
  t.same(seen, ['x.yaml', file, null]);
  const failing = await tuxhat(['run'], { startDaemon: async () => { throw new Error('cannot bind 127.0.0.1:2525: address in use'); } });
  t.same(failing, { code: 1, stdout: '', stderr: 'tuxhat: cannot bind 127.0.0.1:2525: address in use\n' });
});
