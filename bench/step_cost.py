#!/usr/bin/env python
"""Where the time of one training step of `simple_cnn` goes, what fastai adds to it, and how fast this CPU runs
convolutions of other sizes.

`train_speed.py` times whole fits; this script takes one training step (batch 64) apart:

  phases   batch, forward, loss, backward, optimiser and schedule step, zero_grad of a step of the plain loop
           (`cnn_course.speed.plain_fit`'s: PyTorch's AdamW and OneCycleLR), and the whole step;
  layers   one forward and one backward call of each of simple_cnn's five convolutions as in training (autograd on;
           the first one computes no gradient for its input), with its multiply-adds;
  sizes    a forward and backward call of 3x3 convolutions with more and more channels (batch 64, 28x28, stride 1), to
           see how much arithmetic a call must carry before the CPU runs near its full speed;
  optim    fastai's `Adam` (the Learner's default) beside PyTorch's AdamW, as the plain loop builds it, with its
           `foreach` and `fused` implementations, over simple_cnn's 10 parameter tensors;
  fastai   the course's `Learner` fit (pipeline B) against the plain loop (C), five of each, back to back, and one B fit
           under cProfile, its time split between fastai and fastcore, PyTorch, and the course's own code (cnn_course),
           and by fastai internal: the dispatch of events to callbacks, each callback's own work, fastai's Adam, moving
           each batch, and the course's loader.

A backward call computes the weights' gradient and, except in the first layer, the input's: each costs as many
multiply-adds as the forward call, so a pair counts 3x the forward's (2x in the first layer: `train_macs`). Single
operations are timed with `torch.utils.benchmark` (the median of blocked runs); a record is written only on a quiet
machine (bench/common.py).

    python bench/step_cost.py              # writes bench/step_cost.json
    python bench/step_cost.py --quick      # channels up to 16, a check that it works (writes no JSON)
"""
import argparse, cProfile, os, pstats, statistics, sys, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT/'bench'))

import torch, torch.nn.functional as F
from torch.utils import benchmark
from common import CpuShare, describe, header, machine, paired, refusal, save
from train_speed import plain_data, fit_fastai, fit_plain, BS, EPOCHS
from cnn_course.data import mnist_dls, TensorDL
from cnn_course.models import simple_cnn
from cnn_course.speed import plain_optimiser, one_cycle
with warnings.catch_warnings():
    warnings.filterwarnings('ignore', category=FutureWarning)
    from fastai.optimizer import Adam, Optimizer
    from fastai.learner import Learner
    from fastai.metrics import accuracy
    from fastai.callback.core import Callback, _events
    from fastai.callback.progress import ProgressCallback
    from fastai.callback.schedule import ParamScheduler


def timeit(fn, min_run_time=0.3)->float:
    "Median seconds of one call of `fn`, by `torch.utils.benchmark` (blocked runs, after a warm-up)"
    return benchmark.Timer(stmt='fn()', globals={'fn': fn}, num_threads=torch.get_num_threads()).blocked_autorange(
        min_run_time=min_run_time).median


def conv_call_costs(ni, nf, size, stride, bs=BS, input_grad=True):
    "Seconds of one forward call (recorded by autograd, as in training) and one backward call of a 3x3 convolution"
    x = torch.randn(bs, ni, size, size, requires_grad=input_grad)
    conv = torch.nn.Conv2d(ni, nf, 3, stride, 1)
    out = conv(x); g = torch.randn_like(out)
    def fwd(): conv(x)
    def bwd(): torch.autograd.grad(out, [x, *conv.parameters()] if input_grad else list(conv.parameters()), g, retain_graph=True)
    macs = out.numel() * ni * 9
    return dict(ni=ni, nf=nf, size=size, stride=stride, out_size=out.shape[-1], macs=macs,
                train_macs=macs * (3 if input_grad else 2), fwd_s=timeit(fwd), bwd_s=timeit(bwd), input_grad=input_grad)


def layer_costs():
    "Each convolution of simple_cnn as it runs in training (the first one needs no gradient for its input)"
    rows, size = [], 28
    for i, (ni, nf) in enumerate([(1, 4), (4, 8), (8, 16), (16, 32), (32, 2)]):
        r = conv_call_costs(ni, nf, size, 2, input_grad=i > 0)
        rows.append(r); size = r['out_size']
    return rows


