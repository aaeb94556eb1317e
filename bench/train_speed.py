#!/usr/bin/env python
"""How long does `fit_one_cycle(2, 0.01)` of `simple_cnn` on MNIST_SAMPLE take, and how accurate is it?

Three pipelines train the same model with the same recipe, and a fourth changes one thing, interleaved A B C D,
D C B A, A B C D, ... so that a change in the machine's speed hits all of them alike, and no pipeline always runs
right after the same other one:

  A  fastbook's pipeline: a `DataBlock` over the PNG files (`ImageBlock(cls=PILImageBW)`,
     `GrandparentSplitter`, `parent_label`), default loaders, the course's `Learner`;
  B  the course: `cnn_course.data.mnist_dls` (tensors decoded once, sliced into batches) and
     `Learner(dls, simple_cnn(), loss_func=F.cross_entropy, metrics=accuracy)`;
  C  a plain PyTorch loop over the same in-memory tensors (`cnn_course.speed.plain_fit`): the same model and batch
     size, `torch.optim.AdamW` with fastai's default Adam hyper-parameters (no weight decay on biases, as fastai),
     PyTorch's `OneCycleLR` set up as fastai's one-cycle schedule, the last partial training batch dropped, and
     validation after each epoch;
  D  B with one change to the Learner call, `opt_func`: PyTorch's fused AdamW through fastai's `OptimWrapper`.

Only `fit` is timed (`time.perf_counter`), with no callback added to the Learner (`EpochClock`); loading and
decoding the data is not, for any pipeline (A still decodes every PNG inside its epochs: that is its design). Every
pipeline is warmed up once before timing. Each (round, seed) trains every pipeline; accuracy is the validation accuracy after the
last epoch. The result is printed as a table and written as JSON.

    python bench/train_speed.py                    # A B C D, 3 rounds x 5 seeds: the measured record
    python bench/train_speed.py --quick            # 1 round x 2 seeds, a check that it works (writes no JSON)
    python bench/train_speed.py --rounds 1 --seeds 0 1 --out /tmp/x.json
    python bench/train_speed.py --pipelines ABC    # only some of the pipelines

Timings are only meaningful on a quiet machine: with 2 cores, one other busy process makes PyTorch's 2 OpenMP threads
wait for each other and a fit can take 2-10 times longer. So a record first waits (`--wait` minutes at most) for a
1-minute load average below 0.6 and a steady machine, and is written only when it started below that load, other
processes used at most 5% of the CPU during the run, and the paired ratios A/B and B/C spread by at most 10%
(interquartile range over median): bench/common.py. It records the load average, the machine's speed, that CPU share
and the spread.
"""
import argparse, gc, json, os, statistics, sys, time, warnings
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT/'bench'))

import torch
import torch.nn.functional as F
with warnings.catch_warnings():
    warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated', category=FutureWarning)
    from fastai.vision.all import (DataBlock, ImageBlock, PILImageBW, CategoryBlock, get_image_files,
                                   GrandparentSplitter, parent_label, Learner, accuracy, set_seed)
from common import CpuShare, describe, header, machine, paired, refusal, save
from cnn_course.data import mnist_path, mnist_tensors, mnist_dls
from cnn_course.models import simple_cnn
from cnn_course.speed import plain_fit

EPOCHS, LR, BS = 2, 0.01, 64
TARGETS = dict(speedup_vs_fastbook_min=6.0, ratio_vs_plain_max=1.3, median_acc_min=0.99, min_acc_min=0.985)
NAMES = {'A': 'fastbook DataBlock (PNG files)', 'B': 'cnn_course mnist_dls + Learner', 'C': 'plain PyTorch loop',
         'D': 'B with fused AdamW (OptimWrapper)'}


class EpochClock:
    """Time each epoch of a fastai fit, from the training loader's first batch to the validation loader's last, without
    a callback: fastai calls every callback at every event of every batch, so a timing callback would add to the fit it
    times (one more callback at each of a fit's 3,359 events: a quarter more of fastai's dispatch, on B and D but not
    C). It wraps the two loaders' `before_iter` and `after_iter` for a `with` block."""
    def __init__(self, dls): self.dls, self.starts, self.ends = dls, [], []
    def __enter__(self):
        train, valid = self.dls.train, self.dls.valid
        self.saved = [(train, 'before_iter', vars(train).get('before_iter')), (valid, 'after_iter', vars(valid).get('after_iter'))]
        before_iter, after_iter = train.before_iter, valid.after_iter
        def start():
            self.starts.append(time.perf_counter()); before_iter()
        def end():
            after_iter(); self.ends.append(time.perf_counter())
        train.before_iter, valid.after_iter = start, end
        return self
    def __exit__(self, *exc):
        for dl, name, f in self.saved:
            if f is None: delattr(dl, name)   # the loader's own method again
            else: setattr(dl, name, f)
    @property
    def times(self): return [e - s for s, e in zip(self.starts, self.ends)]


