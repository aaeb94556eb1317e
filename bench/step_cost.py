#!/usr/bin/env python
"""Where the time of one training step of `simple_cnn` goes, and how fast this CPU runs convolutions of other sizes.

`train_speed.py` times whole fits; this script takes one training step (batch 64) apart:

  phases   batch, schedule, forward, loss, backward, optimiser step and zero_grad of a step of pipeline C's loop
           (the same optimiser and one-cycle schedule), and the whole step;
  layers   one forward and one backward call of each of simple_cnn's five convolutions as in training (autograd
           on; the first one computes no gradient for its input), with its multiply-adds;
  sizes    a forward and backward call of 3x3 convolutions with more and more channels (batch 64, 28x28 input,
           stride 1), to see how much arithmetic a call must carry before the CPU runs near its full speed;
  optim    fastai's `Adam` (the Learner's default) beside pipeline C's `torch.optim.AdamW` on simple_cnn's parameters.

A backward call computes the weights' gradient and, except in the first layer, the input's: each costs as many
multiply-adds as the forward call, so a forward and backward pair counts 3x the forward's (2x in the first layer:
`train_macs`). Every number is the median of several repeats after a warm-up. As in train_speed.py, the record is
flagged noisy when the load average at the start is over half the number of cores.

    python bench/step_cost.py              # writes bench/step_cost.json
    python bench/step_cost.py --quick      # channels up to 16, a check that it works (writes no JSON)
    python bench/step_cost.py --out ''     # prints only
"""
import argparse, os, statistics, sys, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT/'bench'))

import torch, torch.nn.functional as F
from train_speed import machine, plain_data, plain_optimiser, set_one_cycle, busy_at_start, header, save, BS
from cnn_course.models import simple_cnn
with warnings.catch_warnings():
    warnings.filterwarnings('ignore', category=FutureWarning)
    from fastai.optimizer import Adam


def timeit(fn, repeats=7, number=None, budget=0.3):
    "Median seconds of one `fn()` over `repeats` timings of `number` calls each (`number` chosen to fill `budget` s)"
    fn()
    if number is None:
        t = time.perf_counter(); fn(); once = time.perf_counter() - t
        number = max(1, min(1000, int(budget / max(once, 1e-6))))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(number): fn()
        times.append((time.perf_counter() - t) / number)
    return statistics.median(times)


def conv_call_costs(ni, nf, size, stride, bs=BS, input_grad=True):
    "Seconds of one forward call (recorded by autograd, as in training) and one backward call of a 3x3 convolution"
    x = torch.randn(bs, ni, size, size, requires_grad=input_grad)
    conv = torch.nn.Conv2d(ni, nf, 3, stride, 1)
    out = conv(x); g = torch.randn_like(out)
    def fwd(): conv(x)
    def bwd(): torch.autograd.grad(out, [x, *conv.parameters()] if input_grad else list(conv.parameters()), g,
                                   retain_graph=True)
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


def size_costs(channels=(4, 8, 16, 32, 64, 128)):
    "3x3 convolutions with c input and c output channels on 64 images of 28x28, stride 1"
    return [conv_call_costs(c, c, 28, 1) for c in channels]


def step_phases(data, epochs=3):
    "Median seconds of each phase, and of the whole step, of pipeline C's training step on real batches"
    xt, yt = data
    model = simple_cnn()
    opt = plain_optimiser(model)
    n_batches = len(xt) // BS
    names = ['batch', 'schedule', 'forward', 'loss', 'backward', 'step', 'zero_grad']
    phases, whole = {k: [] for k in names}, []
    for epoch in range(epochs):
        idxs = torch.randperm(len(xt))
        for i in range(n_batches):
            t = [time.perf_counter()]
            b = idxs[i*BS:(i+1)*BS]; xb, yb = xt[b], yt[b];              t.append(time.perf_counter())
            set_one_cycle(opt, (epoch * n_batches + i) / (epochs * n_batches)); t.append(time.perf_counter())
            out = model(xb);                                              t.append(time.perf_counter())
            loss = F.cross_entropy(out, yb);                              t.append(time.perf_counter())
            loss.backward();                                              t.append(time.perf_counter())
            opt.step();                                                   t.append(time.perf_counter())
            opt.zero_grad();                                              t.append(time.perf_counter())
            if epoch == 0: continue  # warm-up epoch
            for k, a, z in zip(names, t, t[1:]): phases[k].append(z - a)
            whole.append(t[-1] - t[0])
    return {k: statistics.median(v) for k, v in phases.items()}, statistics.median(whole)


