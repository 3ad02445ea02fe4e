#!/usr/bin/env python3
"""bench/bayes-compare.py — our Bayes against SpamAssassin's on the judged part of a TRAIN split
(never TEST). Reads validation files (bench/quality-validate.ts: `p` per message) and optionally
SpamAssassin's per-message rules (bench/sa-bayes-split.py), and prints per class how the Bayes
probabilities fall into SpamAssassin's bands (BAYES_00 <1%, 05, 20, 40, 50, 60, 80, 95, 99 ≥99%, 999 ≥99.9%).
Usage: bench/bayes-compare.py [--sa sa-time.jsonl] validate.jsonl..."""
import json, sys, collections
BANDS = [(0.999, '999'), (0.99, '99'), (0.95, '95'), (0.8, '80'), (0.6, '60'), (0.4, '50'), (0.2, '40'), (0.05, '20'), (0.01, '05'), (0.0, '00')]
ORDER = [b for _, b in BANDS]
def band(p):
    if p is None: return 'none'
    for lo, b in BANDS:
        if p >= lo: return b
def sa_band(rules):
    bs = [r[6:] for r in rules if r.startswith('BAYES_')]
    if '999' in bs: return '999'
    return bs[0] if bs else 'none'
args = sys.argv[1:]
sa = {}
if args and args[0] == '--sa':
    for l in open(args[1]):
        r = json.loads(l); sa[(r['g'], r['id'])] = r
    args = args[2:]
def table(name, bandof, rows):
    for cls in (True, False):
        c = collections.Counter(bandof(r) for r in rows if r['spam'] == cls)
        n = sum(c.values())
        print(f"{name[:38]:38s} {'spam' if cls else 'ham ':4s} n={n:5d} " + ' '.join(f"{b}:{c.get(b,0):4d}" for b in ORDER + ['none']))
if sa:
    rows = list(sa.values()); table('SpamAssassin', lambda r: sa_band(r['rules']), rows)
    print('SpamAssassin score>=5: spam %d/%d, ham %d/%d' % (sum(1 for r in rows if r['spam'] and r['score'] >= 5), sum(1 for r in rows if r['spam']), sum(1 for r in rows if not r['spam'] and r['score'] >= 5), sum(1 for r in rows if not r['spam'])))
for f in args:
    rows = [json.loads(l) for l in open(f) if l.strip()]
    if sa: rows = [r for r in rows if (r['g'], r['id']) in sa]
    table(f.split('/')[-1], lambda r: band(r['p']), rows)
    if sa:
        # spam where SpamAssassin's Bayes says >= 95 and ours < 0.95
        miss = [(r['g'], r['id'], r['p'], sa_band(sa[(r['g'], r['id'])]['rules'])) for r in rows if r['spam'] and sa_band(sa[(r['g'], r['id'])]['rules']) in ('99', '999', '95') and (r['p'] or 0) < 0.95]
        print(f'  spam SA>=95 but ours<0.95: {len(miss)}', miss[:12])