def step_phases(data, epochs=3):
    "Median seconds of each phase, and of the whole step, of the plain loop's training step on real batches"
    xt, yt = data
    model = simple_cnn()
    n_batches = len(xt) // BS
    opt = plain_optimiser(model); sched = one_cycle(opt, epochs * n_batches)
    names = ['batch', 'forward', 'loss', 'backward', 'step', 'zero_grad']
    phases, whole = {k: [] for k in names}, []
    for epoch in range(epochs):
        idxs = torch.randperm(len(xt))
        for i in range(n_batches):
            t = [time.perf_counter()]
            b = idxs[i*BS:(i+1)*BS]; xb, yb = xt[b], yt[b];   t.append(time.perf_counter())
            out = model(xb);                                   t.append(time.perf_counter())
            loss = F.cross_entropy(out, yb);                   t.append(time.perf_counter())
            loss.backward();                                   t.append(time.perf_counter())
            opt.step(); sched.step();                          t.append(time.perf_counter())
            opt.zero_grad();                                   t.append(time.perf_counter())
            if epoch == 0: continue  # warm-up epoch
            for k, a, z in zip(names, t, t[1:]): phases[k].append(z - a)
            whole.append(t[-1] - t[0])
    return {k: statistics.median(v) for k, v in phases.items()}, statistics.median(whole)


def optimiser_costs():
    "One step of fastai's Adam and of PyTorch's AdamW (as the plain loop builds it; foreach; fused) over simple_cnn's parameters"
    model = simple_cnn()
    for p in model.parameters(): p.grad = torch.randn_like(p)
    ps = list(model.parameters())
    def adamw(**kw): return torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01, **kw)
    def op():
        with torch.no_grad(): ps[0].mul_(1.0)
    return dict(n_tensors=len(ps), fastai_adam_s=timeit(Adam(ps, lr=1e-3).step), torch_adamw_s=timeit(plain_optimiser(model, lr=1e-3).step),
                torch_adamw_foreach_s=timeit(adamw(foreach=True).step), torch_adamw_fused_s=timeit(adamw(fused=True).step),
                elementwise_op_s=timeit(op))


def fastai_split(stats:dict, cb_classes:list)->dict:
    """Profiled seconds of one B fit that fastai's internals and the course's loader spend, each named: the callbacks'
    own event methods, the dispatch that calls them (all of `Learner.__call__` but their own work), fastai's Adam
    (its tensor arithmetic included), moving and splitting each batch, and `cnn_course`'s `TensorDL`"""
    def cum(*fns): return sum(v[3] for (file, line, _), v in stats.items()
                              if (file, line) in {(f.__code__.co_filename, f.__code__.co_firstlineno) for f in fns})
    def calls(f): return sum(v[1] for (file, line, _), v in stats.items() if (file, line) == (f.__code__.co_filename, f.__code__.co_firstlineno))
    own = {c.__name__: cum(*[vars(c)[e] for e in _events if e in vars(c)]) for c in cb_classes}
    return dict(seconds={'event dispatch': cum(Learner.__call__) - sum(own.values()), **own,
                         "fastai's Adam step and zero_grad": cum(Optimizer.step, Optimizer.zero_grad),
                         'batch to device, split into x and y': cum(Learner._set_device, Learner._split),
                         "cnn_course's loader (TensorDL)": cum(TensorDL.__iter__)},
                events=calls(Learner.__call__), callback_calls=calls(Callback.__call__), callbacks=[c.__name__ for c in cb_classes])


