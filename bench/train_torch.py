"""PyTorch side of `npm run bench:train`: the same models, the same batches,
training throughput in samples/s on random MNIST-shaped data. Prints one JSON
object {"results": [{"model", "batch", "samplesPerSec"}]} on stdout.

Run with the system Python (Debian's python3-torch), OPENBLAS_NUM_THREADS=1
and 2 torch threads, as the benchmark's TypeScript side does."""
import json
import sys
import time

import torch
from torch import nn


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


class ReLUConvBN(nn.Sequential):
    def __init__(self, c, k):
        super().__init__(nn.ReLU(), nn.Conv2d(c, c, k, padding=k // 2, bias=False), nn.BatchNorm2d(c))


def make_op(op, c):
    if op == 'skip_connect':
        return nn.Identity()
    if op == 'nor_conv_1x1':
        return ReLUConvBN(c, 1)
    if op == 'nor_conv_3x3':
        return ReLUConvBN(c, 3)
    if op == 'avg_pool_3x3':
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    return None


class Cell(nn.Module):
    # Edges in NAS-Bench-201 order: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
    EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]

    def __init__(self, ops, c):
        super().__init__()
        self.ops = nn.ModuleList([make_op(op, c) or nn.Identity() for op in ops])
        self.live = [op != 'none' for op in ops]

    def forward(self, x):
        nodes = [x]
        for j in range(1, 4):
            acc = None
            for e, (dst, src) in enumerate(self.EDGES):
                if dst == j and self.live[e]:
                    y = self.ops[e](nodes[src])
                    acc = y if acc is None else acc + y
            nodes.append(acc if acc is not None else torch.zeros_like(x))
        return nodes[3]


class Reduction(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.a = nn.Sequential(nn.ReLU(), nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout))
        self.b = nn.Sequential(nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.short = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x):
        return self.b(self.a(x)) + self.short(x)


def nb201(ops, c, n, stages):
    layers = [nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)]
    for s in range(stages):
        if s > 0:
            layers.append(Reduction(c, c * 2))
            c *= 2
        layers += [Cell(ops, c) for _ in range(n)]
    layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)


def measure(model, batch, seconds):
    x = torch.randn(batch * 20, 1, 28, 28)
    y = torch.randint(0, 10, (batch * 20,))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(i):
        j = (i % 20) * batch
        opt.zero_grad()
        loss = loss_fn(model(x[j:j + batch]), y[j:j + batch])
        loss.backward()
        opt.step()

    for i in range(3):
        step(i)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(n)
        n += 1
    return n * batch / (time.perf_counter() - start)


def main():
    cfg = json.loads(sys.argv[1])
    torch.manual_seed(0)
    torch.set_num_threads(cfg.get('threads', 2))
    results = []
    for job in cfg['jobs']:
        if job['model'] == 'mlp':
            model = mlp()
        elif job['model'] == 'cnn':
            model = cnn()
        else:
            model = nb201(job['ops'], job['channels'], job['cellsPerStage'], job['stages'])
        results.append({'model': job['model'], 'batch': job['batch'],
                        'samplesPerSec': measure(model, job['batch'], cfg.get('seconds', 3))})
    print(json.dumps({'results': results}))


if __name__ == '__main__':
    main()
