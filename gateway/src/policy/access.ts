/*
 * policy/access.ts — access lists: who is allowed, denied or scored, at three levels.
 *
 * Levels, most specific first: the recipient's own list (users), its domain's (domains), then
 * global. The first level with a matching allow or deny entry decides (a user's welcome list
 * beats a global block, a domain's block beats a global allow); score entries of the levels
 * looked at add up. Within one level a deny beats an allow, and within one list the first
 * matching entry counts. Lists come from the config and from list files (same layout), read
 * once per loaded config, so a reload (new workers, new config) reads them again.
 *
 * Evaluated at RCPT (like Postfix's smtpd_delay_reject), because the user and domain levels need
 * the recipient. The verdict is memoised per transaction and recipient, so other checks of the
 * same phase (DNSBL threshold, greylisting) can ask `accessVerdict()` without a second look-up.
 */
import { readFileSync } from 'node:fs';
import { BlockList, isIP, SocketAddress } from 'node:net';
import { ConfigError, parseYamlText, type Config } from '../config/index.js';
import type { Hit, Session } from '../core/index.js';
import { addNetwork } from '../core/index.js';
import type { ResolveFn } from '../dns/index.js';
import { splitAddress } from './address.js';
import { clientDns } from './client-dns.js';
import { then, type Maybe } from './maybe.js';
import { accessFileSchema, type AccessEntry, type AccessFile, type AccessLists } from './config.js';
import { policyScores } from './scores.js';
import { transactionMemo } from './session-state.js';

/** The client as matchers see it: the address parsed once per evaluation (BlockList.check on a string builds a SocketAddress every call). */
export interface ClientKey {
  readonly ip: SocketAddress;
  readonly ptr: string | null;
}
/** An envelope address as matchers see it: lower case, split once. */
export interface AddressKey {
  readonly raw: string;
  readonly lower: string;
  readonly domain: string;
}
type ClientMatch = (c: ClientKey) => boolean;
type AddressMatch = (a: AddressKey) => boolean;

const addresses = new Map<string, SocketAddress>();

export function clientKey(ip: string, ptr: string | null): ClientKey {
  // A SocketAddress is dearer than the whole list check; clients come back.
  let address = addresses.get(ip);
  if (!address) {
    address = new SocketAddress({ address: ip, family: isIP(ip) === 6 ? 'ipv6' : 'ipv4' });
    if (addresses.size >= 10_000) addresses.clear();
    addresses.set(ip, address);
  }
  return { ip: address, ptr };
}

export function addressKey(address: string): AddressKey {
  const lower = address.toLowerCase();
  return { raw: address, lower, domain: splitAddress(lower)?.domain ?? '' };
}

interface CompiledEntry<M> {
  readonly entry: AccessEntry;
  readonly test: M;
  /** An IP/CIDR client entry: tested only when the level's union of them matched. */
  readonly isIp?: boolean;
  /** Where the entry is found without testing it (see FirstMatch), or null: tested in order. */
  readonly index: IndexKey;
}

interface CompiledLevel {
  readonly clients: CompiledEntry<ClientMatch>[];
  /** Every IP/CIDR client entry of the level in one list: one check instead of one per entry. */
  readonly clientIps: BlockList | null;
  readonly senders: CompiledEntry<AddressMatch>[];
  readonly recipients: CompiledEntry<AddressMatch>[];
  /** The first matching entry of each list, found through an index (see FirstMatch). */
  readonly firstClient: FirstMatch<ClientKey, ClientMatch>;
  readonly firstSender: FirstMatch<AddressKey, AddressMatch>;
  readonly firstRecipient: FirstMatch<AddressKey, AddressMatch>;
  /** Some client entry needs the PTR name (so look it up only then). */
  readonly needsPtr: boolean;
}

