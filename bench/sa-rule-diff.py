#!/usr/bin/env python3
"""bench/sa-rule-diff.py — where our SpamAssassin rule port and SpamAssassin differ on the judged
part of a TRAIN split (never TEST): for the messages we call wrongly, the rules SpamAssassin hits
that we do not (and the reverse), counted. Usage: bench/sa-rule-diff.py sa-time.jsonl validate.jsonl"""
import json, sys, collections, importlib.util
spec = importlib.util.spec_from_file_location('qt', 'bench/quality-tune.py'); qt = importlib.util.module_from_spec(spec); spec.loader.exec_module(qt)
sa = {(r['g'], r['id']): r for r in map(json.loads, open(sys.argv[1]))}
ours = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
only_sa = collections.Counter(); only_us = collections.Counter(); fn = 0
for r in ours:
    s = sum(sc for _, sc in r['hits'])
    if not r['spam'] or s >= qt.THRESH: continue
    fn += 1
    o = sa[(r['g'], r['id'])]
    mine = {n[3:] for n, _ in r['hits'] if n.startswith('SA_')}
    theirs = {n for n in o['rules'] if not n.startswith('BAYES')}
    print(r['id'], f"ours {s:.1f} p={r['p'] and round(r['p'],3)}", f"SA {o['score']}", 'SA-only:', sorted(theirs - mine), 'ours-only:', sorted(mine - theirs))
    only_sa.update(theirs - mine); only_us.update(mine - theirs)
print(fn, 'false negatives'); print('SA only:', only_sa.most_common(30)); print('ours only:', only_us.most_common(15))
