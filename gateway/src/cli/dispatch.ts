/*
 * cli/dispatch.ts — `tuxhat`: parse the command line, pick the command, report errors.
 *
 * Input: argv (without node and script) and a CliIo. Output: the exit status — 0 ok, 1 failed,
 * 2 usage error. User errors are one line on stderr, never a stack trace. The command table
 * below is the only list of commands; --help is generated from it.
 * Does not: exit the process or touch process.* (main.ts does), so tests run it in-process.
 * Runs in the `tuxhat` process.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE } from '../config/index.js';
import type { Command, CommandContext, OptionName, Options } from './command.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, type CliIo } from './io.js';

/**
 * A command's module is loaded when the command runs, not at start-up: every gateway process
 * (primary and each receiver) starts through this file for `tuxhat run`, and loading undici,
 * the appliance generators and the console for it cost ~30 MB per process (bench/: the 1,000
 * idle sessions floor).
 */
function lazy<M>(load: () => Promise<M>, name: keyof M): Command['run'] {
  return async (ctx: CommandContext) => ((await load())[name] as unknown as Command['run'])(ctx);
}
const admin = () => import('./admin-commands.js');
const appliance = () => import('./appliance-commands.js');
const config = () => import('./config-commands.js');
const users = () => import('./user-commands.js');
const daemon = () => import('./run-command.js');
const dkim = () => import('./dkim-commands.js');
const quarantine = () => import('./quarantine-commands.js');
const rules = () => import('./rules-commands.js');
const policyState = () => import('./policy-state-commands.js');
const spam = () => import('./spam-commands.js');

