#!/usr/bin/python3
"""Times pymatgen's neighbour search on every task structure, for `bench/chem.ts` to compare against.

A checking tool only: the product and its tests never need Python. Needs Debian's python3-pymatgen
(`apt-get install -y python3-pymatgen`; run it with /usr/bin/python3, not a pyenv shim).

    /usr/bin/python3 bench/pymatgen_neighbors.py [--out FILE] [--limit N]

Reads ../shared/data/tasks/*.jsonl.gz in sorted file order, keeping rows with a structure (the same order the
TypeScript bench uses), and times three passes over all of them:
  - from_dict:   Structure.from_dict on the task JSON (not part of the comparison);
  - neighbours:  Structure.get_all_neighbors(8.0) only;
  - cgcnn_graph: get_all_neighbors(8.0) plus CGCNN's own per-site sort by distance, first 12 kept and padding
                 (index 0, distance 9.0), i.e. exactly what CGCNN's CIFData.__getitem__ does to build the graph.
The TypeScript graph build always includes the sort/top-12/padding, so `cgcnn_graph` is the like-for-like figure;
`neighbours` alone is reported too (it favours pymatgen).
Writes JSON with the timings and, per structure, the 12 CGCNN neighbour distances (rounded to 1e-6 Å) so the
bench can also check that both implementations agree on every structure.
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')  # before numpy loads: one core, like the Node bench

import argparse
import gzip
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pymatgen.core
from pymatgen.core import Structure

RADIUS = 8.0
MAX_NBR = 12


def load(tasks_dir: Path, limit: int | None):
    out = []
    for path in sorted(tasks_dir.glob('*.jsonl.gz')):
        with gzip.open(path, 'rt', encoding='utf8') as fh:
            for line in fh:
                if not line.strip():
                    continue
                row = json.loads(line)
                if row['structure'] is None:
                    continue
                out.append(row['structure'])
                if limit is not None and len(out) >= limit:
                    return out
    return out


def cgcnn_graph(s: Structure):
    """CGCNN data.py, CIFData.__getitem__, verbatim in effect."""
    all_nbrs = s.get_all_neighbors(RADIUS, include_index=True)
    all_nbrs = [sorted(nbrs, key=lambda x: x[1]) for nbrs in all_nbrs]
    nbr_fea_idx, nbr_fea = [], []
    for nbr in all_nbrs:
        if len(nbr) < MAX_NBR:
            nbr_fea_idx.append(list(map(lambda x: x[2], nbr)) + [0] * (MAX_NBR - len(nbr)))
            nbr_fea.append(list(map(lambda x: x[1], nbr)) + [RADIUS + 1.0] * (MAX_NBR - len(nbr)))
        else:
            nbr_fea_idx.append(list(map(lambda x: x[2], nbr[:MAX_NBR])))
            nbr_fea.append(list(map(lambda x: x[1], nbr[:MAX_NBR])))
    return np.array(nbr_fea_idx), np.array(nbr_fea)


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tasks', type=Path, default=root.parent / 'shared' / 'data' / 'tasks')
    ap.add_argument('--out', type=Path, default=Path(tempfile.gettempdir()) / 'matmoe-bench' / 'pymatgen_neighbors.json')
    ap.add_argument('--limit', type=int, default=None, help='only the first N structures (quick runs)')
    args = ap.parse_args()

    dicts = load(args.tasks, args.limit)
    n_sites = sum(len(d['sites']) for d in dicts)
    print(f'{len(dicts)} structures, {n_sites} sites (mean {n_sites / len(dicts):.2f})', file=sys.stderr)

    t0 = time.perf_counter()
    structures = [Structure.from_dict(d) for d in dicts]
    t_from_dict = time.perf_counter() - t0

    t0 = time.perf_counter()
    for s in structures:
        s.get_all_neighbors(RADIUS)
    t_neighbours = time.perf_counter() - t0
    print(f'get_all_neighbors: {t_neighbours:.1f} s', file=sys.stderr)

    dists = []
    t0 = time.perf_counter()
    for s in structures:
        _, d = cgcnn_graph(s)
        dists.append(d)
    t_graph = time.perf_counter() - t0
    print(f'CGCNN graph (neighbours + sort + top-12): {t_graph:.1f} s', file=sys.stderr)

    result = {
        'tool': 'pymatgen ' + pymatgen.core.__version__,
        'python': platform.python_version(),
        'numpy': np.__version__,
        'cpu': platform.processor() or platform.machine(),
        'radius': RADIUS,
        'max_neighbors': MAX_NBR,
        'structures': len(structures),
        'sites': n_sites,
        'seconds': {'from_dict': t_from_dict, 'neighbours': t_neighbours, 'cgcnn_graph': t_graph},
        'nbr_dist': [[[round(float(x), 6) for x in row] for row in d] for d in dists],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, separators=(',', ':')))
    print(f'wrote {args.out}', file=sys.stderr)
    rate = lambda t: len(structures) / t
    print(json.dumps({k: f'{rate(v):.1f} structures/s' for k, v in result['seconds'].items()}), file=sys.stderr)


if __name__ == '__main__':
    main()
