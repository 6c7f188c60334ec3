"""PyTorch CPU side of bench:experts: the same 18 CGCNN experts on the same graphs (CGCNN's own forward, eval mode).
Not used by the product. Prints one JSON line: seconds for all experts, max |embedding difference| vs MatMoE."""
import json, struct, sys, time
import numpy as np
import torch

data = json.load(open(sys.argv[1]))
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
atom_init = json.load(open(__file__.rsplit('/bench/', 1)[0] + '/assets/elements/cgcnn_atom_init.json'))


def load(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32).reshape(v['shape']).copy())
    return out


def batch(graphs):
    fea, idx, dist, seg = [], [], [], []
    base = 0
    for c, g in enumerate(graphs):
        n = len(g['z'])
        fea += [atom_init[str(z)] for z in g['z']]
        idx += [i + base for i in g['idx']]
        dist += g['dist']
        seg += [c] * n
        base += n
    d = torch.tensor(dist).view(-1, 1)
    mu = torch.arange(0, 8.0 + 0.2, 0.2)[:41]
    edge = torch.exp(-((d - mu) ** 2) / 0.2 ** 2).view(base, 12, 41)
    return torch.tensor(fea, dtype=torch.float32), torch.tensor(idx).view(base, 12), edge, torch.tensor(seg), len(graphs)


def bn(x, w, p):
    return (x - w[p + '.running_mean']) / torch.sqrt(w[p + '.running_var'] + 1e-5) * w[p + '.weight'] + w[p + '.bias']


def embed(w, fea, idx, edge, seg, nc):
    x = fea @ w['embedding.weight'].T + w['embedding.bias']
    n = x.shape[0]
    sp = torch.nn.functional.softplus
    for c in range(4):
        p = f'convs.{c}'
        z = torch.cat([x.unsqueeze(1).expand(n, 12, 64), x[idx], edge], dim=2)
        g = z @ w[p + '.fc_full.weight'].T + w[p + '.fc_full.bias']
        g = bn(g.view(-1, 128), w, p + '.bn1').view(n, 12, 128)
        f, core = g.chunk(2, dim=2)
        s = (torch.sigmoid(f) * sp(core)).sum(dim=1)
        x = sp(x + bn(s, w, p + '.bn2'))
    pooled = torch.zeros(nc, 64).index_add_(0, seg, x) / torch.bincount(seg, minlength=nc).unsqueeze(1)
    return sp(pooled)


experts = [load(p) for p in data['experts']]
graphs = data['graphs']
with torch.no_grad():
    embed(experts[0], *batch(graphs[:50]))
    t = time.perf_counter()
    first = None
    for w in experts:
        out = []
        for s in range(0, len(graphs), 1000):
            out.append(embed(w, *batch(graphs[s:s + 1000])))
        e = torch.cat(out)
        if first is None:
            first = e
    seconds = time.perf_counter() - t
ref = torch.tensor(data['reference']).view(-1, 64)
diff = float((first[:ref.shape[0]] - ref).abs().max())
print(json.dumps({'seconds': seconds, 'maxAbsDiff': diff, 'threads': torch.get_num_threads(), 'version': torch.__version__}))
