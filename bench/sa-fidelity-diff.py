#!/usr/bin/env python3
"""bench/sa-fidelity-diff.py — the fidelity diff between SpamAssassin 4.0.1 and our port, on TRAIN
only (never TEST). Inputs:
  --sa      bench/sa-fidelity-run.py's output (SpamAssassin per judged message: score, rules+scores)
  --dump    bench/sa-hits-dump.ts's output (every one of our rules' result on every TRAIN message)
  --ours    bench/quality-validate.ts's outputs (our judged messages with every scored symbol),
            named validate-time.jsonl / validate-cvK.jsonl (the split read from the name)
  --skipped the converter's skipped rules by reason (JSON; bench/sa-fidelity-skipped.ts)
Prints: both systems' figures per split; per message, SpamAssassin's score against ours split into
the Bayes part and the rules part for the messages where they disagree (spam SA >= 5 and ours < 5,
ham ours >= 5 and SA < 5); per rule, the TRAIN messages SpamAssassin hits and we do not (and the
reverse), ranked by the score they move on the disagreeing messages, with why a rule is missing
(a skipped reason, or "ported" = a translation difference)."""
import argparse, collections, json, os, re
ap = argparse.ArgumentParser()
ap.add_argument('--sa', required=True); ap.add_argument('--dump', required=True)
ap.add_argument('--ours', nargs='+', required=True); ap.add_argument('--skipped', required=True)
ap.add_argument('--top', type=int, default=40); ap.add_argument('--show', type=int, default=0)
a = ap.parse_args()
T = 5.0
sa = collections.defaultdict(dict)
for l in open(a.sa):
    r = json.loads(l); sa[r['split']][(r['g'], r['id'])] = r
dump = {}
for l in open(a.dump):
    key, _, names = l.rstrip('\n').partition(' ')
    g, i = key.split('/'); dump[(g, int(i))] = set(names.split()) if names else set()
ours = {}
for f in a.ours:
    m = re.search(r'(time|cv\d)', os.path.basename(f)); name = m.group(1)
    ours[name] = {(r['g'], r['id']): r for r in map(json.loads, filter(str.strip, open(f)))}
why = {}
for reason, names in json.load(open(a.skipped)).items():
    for n in names: why[n] = reason.split(':')[0].split(' (')[0]
ported = set().union(*dump.values())

def fig(rows):
    tp = sum(1 for s, p in rows if s and p); fn = sum(1 for s, p in rows if s and not p)
    fp = sum(1 for s, p in rows if not s and p); tn = sum(1 for s, p in rows if not s and not p)
    P = tp / (tp + fp) if tp + fp else 1; R = tp / (tp + fn) if tp + fn else 1
    return f"F1 {200*P*R/(P+R) if P+R else 0:.2f} P {100*P:.2f} R {100*R:.2f} FP {100*fp/(fp+tn):.2f}% ({fp} fp, {fn} fn)"

def parts_sa(r):
    b = sum(v for k, v in r['rules'].items() if k.startswith('BAYES_')); return b, r['score'] - b
def parts_ours(r):
    b = sum(s for n, s in r['hits'] if n.startswith('BAYES_')); x = sum(s for n, s in r['hits'] if n.startswith('SA_'))
    o = sum(s for n, s in r['hits']) - b - x; return b, x, o

print('== figures (threshold 5) ==')
for name in sorted(ours, key=lambda n: (n != 'time', n)):
    if name not in sa: continue
    keys = [k for k in ours[name] if k in sa[name] and sa[name][k]['score'] is not None]
    print(f"{name:5s} n={len(keys)}  SA: {fig([(sa[name][k]['spam'], sa[name][k]['score'] >= T) for k in keys])}   ours: {fig([(ours[name][k]['spam'], sum(s for _, s in ours[name][k]['hits']) >= T) for k in keys])}")
cvs = [n for n in ours if n.startswith('cv') and n in sa]
if cvs:
    pool = lambda who: [(r['spam'], (r['score'] if who == 'sa' else sum(s for _, s in r['hits'])) >= T) for n in cvs for k, r in (sa[n] if who == 'sa' else ours[n]).items() if k in sa[n] and k in ours[n] and sa[n][k]['score'] is not None]
    print(f"CV pooled ({len(cvs)} folds): SA: {fig(pool('sa'))}   ours: {fig(pool('ours'))}")

# rule-level diff over all of TRAIN (each message once: the CV judged parts cover TRAIN once)
allsa = {}
for n in sa:
    for k, r in sa[n].items():
        if n.startswith('cv') or k not in allsa: allsa[k] = r
spam_of = {k: r['spam'] for k, r in allsa.items()}
disagree = collections.defaultdict(set)  # split -> keys
for name in ours:
    for k, r in ours[name].items():
        if name not in sa or k not in sa[name] or sa[name][k]['score'] is None: continue
        s_sa = sa[name][k]['score']; s_us = sum(s for _, s in r['hits'])
        if r['spam'] and s_sa >= T and s_us < T: disagree[name].add(k)
        if not r['spam'] and s_us >= T and s_sa < T: disagree[name].add(k)
our_score = {}
for name in ours:
    for k, r in ours[name].items():
        for n, s in r['hits']:
            if n.startswith('SA_'): our_score[n[3:]] = s
sa_score = {}
for r in allsa.values():
    sa_score.update({n: v for n, v in r['rules'].items()})