export interface CompiledAccess {
  readonly global: CompiledLevel;
  readonly domains: ReadonlyMap<string, CompiledLevel>;
  readonly users: ReadonlyMap<string, CompiledLevel>;
  readonly needsPtr: boolean;
  readonly empty: boolean;
}

export interface AccessVerdict {
  readonly action: 'allow' | 'deny' | 'none';
  /** Which level and list decided, e.g. "user alice@corp.test senders: *.partner.test". */
  readonly detail?: string;
  readonly reply?: string;
  readonly hits: Hit[];
}

function regexOf(match: string): RegExp | null {
  const m = /^\/(.*)\/([imsu]*)$/s.exec(match);
  return m ? new RegExp(m[1]!, m[2]) : null;
}

/** What a client entry is: a PTR regex, an IP/CIDR (its list), a PTR `.suffix`, or a PTR name. Read once for the matcher and the index. */
type ClientPattern = { kind: 'regex'; re: RegExp } | { kind: 'ip'; list: BlockList } | { kind: 'suffix' | 'name'; value: string };

function clientPattern(match: string): ClientPattern {
  const re = regexOf(match);
  if (re) return { kind: 'regex', re };
  const list = new BlockList();
  if (addNetwork(list, match)) return { kind: 'ip', list };
  const name = match.toLowerCase().replace(/\.$/, '');
  if (name.startsWith('*.') || name.startsWith('.')) return { kind: 'suffix', value: name.slice(name.indexOf('.')) };
  return { kind: 'name', value: name };
}

export function compileClient(match: string): { test: ClientMatch; needsPtr: boolean; isIp?: boolean } {
  return clientMatcher(clientPattern(match));
}

function clientMatcher(p: ClientPattern): { test: ClientMatch; needsPtr: boolean; isIp?: boolean } {
  switch (p.kind) {
    case 'regex': return { test: (c) => c.ptr !== null && p.re.test(c.ptr), needsPtr: true };
    case 'ip': return { test: (c) => p.list.check(c.ip), needsPtr: false, isIp: true };
    case 'suffix': return { test: (c) => c.ptr !== null && c.ptr.endsWith(p.value), needsPtr: true };
    case 'name': return { test: (c) => c.ptr === p.value, needsPtr: true };
  }
}

/** What an address entry is: a regex, a `local@` part, an address, a `.suffix` or a domain. Read once for the matcher and the index. */
type AddressPattern = { kind: 'regex'; re: RegExp } | { kind: 'local' | 'address' | 'suffix' | 'domain'; value: string };

function addressPattern(match: string): AddressPattern {
  const re = regexOf(match);
  if (re) return { kind: 'regex', re };
  const m = match.toLowerCase();
  if (m.endsWith('@')) return { kind: 'local', value: m };
  if (m.includes('@')) return { kind: 'address', value: m };
  if (m.startsWith('*.') || m.startsWith('.')) return { kind: 'suffix', value: m.slice(m.indexOf('.')) };
  return { kind: 'domain', value: m };
}

export function compileAddress(match: string): AddressMatch {
  return addressMatcher(addressPattern(match));
}

function addressMatcher(p: AddressPattern): AddressMatch {
  switch (p.kind) {
    case 'regex': return (a) => p.re.test(a.raw);
    case 'local': return (a) => a.lower.startsWith(p.value);
    case 'address': return (a) => a.lower === p.value;
    case 'suffix': return (a) => a.domain.endsWith(p.value);
    case 'domain': return (a) => a.domain === p.value;
  }
}

/**
 * The first entry of a list that matches, in list order, without testing every entry: exact
 * names and addresses, `user@` prefixes and `*.domain` suffixes are looked up in maps (a suffix
 * by walking the name's parent domains), and only regexes and IP/CIDR entries are tested one by
 * one, and only those before the best indexed candidate. Lists of thousands of entries cost a
 * few map look-ups per recipient.
 */
export type FirstMatch<S, M> = (subject: S, ipListed?: boolean) => CompiledEntry<M> | undefined;

