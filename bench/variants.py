#!/usr/bin/env python
"""Lesson 6's design comparison: simple_cnn against a larger first kernel and against pooling, over several seeds.

Each variant of `cnn_course.summary.cnn_variant` is trained with lesson 3's recipe, `train_simple_cnn(seed, arch=...)`
(`fit_one_cycle(2, 0.01)` on MNIST_SAMPLE, batch 64), once per seed, on the CPU; the record keeps each seed's
validation accuracy (after each of the two epochs) and fit time. Training is seeded, so a seed gives the same accuracy
every time on the same machine; lesson 6 trains seed 0 of each variant live for the first of its two epochs (the same
computation as the first epoch here: the one-cycle schedule is planned for both) and checks it against this record.

    python bench/variants.py            # 5 seeds, writes bench/variants.json (only on a quiet machine)
    python bench/variants.py --quick    # 1 seed, prints only
"""
import argparse, os, statistics, sys, time, warnings
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT/'bench'))
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated', category=FutureWarning)
from common import CpuShare, describe, header, machine, refusal, save
from cnn_course.summary import cnn_variant
from cnn_course.train import train_simple_cnn

VARIANTS = {'simple_cnn': {}, 'first 5×5': dict(ks=5), 'first 5×5, 8 channels': dict(ks=5, nf=8),
            'max pooling': dict(pool='max'), 'average pooling': dict(pool='avg')}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    ap.add_argument('--quick', action='store_true', help='seed 0 only; writes nothing')
    ap.add_argument('--out', default=str(ROOT/'bench'/'variants.json'))
    ap.add_argument('--force', action='store_true', help='write the record even if the machine was busy (marked noisy)')
    a = ap.parse_args(argv)
    if a.quick: a.seeds, a.out = [0], ''
    info = machine(wait=bool(a.out))   # a record waits for a quiet start; --quick does not
    print(describe(info), flush=True)
    train_simple_cnn(seed=1000, show_progress=False, device='cpu')   # warm-up
    res = {}
    with CpuShare() as cpu:
        for name, kw in VARIANTS.items():
            accs, accs1, secs = {}, {}, {}
            for seed in a.seeds:
                t = time.perf_counter()
                learn = train_simple_cnn(seed=seed, arch=partial(cnn_variant, **kw), show_progress=False, device='cpu')
                secs[str(seed)], accs[str(seed)] = time.perf_counter() - t, float(learn.recorder.values[-1][-1])
                accs1[str(seed)] = float(learn.recorder.values[0][-1])   # after the first epoch
                print(f'{name:<24} seed {seed}: accuracy {accs[str(seed)]:.4f}, {secs[str(seed)]:.1f} s', flush=True)
            res[name] = dict(kwargs=kw, acc_per_seed=accs, acc_epoch1_per_seed=accs1, fit_s_per_seed=secs, mean_acc=statistics.mean(accs.values()),
                             min_acc=min(accs.values()), max_acc=max(accs.values()))
    info['load_avg_after'] = list(os.getloadavg())
    rec = dict(description='validation accuracy of cnn_variant(**kwargs) trained with train_simple_cnn(seed, arch=...): '
                           'fit_one_cycle(2, 0.01), MNIST_SAMPLE, batch 64, CPU', **header('variants.py', argv),
               machine=info, seeds=a.seeds, other_cpu_share=cpu.share, variants=res)
    print(f'other processes used {cpu.share:.1%} of the CPU')
    for name, r in res.items():
        print(f"{name:<24} mean {r['mean_acc']:.4f}  range {r['min_acc']:.4f} to {r['max_acc']:.4f}")
    save(rec, a.out, refusal(cpu.share, {}, info['load_avg_before'][0]), a.force)
    return rec


if __name__ == '__main__': main()