const OPTION_SPEC = {
  config: { type: 'string', short: 'c' },
  socket: { type: 'string', short: 's' },
  file: { type: 'string', short: 'f' },
  state: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  selector: { type: 'string' },
  algorithm: { type: 'string' },
  dir: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  ip: { type: 'string' },
  direction: { type: 'string' },
  user: { type: 'string' },
  listener: { type: 'string' },
  at: { type: 'string' },
  since: { type: 'string' },
  rules: { type: 'string' },
  domain: { type: 'string' },
  promote: { type: 'boolean' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

const OPTION_HELP: ReadonlyArray<readonly [string, string]> = [
  ['-c, --config FILE', 'configuration file (see "Configuration file" below)'],
  ['-s, --socket PATH', "the running gateway's admin socket (default: admin.socket of the config)"],
  ['-f, --file FILE', 'users file for `user` commands (default: usersFile of the config)'],
  ['    --state STATE', 'queue list: only incoming, deferred, hold or corrupt; scan/learn: the state directory (default paths.state)'],
  ['    --json', 'machine-readable output (status, queue list/show, trace, user list)'],
  ['    --timeout SEC', 'give up on the gateway after SEC seconds (default 30)'],
  ['    --selector S', 'dkim keygen: the DKIM selector (default sYYYYMM plus rsa or ed)'],
  ['    --algorithm A', 'dkim keygen: rsa (2048 bit, the default) or ed25519'],
  ['    --dir DIR', 'dkim keygen: the keys directory (default: dkim.keysDir of the config)'],
  ['    --rules FILE', 'rules: also this rule file (replay: only this file)'],
  ['    --from, --to, --ip', 'rules test: envelope sender, recipients (comma-separated), client IP'],
  ['    --direction in|out', 'rules test: the direction (default in); also --user, --listener, --at ISO-TIME'],
  ['    --since AGE', 'rules replay: how far back, e.g. 7d, 24h (default 7d)'],
  ['    --domain D', 'learn: also train the recipient domain D\'s own Bayes counts'],
  ['    --dir DIR', 'dkim keygen/check/rotate: the keys directory (default: dkim.keysDir of the config)'],
  ['    --promote', 'dkim rotate: make the staged next keys active (their DNS records must match)'],
  ['    --force', 'dkim rotate --promote: even when a next key\'s record does not match'],
  ['-h, --help', 'show this help'],
  ['-V, --version', 'show the version'],
];

const ADMIN: readonly OptionName[] = ['config', 'socket', 'timeout'];

const helpCommand: Command = {
  words: ['help'], synopsis: '', summary: 'show this help', minArgs: 0, maxArgs: 0, options: [],
  run: async ({ io }) => {
    io.stdout.write(helpText());
    return EXIT_OK;
  },
};

const COMMANDS: readonly Command[] = [
  { words: ['run'], synopsis: '', summary: 'start the gateway daemon in the foreground', minArgs: 0, maxArgs: 0, options: ['config'], run: lazy(daemon, 'runCommand') },
  { words: ['status'], synopsis: '', summary: 'version, uptime, workers, listeners and queue counts', minArgs: 0, maxArgs: 0, options: [...ADMIN, 'json'], run: lazy(admin, 'statusCommand') },
  { words: ['queue', 'list'], synopsis: '', summary: 'list queued messages like postqueue -p', minArgs: 0, maxArgs: 0, options: [...ADMIN, 'json', 'state'], run: lazy(admin, 'queueListCommand') },
  { words: ['queue', 'show'], synopsis: 'QID', summary: "one message's envelope and per-recipient state", minArgs: 1, maxArgs: 1, options: [...ADMIN, 'json'], run: lazy(admin, 'queueShowCommand') },
  { words: ['queue', 'flush'], synopsis: '[QID]', summary: 'try delivery now: one message, or every queued message', minArgs: 0, maxArgs: 1, options: ADMIN, run: lazy(admin, 'queueFlushCommand') },
  { words: ['queue', 'hold'], synopsis: 'QID', summary: 'put a message on hold: no delivery until released', minArgs: 1, maxArgs: 1, options: ADMIN, run: lazy(admin, 'queueHoldCommand') },
  { words: ['queue', 'release'], synopsis: 'QID', summary: 'release a message from hold', minArgs: 1, maxArgs: 1, options: ADMIN, run: lazy(admin, 'queueReleaseCommand') },
  { words: ['queue', 'delete'], synopsis: 'QID', summary: 'delete a message from the queue', minArgs: 1, maxArgs: 1, options: ADMIN, run: lazy(admin, 'queueDeleteCommand') },
  { words: ['trace'], synopsis: 'QID', summary: "a message's story: verdict, symbols, delivery outcomes", minArgs: 1, maxArgs: 1, options: [...ADMIN, 'json'], run: lazy(admin, 'traceCommand') },
  { words: ['reload'], synopsis: '', summary: 'reload the configuration (a bad one is refused)', minArgs: 0, maxArgs: 0, options: ADMIN, run: lazy(admin, 'reloadCommand') },
  { words: ['reputation', 'show'], synopsis: 'IP|NETWORK|DOMAIN', summary: 'learnt reputation of a client network or a sender/DKIM domain', minArgs: 1, maxArgs: 1, options: [...ADMIN, 'json'], run: lazy(policyState, 'reputationShowCommand') },
  { words: ['reputation', 'reset'], synopsis: 'IP|NETWORK|DOMAIN', summary: 'forget what was learnt about a network or domain', minArgs: 1, maxArgs: 1, options: ADMIN, run: lazy(policyState, 'reputationResetCommand') },
  { words: ['greylist', 'list'], synopsis: '', summary: 'greylist triplets: network, sender, recipient, state', minArgs: 0, maxArgs: 0, options: [...ADMIN, 'json'], run: lazy(policyState, 'greylistListCommand') },
  { words: ['greylist', 'release'], synopsis: 'IP|NETWORK|ADDRESS|DOMAIN', summary: 'let waiting greylisted triplets pass at once', minArgs: 1, maxArgs: 1, options: ADMIN, run: lazy(policyState, 'greylistReleaseCommand') },
  { words: ['config', 'check'], synopsis: '[FILE]', summary: 'validate a configuration file (and its users file)', minArgs: 0, maxArgs: 1, options: ['config'], run: lazy(config, 'configCheckCommand') },
  { words: ['config', 'defaults'], synopsis: '', summary: 'print the embedded default configuration as YAML', minArgs: 0, maxArgs: 0, options: [], run: lazy(config, 'configDefaultsCommand') },
  { words: ['user', 'add'], synopsis: 'ADDRESS', summary: 'add a local AUTH user or change its password (from stdin)', minArgs: 1, maxArgs: 1, options: ['config', 'file'], run: lazy(users, 'userAddCommand') },
  { words: ['user', 'remove'], synopsis: 'ADDRESS', summary: 'remove a local AUTH user', minArgs: 1, maxArgs: 1, options: ['config', 'file'], run: lazy(users, 'userRemoveCommand') },
  { words: ['user', 'list'], synopsis: '', summary: 'list local AUTH users', minArgs: 0, maxArgs: 0, options: ['config', 'file', 'json'], run: lazy(users, 'userListCommand') },
  { words: ['quarantine', 'list'], synopsis: '[RECIPIENT]', summary: 'list quarantined messages (those held for one recipient)', minArgs: 0, maxArgs: 1, options: [...ADMIN, 'json'], run: lazy(quarantine, 'quarantineListCommand') },
  { words: ['quarantine', 'show'], synopsis: 'QID', summary: "a quarantined message's verdict, recipients, history and headers", minArgs: 1, maxArgs: 1, options: [...ADMIN, 'json'], run: lazy(quarantine, 'quarantineShowCommand') },
  { words: ['quarantine', 'release'], synopsis: 'QID [RECIPIENT...]', summary: 'deliver a quarantined message to its (or the given) held recipients', minArgs: 1, maxArgs: 1000, options: [...ADMIN, 'json'], run: lazy(quarantine, 'quarantineReleaseCommand') },
  { words: ['quarantine', 'delete'], synopsis: 'QID [RECIPIENT...]', summary: 'delete a quarantined message (for the given recipients)', minArgs: 1, maxArgs: 1000, options: [...ADMIN, 'json'], run: lazy(quarantine, 'quarantineDeleteCommand') },
  { words: ['quarantine', 'learn'], synopsis: 'spam|ham QID', summary: 'train the Bayes classifier with a quarantined message (who trained what is recorded)', minArgs: 2, maxArgs: 2, options: [...ADMIN, 'json'], run: lazy(quarantine, 'quarantineLearnCommand') },
  { words: ['dkim', 'keygen'], synopsis: 'DOMAIN', summary: 'create a DKIM signing key and print its DNS TXT record', minArgs: 1, maxArgs: 1, options: ['config', 'selector', 'algorithm', 'dir'], run: lazy(dkim, 'dkimKeygenCommand') },
  { words: ['rules', 'check'], synopsis: '', summary: 'validate the rule files (rules.dirs of the config)', minArgs: 0, maxArgs: 0, options: ['config', 'rules', 'json'], run: lazy(rules, 'rulesCheckCommand') },
  { words: ['rules', 'test'], synopsis: 'MESSAGE', summary: 'which rules match a message file and what they would do (sends nothing)', minArgs: 1, maxArgs: 1, options: ['config', 'rules', 'from', 'to', 'ip', 'direction', 'user', 'listener', 'at'], run: lazy(rules, 'rulesTestCommand') },
  { words: ['rules', 'replay'], synopsis: '', summary: 'how many past messages (verdict records) the rules would match', minArgs: 0, maxArgs: 0, options: ['config', 'rules', 'since', 'json'], run: lazy(rules, 'rulesReplayCommand') },
  { words: ['dkim', 'check'], synopsis: '[DOMAIN]', summary: 'check the DKIM keys\' DNS records and the SPF and DMARC records', minArgs: 0, maxArgs: 1, options: ['config', 'dir', 'json'], run: lazy(dkim, 'dkimCheckCommand') },
  { words: ['dkim', 'rotate'], synopsis: 'DOMAIN', summary: 'stage a next DKIM key (publish it), or --promote it to active', minArgs: 1, maxArgs: 1, options: ['config', 'selector', 'algorithm', 'dir', 'promote', 'force'], run: lazy(dkim, 'dkimRotateCommand') },
  { words: ['appliance', 'nftables'], synopsis: '[APPLIANCE_FILE]', summary: 'print the appliance firewall generated from the config and appliance.yaml', minArgs: 0, maxArgs: 1, options: ['config'], run: lazy(appliance, 'applianceNftablesCommand') },
  { words: ['appliance', 'rsyslog'], synopsis: '[APPLIANCE_FILE]', summary: 'print the syslog export (rsyslog) generated from appliance.yaml', minArgs: 0, maxArgs: 1, options: [], run: lazy(appliance, 'applianceRsyslogCommand') },
  { words: ['appliance', 'check'], synopsis: '[APPLIANCE_FILE]', summary: 'validate the configuration and the appliance settings file', minArgs: 0, maxArgs: 1, options: ['config'], run: lazy(appliance, 'applianceCheckCommand') },
  { words: ['scan'], synopsis: 'FILE|DIR...', summary: 'score messages (files, mbox, maildir) with the content pipeline, no daemon needed', minArgs: 1, maxArgs: Number.POSITIVE_INFINITY, options: ['config', 'state', 'json'], run: lazy(spam, 'scanCommand') },
  { words: ['learn'], synopsis: 'spam|ham PATH...', summary: 'train the Bayes classifier on messages (files, mbox, maildir)', minArgs: 2, maxArgs: Number.POSITIVE_INFINITY, options: ['config', 'state', 'domain'], run: lazy(spam, 'learnCommand') },
  helpCommand,
];

/** The package version, found by walking up from this file (src/ and dist/ sit at different depths). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tuxhat-gateway' && pkg.version) return pkg.version;
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

export function helpText(): string {
  const left = (c: Command): string => [...c.words, c.synopsis].filter((s) => s !== '').join(' ');
  const width = Math.max(...COMMANDS.map((c) => left(c).length), ...OPTION_HELP.map(([o]) => o.length)) + 2;
  return [
    'Usage: tuxhat COMMAND [ARGS] [OPTIONS]',
    '',
    'TuxHat Edge Gateway: the daemon and the postmaster\'s tool.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${left(c).padEnd(width)}${c.summary}`),
    '',
    'Options:',
    ...OPTION_HELP.map(([o, text]) => `  ${o.padEnd(width)}${text}`),
    '',
    'Configuration file:',
    `  --config FILE if given; otherwise ${DEFAULT_CONFIG_FILE} if it exists; otherwise the`,
    '  embedded development defaults (see `tuxhat config defaults`).',
    '',
    'Exit status: 0 success, 1 failure, 2 usage error.',
    '',
  ].join('\n');
}

function parse(argv: readonly string[]): { opts: Options; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: OPTION_SPEC, allowPositionals: true, strict: true });
    return { opts: values, positionals };
  } catch (err) {
    // node's messages continue with advice about `--`; the first sentence is the useful part.
    const message = (err as Error).message.split('. ')[0] ?? 'invalid arguments';
    throw new UsageError(message.replace(/\.$/, ''));
  }
}

function findCommand(positionals: readonly string[]): { command: Command; args: string[] } {
  const [first, second] = positionals;
  const group = COMMANDS.filter((c) => c.words[0] === first);
  if (group.length === 0) throw new UsageError(`unknown command: ${first}`);
  const single = group.find((c) => c.words.length === 1);
  if (single) return { command: single, args: positionals.slice(1) };
  const sub = group.find((c) => c.words[1] === second);
  const choices = group.map((c) => c.words[1]).join(', ');
  if (second === undefined) throw new UsageError(`${first} needs a subcommand: ${choices}`);
  if (!sub) throw new UsageError(`unknown command: ${first} ${second} (expected one of ${choices})`);
  return { command: sub, args: positionals.slice(2) };
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const { opts, positionals } = parse(argv);
  if (opts.help) {
    io.stdout.write(helpText());
    return EXIT_OK;
  }
  if (opts.version) {
    io.stdout.write(`tuxhat ${packageVersion()}\n`);
    return EXIT_OK;
  }
  if (positionals.length === 0) {
    io.stderr.write(helpText());
    return EXIT_USAGE;
  }
  const { command, args } = findCommand(positionals);
  const name = command.words.join(' ');
  for (const [option, value] of Object.entries(opts)) {
    if (value !== undefined && !command.options.includes(option as OptionName)) {
      throw new UsageError(`--${option} does not apply to ${name}`);
    }
  }
  if (args.length < command.minArgs) throw new UsageError(`${name} needs ${command.synopsis}`);
  if (args.length > command.maxArgs) throw new UsageError(`too many arguments for ${name}: ${args.slice(command.maxArgs).join(' ')}`);
  const ctx: CommandContext = { io, args, opts };
  return command.run(ctx);
}

/** Run one `tuxhat` command line; resolves with the exit status and never rejects. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    const e = err as { name?: string; message?: string };
    const message = e.message ?? String(err);
    if (e.name === 'UsageError') {
      io.stderr.write(`tuxhat: ${message}\nTry 'tuxhat --help'.\n`);
      return EXIT_USAGE;
    }
    // ConfigError's message is already the full explanation, one problem per line.
    io.stderr.write(e.name === 'ConfigError' ? `${message}\n` : `tuxhat: ${message}\n`);
    return EXIT_FAILURE;
  }
}
