"""Writes expt_gap_folds.json: Matbench v0.1's official folds of matbench_expt_gap and a few other KFold cases, as
scikit-learn computes them, so test/scripts/kfold.test.ts can check the TypeScript KFold without Python.

Run from the repo root with Debian's scikit-learn (apt-get install python3-sklearn):
    /usr/bin/python3 test/data/matbench/make_folds.py
It also checks that the .json.gz and .csv copies of matbench_expt_gap, which Node can read, hold the rows of the
official .json.bz2 artifact (mbid order) in the same order.
"""
import bz2
import csv
import gzip
import json
import os

import numpy as np
import sklearn
from sklearn.model_selection import KFold

RAW = os.path.join('..', 'shared', 'data', 'raw', 'matbench_expt_gap')

art = json.load(bz2.open(os.path.join(RAW, 'matbench_expt_gap.json.bz2')))
n = len(art['mbid'])
official = [(art['mbid'][str(i)], art['composition'][str(i)], art['gap expt'][str(i)]) for i in range(n)]
assert [m for m, _, _ in official] == sorted(m for m, _, _ in official), 'artifact rows are not in mbid order'
gz = json.load(gzip.open(os.path.join(RAW, 'matbench_expt_gap.json.gz')))
assert gz['index'] == list(range(n)) and [tuple(r) for r in gz['data']] == [(c, g) for _, c, g in official]
with open(os.path.join(RAW, 'matbench_expt_gap.csv')) as fh:
    rows = list(csv.reader(fh))[1:]
assert [(int(i), c, float(g)) for i, c, g in rows] == [(i, c, g) for i, (_, c, g) in enumerate(official)]


def folds(n_rows, n_splits, seed):
    kf = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [{'train': tr.tolist(), 'test': te.tolist()} for tr, te in kf.split(np.zeros(n_rows))]


out = {
    'generator': 'test/data/matbench/make_folds.py',
    'sklearn': sklearn.__version__,
    'numpy': np.__version__,
    'expt_gap': {
        'n': n,
        'n_splits': 5,
        'random_state': 18012019,
        'test': [f['test'] for f in folds(n, 5, 18012019)],
        'test_mbids_first_last': [[official[f['test'][0]][0], official[f['test'][-1]][0]] for f in folds(n, 5, 18012019)],
    },
    # Other sizes and seeds: uneven folds, small n, bounds just above and below powers of two (rejection sampling).
    'cases': [
        {'n': n_rows, 'n_splits': k, 'random_state': seed, 'test': [f['test'] for f in folds(n_rows, k, seed)]}
        for n_rows, k, seed in [(10, 5, 0), (7, 3, 42), (33, 4, 1), (257, 5, 2**32 - 1), (1025, 10, 18012019)]
    ],
}
with open(os.path.join('test', 'data', 'matbench', 'expt_gap_folds.json'), 'w') as fh:
    json.dump(out, fh, separators=(',', ':'))
    fh.write('\n')
print('folds written; test sizes', [len(t) for t in out['expt_gap']['test']])
