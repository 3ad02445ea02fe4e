#!/usr/bin/env python3
"""bench/sa-fidelity-run.py — SpamAssassin 4.0.1 on the judged part of a TRAIN split (never TEST),
with its Bayes learned (sa-learn) on that split's learned part, for the fidelity diff against our
port (bench/sa-fidelity-diff.py). Splits as bench/quality-validate.ts: `time` (per group the lower
60 % of ids learned, the upper 40 % judged) or `cvK` (fold K of 5, the same seeded shuffle).
Prints one JSON line per judged message: split, group, id, class, SpamAssassin's score and every
rule it hit with that rule's score (report template `_TESTSSCORES_`; BAYES_xx among them).
`time-learned` judges the time split's learned part with that split's Bayes (its rule hits only:
together with `time` every TRAIN message once). Run (heavy: nice -n 19):
python3 bench/sa-fidelity-run.py WORKDIR time time-learned cv0 cv1 cv2 cv3 cv4 \
  > bench/.cache/sa-fidelity.jsonl"""
import json, os, shutil, subprocess, sys, time, threading, queue
CORPUS = 'bench/.cache/spam-assassin/package/data'
GROUPS = [('easy-ham-1', False, lambda i: True), ('spam-1', True, lambda i: True), ('hard-ham-1', False, lambda i: i % 2 == 1)]

def items():
    out = []
    for g, spam, keep in GROUPS:
        for f in sorted(os.listdir(os.path.join(CORPUS, g))):
            if f.endswith('.txt') and keep(int(f[:5])):
                out.append((g, int(f[:5]), spam, os.path.join(CORPUS, g, f)))
    return out

def split(name, all_items):
    if name == 'time':
        learn, judge = [], []
        for g, _, _ in GROUPS:
            rows = sorted((x for x in all_items if x[0] == g), key=lambda x: x[1])
            cut = int(len(rows) * 0.6)
            learn += rows[:cut]; judge += rows[cut:]
        return learn, judge
    k = int(name[2:])
    seed = 12345.0
    keyed = []
    for x in all_items:  # the same LCG in doubles as quality-validate.ts (JS numbers)
        seed = (seed * 1103515245.0 + 12345.0) % 2147483648.0
        keyed.append((seed / 2147483648.0, x))
    shuffled = [x for _, x in sorted(keyed, key=lambda t: t[0])]
    return [x for i, x in enumerate(shuffled) if i % 5 != k], [x for i, x in enumerate(shuffled) if i % 5 == k]

def run(work, name, all_items):
    if name == 'time-learned':
        # The time split's learned part, judged with that split's Bayes (learned on these same
        # messages: only its rule hits are of use, for the rule diff over all of TRAIN).
        judge, _ = split('time', all_items); learn = []
        d = os.path.join(work, 'time')
    else:
        learn, judge = split(name, all_items)
        d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    home = os.path.join(d, 'home'); os.makedirs(os.path.join(home, '.spamassassin'), exist_ok=True)
    prefs = os.path.join(d, 'user_prefs')
    open(prefs, 'w').write(f"bayes_path {d}/bayes\nbayes_auto_learn 0\nuse_bayes 1\nclear_report_template\nreport _SCORE_|_TESTSSCORES(,)_\n")
    env = dict(os.environ, HOME=home)
    if not os.path.exists(os.path.join(d, 'learned')):
        for kind, spam in (('--spam', True), ('--ham', False)):
            ld = os.path.join(d, 'learn-spam' if spam else 'learn-ham'); os.makedirs(ld, exist_ok=True)
            for g, i, s, f in learn:
                if s == spam: shutil.copy(f, os.path.join(ld, f'{g}-{i:05d}'))
            r = subprocess.run(['nice', '-n', '19', 'sa-learn', '-L', '-p', prefs, kind, ld], env=env, capture_output=True, text=True)
            print(name, kind, r.stdout.strip(), r.stderr.strip()[:300], file=sys.stderr, flush=True)
        open(os.path.join(d, 'learned'), 'w').write('1')
    subprocess.run(['chmod', '-R', 'a+rwX', d]); subprocess.run(['chown', '-R', 'nobody', d])
    port = str(20000 + (os.getpid() * 7 + len(name) + ord(name[-1])) % 20000)
    spamd = subprocess.Popen(['nice', '-n', '19', 'spamd', '-L', '-p', port, '-i', '127.0.0.1', '-A', '127.0.0.1', '-c', '--max-children', '2', '-x', '--virtual-config-dir', d, '-u', 'nobody', '--syslog', 'stderr'], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            if 'PONG' in subprocess.run(['spamc', '-p', port, '-K'], capture_output=True, text=True).stdout: break
            time.sleep(0.5)
        q = queue.Queue(); lock = threading.Lock()
        # Spam first, then hard ham, then easy ham: a run cut short still has the messages that matter.
        for x in sorted(judge, key=lambda x: (not x[2], x[0] != 'hard-ham-1')): q.put(x)
        def worker():
            while True:
                try: g, i, spam, f = q.get_nowait()
                except queue.Empty: return
                out = subprocess.run(['spamc', '-p', port, '-R'], stdin=open(f, 'rb'), capture_output=True).stdout.decode('latin1').strip()
                head, _, tests = out.partition('|')
                rules = {}
                for t in filter(None, tests.strip().split(',')):
                    n, _, sc = t.partition('=')
                    rules[n] = float(sc)
                try: score = float(head.split('\n')[-1])
                except ValueError: score = None
                with lock:
                    print(json.dumps({'split': name, 'g': g, 'id': i, 'spam': spam, 'score': score, 'rules': rules}), flush=True)
        ts = [threading.Thread(target=worker) for _ in range(2)]
        for t in ts: t.start()
        for t in ts: t.join()
    finally:
        spamd.terminate(); spamd.wait()

if __name__ == '__main__':
    work = sys.argv[1]; os.makedirs(work, exist_ok=True)
    all_items = items()
    for name in sys.argv[2:]:
        run(work, name, all_items)