/** Where an entry is found: under an exact key, under a `.suffix` key, or by testing it (null). */
type IndexKey = { suffix: boolean; key: string } | null;

function indexedFirstMatch<S, M>(entries: readonly CompiledEntry<M>[],
  keysOf: (s: S) => { exact: readonly string[]; name: string | null }, test: (e: CompiledEntry<M>, s: S, ipListed: boolean) => boolean): FirstMatch<S, M> {
  const exact = new Map<string, number>();
  const suffix = new Map<string, number>();
  const scan: number[] = [];
  entries.forEach((e, i) => {
    const ix = e.index;
    if (ix === null) scan.push(i);
    else {
      const map = ix.suffix ? suffix : exact;
      if (!map.has(ix.key)) map.set(ix.key, i);
    }
  });
  return (subject, ipListed = false) => {
    let best = Infinity;
    const consider = (i: number | undefined) => { if (i !== undefined && i < best) best = i; };
    const k = keysOf(subject);
    if (exact.size > 0) for (const key of k.exact) consider(exact.get(key));
    if (k.name !== null && suffix.size > 0) {
      for (let dot = k.name.indexOf('.'); dot !== -1; dot = k.name.indexOf('.', dot + 1)) consider(suffix.get(k.name.slice(dot)));
    }
    for (const i of scan) {
      if (i > best) break;
      if (test(entries[i]!, subject, ipListed)) return entries[i];
    }
    return best === Infinity ? undefined : entries[best];
  };
}

/** Index keys (see addressFirstMatch): `@addr` for an address, `local@` for a local part, `domain`, `.suffix`. */
function addressIndex(p: AddressPattern): IndexKey {
  switch (p.kind) {
    case 'regex': return null;
    // `a@b@` and the like: tested, not looked up (the subject's key is cut at its first @).
    case 'local': return p.value.indexOf('@') === p.value.length - 1 ? { suffix: false, key: p.value } : null;
    case 'address': return { suffix: false, key: `@${p.value}` };
    case 'suffix': return { suffix: true, key: p.value };
    case 'domain': return { suffix: false, key: p.value };
  }
}

function addressFirstMatch(entries: readonly CompiledEntry<AddressMatch>[]): FirstMatch<AddressKey, AddressMatch> {
  return indexedFirstMatch(entries, (a: AddressKey) => {
    const at = a.lower.indexOf('@');
    return { exact: at === -1 ? [`@${a.lower}`, a.domain] : [`@${a.lower}`, a.lower.slice(0, at + 1), a.domain], name: a.domain };
  }, (e, a) => e.test(a));
}

/** Index keys (see clientFirstMatch): the PTR name, `.suffix`; IP/CIDR entries and regexes are tested. */
function clientIndex(p: ClientPattern): IndexKey {
  return p.kind === 'name' ? { suffix: false, key: p.value } : p.kind === 'suffix' ? { suffix: true, key: p.value } : null;
}

function clientFirstMatch(entries: readonly CompiledEntry<ClientMatch>[]): FirstMatch<ClientKey, ClientMatch> {
  return indexedFirstMatch(entries, (c: ClientKey) => ({ exact: c.ptr === null ? [] : [c.ptr], name: c.ptr }),
    (e, c, ipListed) => (e.isIp ? ipListed && e.test(c) : e.test(c)));
}

