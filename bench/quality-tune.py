#!/usr/bin/env python3
"""bench/quality-tune.py — compare score variants on the validation files bench/quality-validate.ts
writes (judged parts of TRAIN only; never TEST). Prints precision/recall/F1/FP rate at the tag
threshold for each variant: SA rules on/off, a factor on the SA scores, the Bayes band scores."""
import json, sys, itertools
THRESH = 5.0
BANDS = ['BAYES_SPAM_99', 'BAYES_SPAM_95', 'BAYES_SPAM_80', 'BAYES_SPAM_60', 'BAYES_UNSURE', 'BAYES_HAM_40', 'BAYES_HAM_20', 'BAYES_HAM_05']

def load(f):
    return [json.loads(l) for l in open(f) if l.strip()]

def evaluate(rows, sa_factor=1.0, bayes=None, own=True):
    tp = fp = tn = fn = 0
    for r in rows:
        s = 0.0
        for name, score in r['hits']:
            if name.startswith('SA_'):
                s += score * sa_factor
            elif bayes is not None and name in bayes:
                s += bayes[name]
            elif own or name.startswith('BAYES'):
                s += score
        spam = s >= THRESH
        if r['spam']:
            tp += spam; fn += not spam
        else:
            fp += spam; tn += not spam
    p = tp / (tp + fp) if tp + fp else 1
    rc = tp / (tp + fn) if tp + fn else 1
    f1 = 2 * p * rc / (p + rc) if p + rc else 0
    return dict(f1=100 * f1, p=100 * p, r=100 * rc, fp=100 * fp / (fp + tn), nfp=fp, nfn=fn)

if __name__ == '__main__':
    sets = {f: load(f) for f in sys.argv[1:]}
    CUR = {'BAYES_SPAM_99': 5.5, 'BAYES_SPAM_95': 4.5, 'BAYES_SPAM_80': 2.5, 'BAYES_SPAM_60': 1.0, 'BAYES_UNSURE': 0, 'BAYES_HAM_40': -0.5, 'BAYES_HAM_20': -1.5, 'BAYES_HAM_05': -3.0}
    SA_LIKE = {'BAYES_SPAM_99': 3.5, 'BAYES_SPAM_95': 3.0, 'BAYES_SPAM_80': 2.0, 'BAYES_SPAM_60': 1.5, 'BAYES_UNSURE': 0.8, 'BAYES_HAM_40': 0, 'BAYES_HAM_20': -0.5, 'BAYES_HAM_05': -1.9}
    variants = [('bayes only (no SA)', dict(sa_factor=0.0, bayes=CUR))]
    for fac in (0.75, 1.0, 1.25):
        variants.append((f'SA x{fac}, current bayes scores', dict(sa_factor=fac, bayes=CUR)))
        variants.append((f'SA x{fac}, SA-like bayes scores', dict(sa_factor=fac, bayes=SA_LIKE)))
    for name, kw in variants:
        print(f'{name:40s}', '  '.join(f"{f.split('/')[-1]}: F1 {m['f1']:.2f} P {m['p']:.2f} R {m['r']:.2f} FP {m['fp']:.2f}% ({m['nfp']}fp {m['nfn']}fn)" for f, rows in sets.items() for m in [evaluate(rows, **kw)]))