def fastai_costs(data, n=5):
    "B (the course's Learner) against C (the plain loop), back to back, and where one B fit's time goes, by package and by fastai internal"
    dls = mnist_dls(bs=BS, device='cpu')
    fit_fastai(dls, 1000); fit_plain(data, 1000)   # warm-up
    runs = []
    for seed in range(n):
        for p, f in (('B', lambda s: fit_fastai(dls, s)), ('C', lambda s: fit_plain(data, s))):
            runs.append(dict(pipeline=p, seed=seed, round=0, fit_s=f(seed)['fit_s']))
    prof = cProfile.Profile(); prof.enable(); fit_fastai(dls, 0); prof.disable()
    stats = pstats.Stats(prof).stats
    by, top = {}, []
    for (file, line, fn), (cc, nc, tt, ct, callers) in stats.items():
        pkg = next((k for k in ('cnn_course', 'fastai', 'fastcore', 'fastprogress', 'torch') if f'/{k}/' in file), 'torch (C++)'
                   if file == '~' and fn.startswith(('<method', '<built-in method')) and 'torch' in fn else 'other Python')
        by[pkg] = by.get(pkg, 0) + tt
        if pkg in ('fastai', 'fastcore'): top.append((tt, f"{file.split('site-packages/')[-1]}:{fn}"))
    learn = Learner(dls, simple_cnn(), loss_func=F.cross_entropy, metrics=accuracy)   # the callbacks of fit_fastai's fit
    cbs = [type(cb) for cb in learn.cbs if not isinstance(cb, ProgressCallback)] + [ParamScheduler]
    med = lambda p: statistics.median(r['fit_s'] for r in runs if r['pipeline'] == p)
    return dict(runs=runs, median_B_s=med('B'), median_C_s=med('C'), paired_B_over_C=paired(runs, 'B', 'C'),
                profile_s=dict(sorted(by.items(), key=lambda kv: -kv[1])), profiled_fit_s=sum(by.values()),
                internals=fastai_split(stats, cbs), batches=len(dls.train) * EPOCHS + len(dls.valid) * EPOCHS,
                top_fastai=[dict(fn=f, s=t) for t, f in sorted(top, reverse=True)[:8]])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='convolutions up to 16 channels only; writes no JSON')
    ap.add_argument('--out', default=None, help='JSON file to write (default bench/step_cost.json, none with --quick)')
    ap.add_argument('--force', action='store_true', help='write the record even when the machine was busy (marked noisy)')
    args = ap.parse_args(argv)
    if args.out is None: args.out = '' if args.quick else str(ROOT/'bench'/'step_cost.json')
    torch.manual_seed(0)
    info = machine(wait=bool(args.out))   # a record waits for a quiet start; --quick does not
    print(describe(info), flush=True)
    data = plain_data()
    res = dict(description='one training step of simple_cnn (batch 64) taken apart; seconds are medians',
               **header('step_cost.py', argv), machine=info, bs=BS)
    with CpuShare() as cpu:
        res['phases_s'], res['step_s'] = step_phases(data[:2])
        res['layers'] = layer_costs()
        res['sizes'] = [conv_call_costs(c, c, 28, 1) for c in ((4, 8, 16) if args.quick else (4, 8, 16, 32, 64, 128))]
        res['optimiser'] = optimiser_costs()
        res['fastai'] = fastai_costs(data)
    info['load_avg_after'] = list(os.getloadavg())
    res['other_cpu_share'] = cpu.share
    ph, fa = res['phases_s'], res['fastai']
    print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['torch_threads']} threads)")
    print('one training step of the plain loop, batch 64, median of each phase (ms): '
          + ', '.join(f'{k} {v*1e3:.2f}' for k, v in ph.items()) + f"; median of the whole step {res['step_s']*1e3:.2f}")
    print(f"{'convolution':<24}{'fwd MACs':>12}{'fwd us':>9}{'bwd us':>9}{'GMAC/s':>9}")
    for r in res['layers'] + res['sizes']:
        print(f"{r['ni']}->{r['nf']} {r['size']}x{r['size']} s{r['stride']:<10}{r['macs']:>12,}{r['fwd_s']*1e6:>9.0f}"
              f"{r['bwd_s']*1e6:>9.0f}{r['train_macs'] / (r['fwd_s'] + r['bwd_s']) / 1e9:>9.2f}")
    print('optimiser step (us): ' + ', '.join(f'{k[:-2]} {v*1e6:.0f}' for k, v in res['optimiser'].items() if k.endswith('_s')))
    print(f"B {fa['median_B_s']:.2f} s, C {fa['median_C_s']:.2f} s, B/C paired {fa['paired_B_over_C']['median']:.2f}; "
          'one B fit under cProfile: ' + ', '.join(f'{k} {v:.2f} s' for k, v in fa['profile_s'].items()))
    print(f"  by fastai internal ({fa['internals']['events']} events, {fa['internals']['callback_calls']} callback calls over "
          f"{fa['batches']} batches): " + ', '.join(f'{k} {v:.3f} s' for k, v in fa['internals']['seconds'].items()))
    print(f'other processes used {cpu.share:.1%} of the CPU')
    save(res, args.out, refusal(cpu.share, {'B/C': fa['paired_B_over_C']}, info['load_avg_before'][0]), args.force)
    return res


if __name__ == '__main__': main()