function compileLevel(lists: readonly AccessLists[]): CompiledLevel {
  let needsPtr = false;
  const clients: CompiledEntry<ClientMatch>[] = [];
  const ips = new BlockList();
  let anyIp = false;
  for (const l of lists) {
    for (const entry of l.clients) {
      const p = clientPattern(entry.match);
      const c = clientMatcher(p);
      needsPtr ||= c.needsPtr;
      if (c.isIp) anyIp = addNetwork(ips, entry.match) || anyIp;
      clients.push({ entry, test: c.test, isIp: c.isIp === true, index: clientIndex(p) });
    }
  }
  const address = (entry: AccessEntry): CompiledEntry<AddressMatch> => {
    const p = addressPattern(entry.match);
    return { entry, test: addressMatcher(p), index: addressIndex(p) };
  };
  const senders = lists.flatMap((l) => l.senders.map(address));
  const recipients = lists.flatMap((l) => l.recipients.map(address));
  return {
    clients,
    clientIps: anyIp ? ips : null,
    senders,
    recipients,
    firstClient: clientFirstMatch(clients),
    firstSender: addressFirstMatch(senders),
    firstRecipient: addressFirstMatch(recipients),
    needsPtr,
  };
}

/** Read a list file (same layout as `policy.access`); errors name FILE:LINE. */
export function readAccessFile(file: string): AccessFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`${file}: cannot read: ${(err as Error).message}`]);
  }
  return parseYamlText(text, file, accessFileSchema);
}

export function compileAccess(sources: readonly AccessFile[]): CompiledAccess {
  const level = (pick: (f: AccessFile) => AccessLists | undefined) => compileLevel(sources.map(pick).filter((l): l is AccessLists => l !== undefined));
  const keys = (pick: (f: AccessFile) => Record<string, AccessLists>) => new Set(sources.flatMap((f) => Object.keys(pick(f))));
  const domains = new Map([...keys((f) => f.domains)].map((d) => [d, level((f) => f.domains[d])] as const));
  const users = new Map([...keys((f) => f.users)].map((u) => [u, level((f) => f.users[u])] as const));
  const global = level((f) => f.global);
  const all = [global, ...domains.values(), ...users.values()];
  return {
    global, domains, users,
    needsPtr: all.some((l) => l.needsPtr),
    empty: all.every((l) => l.clients.length + l.senders.length + l.recipients.length === 0),
  };
}

const compiled = new WeakMap<Config, CompiledAccess>();

/** The config's lists plus its list files, compiled once per loaded config. */
export function accessOf(config: Config): CompiledAccess {
  let c = compiled.get(config);
  if (!c) {
    const a = config.policy.access;
    c = compileAccess([a, ...a.files.map(readAccessFile)]);
    compiled.set(config, c);
  }
  return c;
}

interface Subject {
  readonly ip: string;
  readonly ptr: string | null;
  readonly sender: string;
  readonly recipient: string;
}

/** Per level, what its CIDR union said of recent client addresses (clients come back; a BlockList check is a native call). */
const listedMemo = new WeakMap<CompiledLevel, Map<SocketAddress, boolean>>();

function ipListedIn(level: CompiledLevel, ip: SocketAddress): boolean {
  let memo = listedMemo.get(level);
  if (!memo) listedMemo.set(level, memo = new Map());
  let listed = memo.get(ip);
  if (listed === undefined) {
    listed = level.clientIps!.check(ip);
    if (memo.size >= 10_000) memo.clear();
    memo.set(ip, listed);
  }
  return listed;
}