def optimiser_costs():
    "One step of fastai's Adam (the Learner's default) and of pipeline C's AdamW over simple_cnn's 10 parameter tensors"
    model = simple_cnn()
    for p in model.parameters(): p.grad = torch.randn_like(p)
    fastai_adam = Adam(list(model.parameters()), lr=1e-3)
    torch_adamw = plain_optimiser(model, lr=1e-3)  # as pipeline C: AdamW, two groups (no weight decay on biases)
    n_ops = sum(1 for _ in model.parameters())
    return dict(n_tensors=n_ops, fastai_adam_s=timeit(fastai_adam.step), torch_adamw_s=timeit(torch_adamw.step),
                elementwise_op_s=timeit(elementwise_op(model[0][0].weight)))


def elementwise_op(t):
    "One small elementwise operation as the optimisers make them: in place, without autograd"
    def f():
        with torch.no_grad(): t.mul_(1.0)
    return f


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='convolutions up to 16 channels only; writes no JSON')
    ap.add_argument('--out', default=None, help='JSON file to write ("" for none; default bench/step_cost.json, '
                                                'or none with --quick)')
    ap.add_argument('--threads', type=int, default=None, help="PyTorch threads (default: PyTorch's own)")
    args = ap.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)
    if args.out is None: args.out = '' if args.quick else str(ROOT/'bench'/'step_cost.json')
    torch.manual_seed(0)
    info = machine()
    xt, yt, _, _ = plain_data()
    res = dict(description='one training step of simple_cnn (batch 64) taken apart; seconds are medians',
               **header('step_cost.py', argv),
               machine=info, bs=BS)
    res['phases_s'], res['step_s'] = step_phases((xt, yt))
    res['layers'] = layer_costs()
    res['sizes'] = size_costs((4, 8, 16) if args.quick else (4, 8, 16, 32, 64, 128))
    res['optimiser'] = optimiser_costs()
    info['load_avg_after'] = list(os.getloadavg())
    res['noisy'] = busy_at_start(info)

    ph = res['phases_s']
    print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['torch_threads']} threads)")
    print('one training step of the plain loop, batch 64, median of each phase (ms): '
          + ', '.join(f'{k} {v*1e3:.2f}' for k, v in ph.items()) + f"; median of the whole step {res['step_s']*1e3:.2f}")
    print(f"{'convolution':<24}{'fwd MACs':>12}{'fwd us':>9}{'bwd us':>9}{'GMAC/s':>9}")
    for r in res['layers'] + res['sizes']:
        name = f"{r['ni']}->{r['nf']} {r['size']}x{r['size']} s{r['stride']}"
        print(f"{name:<24}{r['macs']:>12,}{r['fwd_s']*1e6:>9.0f}{r['bwd_s']*1e6:>9.0f}"
              f"{r['train_macs'] / (r['fwd_s'] + r['bwd_s']) / 1e9:>9.2f}")
    op, big, step_macs = res['optimiser'], res['sizes'][-1], sum(r['train_macs'] for r in res['layers'])
    peak = big['train_macs'] / (big['fwd_s'] + big['bwd_s'])
    print(f"at the speed of the largest convolution ({peak/1e9:.1f} GMAC/s) the {step_macs/1e6:.1f} million multiply-adds "
          f"of simple_cnn's forward and backward pass would take {step_macs/peak*1e3:.2f} ms")
    print(f"optimiser step over {op['n_tensors']} tensors: fastai Adam {op['fastai_adam_s']*1e6:.0f} us, "
          f"torch AdamW {op['torch_adamw_s']*1e6:.0f} us; one small in-place elementwise op {op['elementwise_op_s']*1e6:.1f} us")
    if res['noisy']: print(f"WARNING: load average {info['load_avg_before'][0]:.2f} at the start on {os.cpu_count()} cores: "
                           'rerun on a quiet machine before recording')
    save(res, args.out)
    return res


if __name__ == '__main__': main()