stat = collections.defaultdict(lambda: collections.Counter())
for k, r in allsa.items():
    theirs = {n for n in r['rules'] if not n.startswith('BAYES_')}
    mine = {n for n in dump.get(k, ()) if not n.startswith('__') and (n in sa_score or our_score.get(n))}
    c = 'spam' if r['spam'] else 'ham'
    for n in theirs - mine: stat[n][f'sa_only_{c}'] += 1
    for n in mine - theirs: stat[n][f'ours_only_{c}'] += 1
    for n in theirs & mine: stat[n][f'both_{c}'] += 1
# effect on the disagreeing messages: for each rule, SA's points that we lack (spam) / our extra points (ham)
effect = collections.Counter(); effect_n = collections.Counter()
for name, keys in disagree.items():
    for k in keys:
        r = sa[name][k]; mine_all = dump.get(k, set()); mine_scored = {n[3:]: s for n, s in ours[name][k]['hits'] if n.startswith('SA_')}
        for n, v in r['rules'].items():
            if n.startswith('BAYES_'): continue
            d = v - mine_scored.get(n, 0.0)
            if r['spam'] and d > 0: effect[n] += d; effect_n[n] += 1
            if not r['spam'] and d < 0: effect[n] += -d; effect_n[n] += 1
        for n, s in mine_scored.items():
            if n in r['rules']: continue
            if r['spam'] and s < 0: effect[n] += -s; effect_n[n] += 1
            if not r['spam'] and s > 0: effect[n] += s; effect_n[n] += 1
def label(n):
    if n in why: return why[n]
    if n in ported: return 'ported'
    return 'ported' if n in our_score else 'not in port'
print('\n== disagreeing messages: per split (spam SA>=5 & ours<5 / ham ours>=5 & SA<5) ==')
for name in sorted(disagree, key=lambda n: (n != 'time', n)):
    ks = disagree[name]; sp = [k for k in ks if spam_of.get(k)]; hm = [k for k in ks if not spam_of.get(k)]
    print(f"{name}: {len(sp)} spam, {len(hm)} ham")
    def avg(f, ks):
        return sum(f(k) for k in ks) / len(ks) if ks else 0
    for lab, ks2 in (('spam', sp), ('ham', hm)):
        if not ks2: continue
        print(f"  {lab}: SA bayes {avg(lambda k: parts_sa(sa[name][k])[0], ks2):+.2f} rules {avg(lambda k: parts_sa(sa[name][k])[1], ks2):+.2f} | ours bayes {avg(lambda k: parts_ours(ours[name][k])[0], ks2):+.2f} rules {avg(lambda k: parts_ours(ours[name][k])[1], ks2):+.2f} other {avg(lambda k: parts_ours(ours[name][k])[2], ks2):+.2f} (means)")
    if a.show:
        for k in sorted(ks)[:a.show]:
            r = sa[name][k]; o = ours[name][k]; mine = {n[3:] for n, _ in o['hits'] if n.startswith('SA_')}
            sb, sr = parts_sa(r); ob, orr, oo = parts_ours(o)
            print(f"   {k[0]}/{k[1]:05d} SA {r['score']:.1f} (bayes {sb:+.1f} rules {sr:+.1f}) ours {ob+orr+oo:.1f} (bayes {ob:+.1f} p={o['p'] and round(o['p'],3)} rules {orr:+.1f} other {oo:+.1f})")
            print('      SA-only:', ' '.join(f"{n}={v}" for n, v in sorted(r['rules'].items()) if n not in mine and not n.startswith('BAYES')))
            print('      ours-only:', ' '.join(f"{n[3:]}={s}" for n, s in o['hits'] if n.startswith('SA_') and n[3:] not in r['rules']))
print(f'\n== rules by points moved on the disagreeing messages (all splits summed; top {a.top}) ==')
print(f"{'rule':32s} {'points':>7s} {'msgs':>5s} {'SA':>6s} {'ours':>6s}  {'SA-only sp/ham':>14s} {'ours-only sp/ham':>16s} {'both sp/ham':>11s}  why")
for n, v in effect.most_common(a.top):
    s = stat[n]
    print(f"{n:32s} {v:7.1f} {effect_n[n]:5d} {sa_score.get(n, float('nan')):6.3f} {our_score.get(n, 0):6.3f}  {s['sa_only_spam']:>7d}/{s['sa_only_ham']:<6d} {s['ours_only_spam']:>8d}/{s['ours_only_ham']:<7d} {s['both_spam']:>5d}/{s['both_ham']:<5d}  {label(n)}")
print('\n== rules where hits differ most over all TRAIN (ported rules only: translation differences) ==')
rows = [(s['sa_only_spam'] + s['sa_only_ham'] + s['ours_only_spam'] + s['ours_only_ham'], n) for n, s in stat.items() if label(n) == 'ported']
for tot, n in sorted(rows, reverse=True)[:a.top]:
    s = stat[n]
    print(f"{n:32s} SA-only {s['sa_only_spam']:4d} spam {s['sa_only_ham']:4d} ham | ours-only {s['ours_only_spam']:4d} spam {s['ours_only_ham']:4d} ham | both {s['both_spam']}/{s['both_ham']}")
print('\n== not ported (skipped) rules SA hits on TRAIN, by spam hits ==')
rows = [(s['sa_only_spam'], n) for n, s in stat.items() if label(n) != 'ported']
for c, n in sorted(rows, reverse=True)[:a.top]:
    s = stat[n]
    print(f"{n:32s} spam {s['sa_only_spam']:4d} ham {s['sa_only_ham']:4d}  SA score {sa_score.get(n, 0):6.3f}  {label(n)}")