/** Decide for one recipient (pure: PTR already looked up). */
export function evaluateAccess(access: CompiledAccess, s: Subject): AccessVerdict {
  const rcpt = s.recipient.toLowerCase();
  const domain = splitAddress(rcpt)?.domain;
  const user = access.users.size > 0 ? access.users.get(rcpt) : undefined;
  const dom = domain && access.domains.size > 0 ? access.domains.get(domain) : undefined;
  // Level names are built only for a match (they are in the hit's detail).
  const levels: ReadonlyArray<readonly [() => string, CompiledLevel | undefined]> = [
    [() => `user ${rcpt}`, user],
    [() => `domain ${domain ?? '?'}`, dom],
    [() => 'global', access.global],
  ];
  const scores = policyScores();
  const hits: Hit[] = [];
  const client = clientKey(s.ip, s.ptr);
  const sender = addressKey(s.sender);
  const recipient = addressKey(s.recipient);
  for (const [nameOf, level] of levels) {
    if (!level) continue;
    const matched: Array<[string, AccessEntry]> = [];
    const ipListed = level.clientIps !== null && ipListedIn(level, client.ip);
    const c = level.firstClient(client, ipListed);
    if (c) matched.push(['clients', c.entry]);
    if (s.sender !== '') {
      const snd = level.firstSender(sender);
      if (snd) matched.push(['senders', snd.entry]);
    }
    const r = level.firstRecipient(recipient);
    if (r) matched.push(['recipients', r.entry]);
    if (matched.length === 0) continue;
    const name = nameOf();
    for (const [list, e] of matched) {
      if (e.action === 'score') hits.push({ name: 'ACCESS_SCORE', score: e.score ?? scores.score('ACCESS_SCORE'), detail: `${name} ${list}: ${e.match}` });
    }
    const deny = matched.find(([, e]) => e.action === 'deny');
    if (deny) {
      const detail = `${name} ${deny[0]}: ${deny[1].match}`;
      return { action: 'deny', detail, ...(deny[1].reply ? { reply: deny[1].reply } : {}), hits: [...hits, scores.hit('ACCESS_DENY', detail)] };
    }
    const allow = matched.find(([, e]) => e.action === 'allow');
    if (allow) {
      const detail = `${name} ${allow[0]}: ${allow[1].match}`;
      return { action: 'allow', detail, hits: [...hits, scores.hit('ACCESS_ALLOW', detail)] };
    }
  }
  return { action: 'none', hits };
}

/**
 * The access verdict for the recipient being checked, once per transaction and recipient.
 * Other rcpt checks (DNSBL threshold, greylisting) await this to honour allow entries.
 */
export function accessVerdict(ctx: { config: Config; session: Session; envelope: { mailFrom: string }; recipient?: string; resolve: ResolveFn }): Maybe<AccessVerdict> {
  const access = accessOf(ctx.config);
  if (access.empty) return NO_VERDICT;
  const recipient = ctx.recipient ?? '';
  // The sender is part of the key: HELO and MAIL checks of the next transaction ask before
  // MAIL has reset the transaction memo.
  return transactionMemo(ctx.session, `access:${ctx.envelope.mailFrom.toLowerCase()}\0${recipient.toLowerCase()}`, () => {
    const evaluate = (ptr: string | null) => rememberedVerdict(access, { ip: ctx.session.clientIp, ptr, sender: ctx.envelope.mailFrom, recipient });
    return access.needsPtr ? then(clientDns(ctx.session, ctx.resolve), (r) => evaluate(r.verified)) : evaluate(null);
  });
}

const NO_VERDICT: AccessVerdict = Object.freeze({ action: 'none', hits: [] });

/**
 * Verdicts of recent subjects, per compiled lists (a reload compiles new ones): evaluateAccess
 * is pure, and the same clients write from the same senders to the same recipients again and
 * again, so most recipients cost one map look-up instead of three levels of list matching.
 * Frozen, as every session that asks shares them.
 */
const recentVerdicts = new WeakMap<CompiledAccess, Map<string, AccessVerdict>>();
const RECENT_MAX = 10_000;

function rememberedVerdict(access: CompiledAccess, s: Subject): AccessVerdict {
  let memo = recentVerdicts.get(access);
  if (!memo) recentVerdicts.set(access, memo = new Map());
  // Raw (not lower-cased) parts: regex entries see the address as sent. \u0001 marks "no PTR".
  const key = `${s.ip}\0${s.ptr ?? '\u0001'}\0${s.sender}\0${s.recipient}`;
  let v = memo.get(key);
  if (!v) {
    const fresh = evaluateAccess(access, s);
    v = Object.freeze({ ...fresh, hits: Object.freeze(fresh.hits) as Hit[] });
    if (memo.size >= RECENT_MAX) memo.clear();
    memo.set(key, v);
  }
  return v;
}
