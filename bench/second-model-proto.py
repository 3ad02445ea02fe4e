#!/usr/bin/env python3
"""bench/second-model-proto.py — TRAIN-only prototype of a second, discriminative model: logistic
regression (L2, batch gradient descent) over the binary symbols of a message (SpamAssassin rules,
heuristics, the Bayes band), its threshold set on its own training rows for FP <= 0.3 %, compared
with the shipped sum of scores >= 5. Rows come from the validation files (bench/quality-validate.ts):
the five CV folds give every TRAIN message once with an out-of-fold Bayes band.
- time: trained on the CV rows of the time split's learned part (lower 60 % of ids per group),
  judged on the time split's judged part (its own file, Bayes learned on the lower 60 %);
- cv: 5-fold over the CV rows.
Usage: bench/second-model-proto.py TIME.jsonl CV0.jsonl ... CV4.jsonl   (never TEST)"""
import json, sys, numpy as np
def load(f): return [json.loads(l) for l in open(f) if l.strip()]
time_rows = load(sys.argv[1]); cv_rows = [r for f in sys.argv[2:] for r in load(f)]
names = sorted({h[0] for r in cv_rows + time_rows for h in r['hits']})
idx = {n: i for i, n in enumerate(names)}
def X(rows):
    m = np.zeros((len(rows), len(names) + 1)); m[:, -1] = 1
    for i, r in enumerate(rows):
        for h in r['hits']: m[i, idx[h[0]]] = 1
    return m
def y(rows): return np.array([1.0 if r['spam'] else 0.0 for r in rows])
def fit(Xm, yv, l2=1.0, iters=1500, lr=0.5):
    w = np.zeros(Xm.shape[1]); n = len(yv)
    # class weights: ham errors cost more (FP guard)
    cw = np.where(yv == 0, 3.0, 1.0)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-Xm @ w))
        g = Xm.T @ ((p - yv) * cw) / n + l2 * w / n
        w -= lr * g
    return w
def metrics(pred, yv):
    tp = int(((pred == 1) & (yv == 1)).sum()); fp = int(((pred == 1) & (yv == 0)).sum())
    fn = int(((pred == 0) & (yv == 1)).sum()); tn = int(((pred == 0) & (yv == 0)).sum())
    p = tp / (tp + fp) if tp + fp else 1; r = tp / (tp + fn) if tp + fn else 1
    return f"F1 {200*p*r/(p+r):.2f} P {100*p:.2f} R {100*r:.2f} FP {100*fp/(fp+tn):.2f}% ({fp}fp {fn}fn)"
def threshold(scores, yv, fp_max=0.003):
    ham = np.sort(scores[yv == 0])[::-1]
    k = int(np.floor(fp_max * len(ham)))  # at most k ham above
    return ham[k] + 1e-9 if k < len(ham) else -np.inf
def summed(rows): return np.array([sum(h[1] for h in r['hits']) for r in rows])
def run(train, test, label):
    Xt, yt, Xe, ye = X(train), y(train), X(test), y(test)
    w = fit(Xt, yt)
    th = threshold(Xt @ w, yt)
    print(f"{label:6s} sum>=5: {metrics((summed(test) >= 5).astype(int), ye)}")
    print(f"{label:6s} LR:     {metrics((Xe @ w > th).astype(int), ye)}")
    both = (summed(test) >= 5) | (Xe @ w > th)
    print(f"{label:6s} either: {metrics(both.astype(int), ye)}")
# time split
cut = {}
for g in ('easy-ham-1', 'spam-1', 'hard-ham-1'):
    ids = sorted(r['id'] for r in cv_rows if r['g'] == g); cut[g] = ids[int(len(ids) * 0.6)]
run([r for r in cv_rows if r['id'] < cut[r['g']]], time_rows, 'time')
# cv over the CV rows (fold = file)
folds = [load(f) for f in sys.argv[2:]]
preds = {'sum': [], 'lr': [], 'y': []}
for k in range(len(folds)):
    train = [r for j, f in enumerate(folds) if j != k for r in f]; test = folds[k]
    Xt, yt, Xe, ye = X(train), y(train), X(test), y(test)
    w = fit(Xt, yt); th = threshold(Xt @ w, yt)
    preds['sum'] += list((summed(test) >= 5).astype(int)); preds['lr'] += list((Xe @ w > th).astype(int)); preds['y'] += list(ye)
yv = np.array(preds['y'])
print(f"cv     sum>=5: {metrics(np.array(preds['sum']), yv)}")
print(f"cv     LR:     {metrics(np.array(preds['lr']), yv)}")
print(f"cv     either: {metrics(np.array(preds['sum']) | np.array(preds['lr']), yv)}")