def fastbook_dls(bs=BS):
    "fastbook's way: a DataBlock over the PNG files, default loaders"
    dblock = DataBlock(blocks=(ImageBlock(cls=PILImageBW), CategoryBlock), get_items=get_image_files,
                       splitter=GrandparentSplitter(), get_y=parent_label)
    return dblock.dataloaders(mnist_path(), bs=bs)


def fit_fastai(dls, seed, opt_func=None):
    "Seed, build the course's Learner on `dls` (with fastai's default optimiser unless `opt_func`), time `fit_one_cycle(EPOCHS, LR)`"
    set_seed(seed, reproducible=True)
    learn = Learner(dls, simple_cnn(), loss_func=F.cross_entropy, metrics=accuracy, **({'opt_func': opt_func} if opt_func else {}))
    with learn.no_bar(), learn.no_logging(), EpochClock(dls) as clock:
        t0 = time.perf_counter()
        learn.fit_one_cycle(EPOCHS, LR)
        secs = time.perf_counter() - t0
    return dict(fit_s=secs, epoch_s=clock.times, acc=float(learn.recorder.values[-1][-1]), n_train=len(dls.train) * dls.train.bs)


def fit_plain(data, seed):
    "Pipeline C: `cnn_course.speed.plain_fit`, with the record's fields"
    set_seed(seed, reproducible=True)
    r = plain_fit(data, seed, EPOCHS, LR, BS)
    return dict(**r, n_train=len(data[0]) // BS * BS)


def fused_adam(params, **kwargs):
    "Pipeline D's one change to B: PyTorch's fused Adam (decoupled weight decay, as fastai's) through fastai's OptimWrapper"
    from fastai.optimizer import OptimWrapper
    return OptimWrapper(params, partial(torch.optim.AdamW, fused=True), **kwargs)


def plain_data(device='cpu'):
    "The same float tensors `mnist_dls` serves, as plain tensors"
    d = mnist_tensors()
    def f(x): return x.to(device).unsqueeze(1).float().div_(255)
    return f(d['train_x']), d['train_y'].to(device), f(d['valid_x']), d['valid_y'].to(device)


def med(xs): return statistics.median(xs)


def summarise(runs, pipes, seeds):
    "Per-pipeline medians and per-seed accuracies, the paired ratios and which targets they meet"
    out = {}
    for p in pipes:
        rs = [r for r in runs if r['pipeline'] == p]
        fit = med([r['fit_s'] for r in rs])
        acc = {str(s): [r['acc'] for r in rs if r['seed'] == s][0] for s in seeds}
        out[p] = dict(name=NAMES[p], runs=len(rs), median_fit_s=fit, min_fit_s=min(r['fit_s'] for r in rs),
                      max_fit_s=max(r['fit_s'] for r in rs), images_per_s=rs[0]['n_train'] * EPOCHS / fit,
                      median_epoch1_s=med([r['epoch_s'][0] for r in rs]),
                      median_later_epoch_s=med([e for r in rs for e in r['epoch_s'][1:]]),
                      acc_per_seed=acc, median_acc=med(list(acc.values())), min_acc=min(acc.values()),
                      acc_reproducible=all(len({round(r['acc'], 4) for r in rs if r['seed'] == s}) == 1 for s in seeds))
    ratios = {f'{hi}/{lo}': paired(runs, hi, lo) for hi, lo in [('A', 'B'), ('B', 'C'), ('D', 'C'), ('A', 'D')]
              if hi in out and lo in out}
    res = dict(pipelines=out, paired=ratios, targets=TARGETS)
    if 'B' in out:
        b, t = out['B'], TARGETS
        met = dict(median_acc=b['median_acc'] >= t['median_acc_min'], min_acc=b['min_acc'] >= t['min_acc_min'])
        if 'A/B' in ratios: met['speedup_vs_fastbook'] = ratios['A/B']['median'] >= t['speedup_vs_fastbook_min']
        if 'B/C' in ratios: met['ratio_vs_plain'] = ratios['B/C']['median'] <= t['ratio_vs_plain_max']
        res['targets_met'] = met
    return res


def table(res, seeds):
    "The summary as a plain-text table"
    lines = [f"{'pipeline':<40}{'fit s':>8}{'min s':>8}{'max s':>8}{'ep1 s':>8}{'ep2+ s':>8}{'med acc':>9}{'min acc':>9}"
             f"  acc per seed ({' '.join(map(str, seeds))})"]
    for p, r in res['pipelines'].items():
        lines.append(f"{p+' '+r['name']:<40}{r['median_fit_s']:>8.2f}{r['min_fit_s']:>8.2f}{r['max_fit_s']:>8.2f}"
                     f"{r['median_epoch1_s']:>8.2f}{r['median_later_epoch_s']:>8.2f}{r['median_acc']:>9.4f}{r['min_acc']:>9.4f}  "
                     + ' '.join(f'{a:.4f}' for a in r['acc_per_seed'].values()))
    for k, v in res['paired'].items():
        lines.append(f"{k} run by run (same round and seed): median {v['median']:.2f}x, from {v['min']:.2f}x to {v['max']:.2f}x "
                     f"over {v['n']} pairs; interquartile range {v['iqr_over_median']:.1%} of the median")
    if 'targets_met' in res: lines.append('targets met: ' + ', '.join(f'{k}={v}' for k, v in res['targets_met'].items()))
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rounds', type=int, default=3, help='passes over all seeds (default 3)')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4], help='seeds (default 0 1 2 3 4)')
    ap.add_argument('--pipelines', default='ABCD', help='which of A, B, C and D (B with fused Adam) to run (default ABCD)')
    ap.add_argument('--quick', action='store_true', help='1 round of seeds 0 and 1: checks that it works (writes no JSON)')
    ap.add_argument('--out', default=None, help='JSON file (default bench/train_speed.json, none with --quick)')
    ap.add_argument('--wait', type=float, default=10, help='minutes to wait at most for a quiet, steady machine (default 10)')
    ap.add_argument('--force', action='store_true', help='write the record even when the machine was busy (marked noisy)')
    args = ap.parse_args(argv)
    if args.quick: args.rounds, args.seeds = 1, [0, 1]
    if args.out is None: args.out = '' if args.quick else str(ROOT/'bench'/'train_speed.json')
    pipes = [p for p in 'ABCD' if p in args.pipelines.upper()]
    if not pipes: ap.error('--pipelines needs at least one of A, B, C, D')
    info = machine(wait=bool(args.out), max_wait=args.wait * 60)   # a record waits for a quiet start; --quick does not
    print(describe(info), flush=True)
    t = time.perf_counter()
    loaders = {'A': fastbook_dls() if 'A' in pipes else None, 'B': mnist_dls(bs=BS, device='cpu')}
    data = plain_data()
    print(f'data ready in {time.perf_counter() - t:.1f} s (not timed below)', flush=True)
    def run(p, seed):
        gc.collect()   # outside the timed fit: the garbage of the run before is not charged to this one
        if p == 'C': return fit_plain(data, seed)
        if p == 'D': return fit_fastai(loaders['B'], seed, opt_func=fused_adam)
        return fit_fastai(loaders[p], seed)
    for p in pipes:  # warm-up: first calls pay for lazy initialisation, page cache and allocator growth
        r = run(p, 1000); print(f'warm-up {p}: {r["fit_s"]:.2f} s', flush=True)
    runs = []
    with CpuShare() as cpu:
        for i, (rnd, seed) in enumerate((rnd, seed) for rnd in range(args.rounds) for seed in args.seeds):
            for pos, p in enumerate(pipes if i % 2 == 0 else pipes[::-1]):   # A B C D, then D C B A, ...
                r = run(p, seed); r.update(pipeline=p, seed=seed, round=rnd, position=pos); runs.append(r)
                print(f"round {rnd} seed {seed} {p}: fit {r['fit_s']:.2f} s (epochs "
                      f"{', '.join(f'{e:.2f}' for e in r['epoch_s'])}), accuracy {r['acc']:.4f}", flush=True)
    res = summarise(runs, pipes, args.seeds)
    info['load_avg_after'] = list(os.getloadavg())
    res = dict(description='fit_one_cycle(2, 0.01) of simple_cnn on MNIST_SAMPLE (12,396 train / 2,038 valid images), '
                           'batch size 64, fit time only', **header('train_speed.py', argv), machine=info,
               other_cpu_share=cpu.share, rounds=args.rounds, seeds=args.seeds, epochs=EPOCHS, lr=LR, bs=BS,
               fastbook_num_workers=loaders['A'].train.fake_l.num_workers if loaders['A'] else None, **res, runs=runs)
    print(); print(table(res, args.seeds))
    print(f'other processes used {cpu.share:.1%} of the CPU during the timed runs')
    save(res, args.out, refusal(cpu.share, {k: v for k, v in res['paired'].items() if k in ('A/B', 'B/C')},
                           info['load_avg_before'][0]), args.force)
    return res


if __name__ == '__main__': main()
