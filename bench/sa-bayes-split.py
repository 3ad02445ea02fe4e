#!/usr/bin/env python3
"""bench/sa-bayes-split.py — SpamAssassin's own Bayes on the TRAIN time split (never TEST), to
compare with ours message by message. Writes the learned part (lower 60 % of ids per TRAIN group)
and the judged part (upper 40 %) as files, runs `sa-learn -L` into a temporary Bayes store, then
`spamd -L` and `spamc -y` on every judged message, and prints one JSON line per judged message:
group, id, spam, SpamAssassin's score and rule names (BAYES_xx among them).
Run: python3 bench/sa-bayes-split.py WORKDIR > bench/.cache/sa-time.jsonl"""
import json, os, subprocess, sys, time, shutil
CORPUS = 'bench/.cache/spam-assassin/package/data'
work = sys.argv[1]
os.makedirs(work, exist_ok=True)
groups = [('easy-ham-1', False, lambda i: True), ('spam-1', True, lambda i: True), ('hard-ham-1', False, lambda i: i % 2 == 1)]
judge = []
for d in ('learn-spam', 'learn-ham', 'judge'):
    os.makedirs(os.path.join(work, d), exist_ok=True)
for g, spam, keep in groups:
    files = sorted(f for f in os.listdir(os.path.join(CORPUS, g)) if f.endswith('.txt') and keep(int(f[:5])))
    cut = int(len(files) * 0.6)
    for k, f in enumerate(files):
        src = os.path.join(CORPUS, g, f)
        if k < cut:
            shutil.copy(src, os.path.join(work, 'learn-spam' if spam else 'learn-ham', f'{g}-{f}'))
        else:
            dst = os.path.join(work, 'judge', f'{g}-{f}')
            shutil.copy(src, dst)
            judge.append((g, int(f[:5]), spam, dst))
home = os.path.join(work, 'home'); os.makedirs(os.path.join(home, '.spamassassin'), exist_ok=True)
prefs = os.path.join(work, 'user_prefs')
open(prefs, 'w').write(f"bayes_path {work}/bayes\nbayes_auto_learn 0\nuse_bayes 1\n")
env = dict(os.environ, HOME=home)
if not os.path.exists(os.path.join(work, 'learned')):
    for kind, d in (('--spam', 'learn-spam'), ('--ham', 'learn-ham')):
        r = subprocess.run(['nice', '-n', '19', 'sa-learn', '-L', '-p', prefs, kind, os.path.join(work, d)], env=env, capture_output=True, text=True)
        print(kind, r.stdout.strip(), r.stderr.strip()[:300], file=sys.stderr)
    open(os.path.join(work, 'learned'), 'w').write('1')
subprocess.run(['chmod', '-R', 'a+rwX', work]); subprocess.run(['chown', '-R', 'nobody', work])
port = str(20000 + os.getpid() % 20000)
spamd = subprocess.Popen(['nice', '-n', '19', 'spamd', '-L', '-p', port, '-i', '127.0.0.1', '-A', '127.0.0.1', '-c', '--max-children', '2', '-x', '--virtual-config-dir', work, '-u', 'nobody', '--syslog', 'stderr'], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(120):
        if 'PONG' in subprocess.run(['spamc', '-p', port, '-K'], capture_output=True, text=True).stdout: break
        time.sleep(0.5)
    for g, i, spam, f in judge:
        out = subprocess.run(['spamc', '-p', port, '-R'], stdin=open(f, 'rb'), capture_output=True).stdout.decode('latin1')
        first = out.split('\n', 1)[0]
        score = float(first.split('/')[0]) if '/' in first else None
        import re
        names = re.findall(r'^\s*-?\d+\.\d+\s+([A-Z0-9_]+)\s', out, re.M)
        print(json.dumps({'g': g, 'id': i, 'spam': spam, 'score': score, 'rules': names}), flush=True)
finally:
    spamd.terminate(); spamd.wait()
