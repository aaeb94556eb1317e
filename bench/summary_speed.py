#!/usr/bin/env python
"""How long `cnn_summary` takes on real-size networks (no real forward pass: everything runs on the meta device).

    python bench/summary_speed.py            # resnet18, resnet50, vgg16, densenet121 at 224x224
    python bench/summary_speed.py --json bench/summary_speed.json

Each model is built on the meta device (as `cnn_course summary` does), summarised once to warm up PyTorch's
meta kernels, then timed over several repeats; the table shows the median and the fastest run.
"""
import argparse, json, os, platform, statistics, time, warnings
import torch, torchvision
from cnn_course.summary import cnn_summary


def bench(name, repeats):
    with warnings.catch_warnings(), torch.device('meta'):
        warnings.simplefilter('ignore')
        model = torchvision.models.get_model(name, weights=None)
    shape = (1, 3, 224, 224)
    t = time.perf_counter(); s = cnn_summary(model, shape); first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); cnn_summary(model, shape); times.append(time.perf_counter() - t)
    return dict(model=name, rows=len(s) - 1, params=int(s.params.iloc[-1]), macs=int(s.macs.iloc[-1]),
                first_s=round(first, 3), median_s=round(statistics.median(times), 3), min_s=round(min(times), 3))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--models', nargs='*', default=['resnet18', 'resnet50', 'vgg16', 'densenet121'])
    p.add_argument('--repeats', type=int, default=7)
    p.add_argument('--json', help='also write the results to this JSON file')
    a = p.parse_args()
    rows = [bench(m, a.repeats) for m in a.models]
    print(f"{'model':<12} {'rows':>5} {'parameters':>12} {'MACs':>15} {'first (s)':>10} {'median (s)':>11} {'min (s)':>8}")
    for r in rows:
        print(f"{r['model']:<12} {r['rows']:>5} {r['params']:>12,} {r['macs']:>15,} {r['first_s']:>10.3f} "
              f"{r['median_s']:>11.3f} {r['min_s']:>8.3f}")
    machine = f'{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, Python {platform.python_version()}'
    print(f'machine: {machine}')
    if a.json:
        with open(a.json, 'w') as f: json.dump(dict(machine=machine, input=[1, 3, 224, 224], results=rows), f, indent=2)


if __name__ == '__main__': main()
