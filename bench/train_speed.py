#!/usr/bin/env python
"""How long does `fit_one_cycle(2, 0.01)` of `simple_cnn` on MNIST_SAMPLE take, and how accurate is it?

Three pipelines train the same model with the same recipe, interleaved A B C, A B C, ... so that a
change in the machine's load hits all three alike:

  A  fastbook's pipeline: a `DataBlock` over the PNG files (`ImageBlock(cls=PILImageBW)`,
     `GrandparentSplitter`, `parent_label`), default loaders, the course's `Learner`;
  B  the course: `cnn_course.data.mnist_dls` (tensors decoded once, sliced into batches) and
     `Learner(dls, simple_cnn(), loss_func=F.cross_entropy, metrics=accuracy)`;
  C  a plain PyTorch loop over the same in-memory tensors: the same model and batch size,
     `torch.optim.AdamW` with fastai's default Adam hyper-parameters (no weight decay on biases, as
     fastai), fastai's one-cycle schedule for the learning rate and the first beta, the last partial
     training batch dropped, and validation after each epoch.

Only `fit` is timed (`time.perf_counter`); loading and decoding the data is not, for any pipeline
(A still decodes every PNG inside its epochs: that is its design). Every pipeline is warmed up once
before timing. Each (round, seed) trains all three; accuracy is the validation accuracy after the
last epoch. The result is printed as a table and written as JSON.

    python bench/train_speed.py                    # 3 rounds x 5 seeds: the measured record
    python bench/train_speed.py --quick            # 1 round x 2 seeds, a check that it works (writes no JSON)
    python bench/train_speed.py --rounds 1 --seeds 0 1 --out /tmp/x.json
    python bench/train_speed.py --channels-last    # B and C with the model in channels-last memory format

Timings are only meaningful on a quiet machine: with 2 cores, one other busy process makes PyTorch's
2 OpenMP threads wait for each other and a fit can take 10-50 times longer. The script records the load
average before and after, and warns when the runs of one pipeline spread by more than 30%.
"""
import argparse, json, math, os, platform, statistics, sys, time, warnings
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch
import torch.nn.functional as F
with warnings.catch_warnings():
    warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated', category=FutureWarning)
    import fastai
    from fastai.vision.all import (DataBlock, ImageBlock, PILImageBW, CategoryBlock, get_image_files,
                                   GrandparentSplitter, parent_label, Learner, accuracy, set_seed, Callback)
    from fastai.callback.channelslast import ChannelsLast
from cnn_course.data import mnist_path, mnist_tensors, mnist_dls
from cnn_course.models import simple_cnn

EPOCHS, LR, BS = 2, 0.01, 64
TARGETS = dict(fit_s_max=1.0, speedup_vs_fastbook_min=6.0, ratio_vs_plain_max=1.3,
               median_acc_min=0.99, min_acc_min=0.985)
NAMES = {'A': 'fastbook DataBlock (PNG files)', 'B': 'cnn_course mnist_dls + Learner', 'C': 'plain PyTorch loop'}


class EpochTimer(Callback):
    "Record wall-clock seconds of each epoch (training and validation) of a fastai fit"
    order = -100
    def before_fit(self): self.times = []
    def before_epoch(self): self.t0 = time.perf_counter()
    def after_epoch(self): self.times.append(time.perf_counter() - self.t0)


def fastbook_dls(bs=BS):
    "fastbook's way: a DataBlock over the PNG files, default loaders"
    dblock = DataBlock(blocks=(ImageBlock(cls=PILImageBW), CategoryBlock), get_items=get_image_files,
                       splitter=GrandparentSplitter(), get_y=parent_label)
    return dblock.dataloaders(mnist_path(), bs=bs)


def fit_fastai(dls, seed, channels_last=False):
    "Seed, build the course's Learner on `dls`, time `fit_one_cycle(EPOCHS, LR)`"
    set_seed(seed, reproducible=True)
    learn = Learner(dls, simple_cnn(), loss_func=F.cross_entropy, metrics=accuracy)
    timer = EpochTimer()
    with learn.no_bar(), learn.no_logging():
        t0 = time.perf_counter()
        learn.fit_one_cycle(EPOCHS, LR, cbs=[timer] + ([ChannelsLast()] if channels_last else []))
        secs = time.perf_counter() - t0
    return dict(fit_s=secs, epoch_s=timer.times, acc=float(learn.recorder.values[-1][-1]),
                n_train=len(dls.train) * dls.train.bs)


def one_cycle(pct, lo, hi, end, pct_start=0.25):
    "fastai's `combined_cos(pct_start, lo, hi, end)` at position `pct` in [0, 1]"
    def cos(a, b, p): return a + (1 + math.cos(math.pi * (1 - p))) * (b - a) / 2
    if pct < pct_start: return cos(lo, hi, pct / pct_start)
    return cos(hi, end, (pct - pct_start) / (1 - pct_start))


def plain_optimiser(model, lr=LR):
    "torch's AdamW with fastai's default Adam hyper-parameters, and no weight decay on biases, as fastai"
    decay = [p for n, p in model.named_parameters() if not n.endswith('bias')]
    no_decay = [p for n, p in model.named_parameters() if n.endswith('bias')]
    return torch.optim.AdamW([dict(params=decay), dict(params=no_decay, weight_decay=0.)],
                             lr=lr, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01)


def set_one_cycle(opt, pct, lr=LR, div=25., div_final=1e5, moms=(0.95, 0.85, 0.95)):
    "Set the learning rate and first beta of `opt` to fastai's one-cycle values at `pct` (0 to 1) of training"
    for g in opt.param_groups:
        g['lr'] = one_cycle(pct, lr / div, lr, lr / div_final)
        g['betas'] = (one_cycle(pct, *moms), 0.99)


def fit_plain(data, seed, bs=BS, epochs=EPOCHS, lr=LR, div=25., div_final=1e5, moms=(0.95, 0.85, 0.95),
              channels_last=False):
    "A plain PyTorch loop doing what `fit_one_cycle` does, on in-memory tensors"
    xt, yt, xv, yv = data
    set_seed(seed, reproducible=True)
    model = simple_cnn()
    t0 = time.perf_counter()
    if channels_last: model = model.to(memory_format=torch.channels_last)
    opt = plain_optimiser(model, lr)
    n_batches = len(xt) // bs             # drop the last partial batch, as fastai does for training
    total, step, times = epochs * n_batches, 0, []
    for epoch in range(epochs):
        te = time.perf_counter()
        model.train()
        idxs = torch.randperm(len(xt))
        for i in range(n_batches):
            set_one_cycle(opt, step / total, lr, div, div_final, moms)
            b = idxs[i*bs:(i+1)*bs]
            loss = F.cross_entropy(model(xt[b]), yt[b])
            loss.backward()
            opt.step()
            opt.zero_grad()
            step += 1
        model.eval()
        correct, vloss = 0, 0.
        with torch.no_grad():
            for i in range(0, len(xv), bs):
                out = model(xv[i:i+bs])
                vloss += F.cross_entropy(out, yv[i:i+bs], reduction='sum').item()
                correct += (out.argmax(1) == yv[i:i+bs]).sum().item()
        acc = correct / len(xv)
        times.append(time.perf_counter() - te)
    return dict(fit_s=time.perf_counter() - t0, epoch_s=times, acc=acc, n_train=n_batches * bs)


def plain_data(device='cpu'):
    "The same float tensors `mnist_dls` serves, as plain tensors"
    d = mnist_tensors()
    def f(x): return x.to(device).unsqueeze(1).float().div_(255)
    return f(d['train_x']), d['train_y'].to(device), f(d['valid_x']), d['valid_y'].to(device)


def machine():
    "A short description of where the benchmark ran"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): cpu = line.split(':', 1)[1].strip(); break
    except OSError: pass
    return dict(cpu=cpu, cores=os.cpu_count(), torch_threads=torch.get_num_threads(), device='cpu',
                omp_num_threads=os.environ.get('OMP_NUM_THREADS'),
                python=platform.python_version(), torch=torch.__version__, fastai=fastai.__version__,
                platform=platform.platform(), load_avg_before=list(os.getloadavg()))


def med(xs): return statistics.median(xs)


def busy_at_start(info):
    "Whether the machine was already busy when the benchmark started: load average over half the cores"
    return info['load_avg_before'][0] > 0.5 * (os.cpu_count() or 1)


def header(script, argv):
    "When and how a record was made: its date and the command line that made it"
    return dict(date=datetime.now(timezone.utc).isoformat(timespec='seconds'),
                command=' '.join(['python', f'bench/{script}'] + (sys.argv[1:] if argv is None else list(argv))))


def save(res, out):
    "Write the record `res` as JSON to `out` (nothing when `out` is empty)"
    if not out: return
    Path(out).write_text(json.dumps(res, indent=1) + '\n')
    print(f'written to {out}')


def summarise(runs, pipes, seeds):
    "Per-pipeline medians and per-seed accuracies, the two ratios and which targets are met"
    out = {}
    for p in pipes:
        rs = [r for r in runs if r['pipeline'] == p]
        fit = med([r['fit_s'] for r in rs])
        acc = {str(s): [r['acc'] for r in rs if r['seed'] == s][0] for s in seeds}
        out[p] = dict(name=NAMES[p], runs=len(rs), median_fit_s=fit, min_fit_s=min(r['fit_s'] for r in rs),
                      max_fit_s=max(r['fit_s'] for r in rs),
                      images_per_s=rs[0]['n_train'] * EPOCHS / fit,
                      median_epoch1_s=med([r['epoch_s'][0] for r in rs]),
                      median_later_epoch_s=med([e for r in rs for e in r['epoch_s'][1:]]),
                      acc_per_seed=acc, median_acc=med(list(acc.values())), min_acc=min(acc.values()),
                      acc_reproducible=all(len({round(r['acc'], 4) for r in rs if r['seed'] == s}) == 1
                                           for s in seeds))
    res = dict(pipelines=out)
    if 'A' in out and 'B' in out: res['ratio_A_over_B'] = out['A']['median_fit_s'] / out['B']['median_fit_s']
    if 'B' in out and 'C' in out: res['ratio_B_over_C'] = out['B']['median_fit_s'] / out['C']['median_fit_s']
    for hi, lo in [('A', 'B'), ('B', 'C')]:  # the same comparison per (round, seed), the runs back to back
        if hi in out and lo in out:
            fit = {(r['round'], r['seed'], r['pipeline']): r['fit_s'] for r in runs}
            pairs = sorted(fit[k[0], k[1], hi] / fit[k[0], k[1], lo] for k in fit if k[2] == hi and (k[0], k[1], lo) in fit)
            res[f'paired_{hi}_over_{lo}'] = dict(median=med(pairs), min=pairs[0], max=pairs[-1], n=len(pairs))
    if 'B' in out:
        b, t = out['B'], TARGETS
        met = dict(fit_s=b['median_fit_s'] <= t['fit_s_max'], median_acc=b['median_acc'] >= t['median_acc_min'],
                   min_acc=b['min_acc'] >= t['min_acc_min'])
        if 'ratio_A_over_B' in res: met['speedup_vs_fastbook'] = res['ratio_A_over_B'] >= t['speedup_vs_fastbook_min']
        if 'ratio_B_over_C' in res: met['ratio_vs_plain'] = res['ratio_B_over_C'] <= t['ratio_vs_plain_max']
        res['targets'], res['targets_met'] = TARGETS, met
    return res


def table(res, seeds):
    "The summary as a plain-text table"
    ps = res['pipelines']
    lines = [f"{'pipeline':<34}{'fit s':>8}{'min s':>8}{'ep1 s':>8}{'ep2+ s':>8}{'img/s':>9}{'med acc':>9}"
             f"{'min acc':>9}  acc per seed ({' '.join(map(str, seeds))})"]
    for p, r in ps.items():
        lines.append(f"{p+' '+r['name']:<34}{r['median_fit_s']:>8.2f}{r['min_fit_s']:>8.2f}{r['median_epoch1_s']:>8.2f}"
                     f"{r['median_later_epoch_s']:>8.2f}{r['images_per_s']:>9.0f}{r['median_acc']:>9.4f}"
                     f"{r['min_acc']:>9.4f}  " + ' '.join(f'{a:.4f}' for a in r['acc_per_seed'].values()))
    if 'ratio_A_over_B' in res: lines.append(f"A/B (fastbook over ours): {res['ratio_A_over_B']:.2f}x")
    if 'ratio_B_over_C' in res: lines.append(f"B/C (ours over plain loop): {res['ratio_B_over_C']:.2f}x")
    for k in ('paired_A_over_B', 'paired_B_over_C'):
        if k in res: lines.append(f"{k[7]}/{k[-1]} run by run (same round and seed): median {res[k]['median']:.2f}x, "
                                  f"from {res[k]['min']:.2f}x to {res[k]['max']:.2f}x over {res[k]['n']} pairs")
    if 'targets_met' in res: lines.append('targets met: ' + ', '.join(f'{k}={v}' for k, v in res['targets_met'].items()))
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rounds', type=int, default=3, help='passes over all seeds (default 3)')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4], help='seeds (default 0 1 2 3 4)')
    ap.add_argument('--pipelines', default='ABC', help='which of A, B, C to run (default ABC)')
    ap.add_argument('--quick', action='store_true', help='1 round of seeds 0 and 1: checks that it works')
    ap.add_argument('--threads', type=int, default=None, help="PyTorch threads for all pipelines (default: PyTorch's own)")
    ap.add_argument('--channels-last', action='store_true', help='B and C with the model in channels-last memory format')
    ap.add_argument('--out', default=None, help='JSON file to write ("" for none; default bench/train_speed.json, '
                                                'or none with --quick)')
    args = ap.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)
    if args.quick: args.rounds, args.seeds = 1, [0, 1]
    if args.out is None: args.out = '' if args.quick else str(ROOT/'bench'/'train_speed.json')
    pipes = [p for p in 'ABC' if p in args.pipelines.upper()]
    if not pipes: ap.error('--pipelines needs at least one of A, B, C')

    info = machine()
    print(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['torch_threads']} threads), "
          f"fastai {info['fastai']}; load average {info['load_avg_before'][0]:.2f}"
          + ('; B and C in channels-last format' if args.channels_last else ''), flush=True)
    t = time.perf_counter()
    loaders = {'A': fastbook_dls() if 'A' in pipes else None, 'B': mnist_dls(bs=BS, device='cpu')}
    data = plain_data()
    print(f'data ready in {time.perf_counter() - t:.1f} s (not timed below)', flush=True)
    cl = args.channels_last
    def run(p, seed):
        if p == 'C': return fit_plain(data, seed, channels_last=cl)
        return fit_fastai(loaders[p], seed, channels_last=cl and p == 'B')

    for p in pipes:  # warm-up: first calls pay for lazy initialisation, page cache and allocator growth
        r = run(p, 1000); print(f'warm-up {p}: {r["fit_s"]:.2f} s', flush=True)
    runs = []
    for rnd in range(args.rounds):
        for seed in args.seeds:
            for p in pipes:
                r = run(p, seed); r.update(pipeline=p, seed=seed, round=rnd); runs.append(r)
                print(f"round {rnd} seed {seed} {p}: fit {r['fit_s']:.2f} s (epochs "
                      f"{', '.join(f'{e:.2f}' for e in r['epoch_s'])}), accuracy {r['acc']:.4f}", flush=True)
    res = summarise(runs, pipes, args.seeds)
    info['load_avg_after'] = list(os.getloadavg())
    res = dict(description='fit_one_cycle(2, 0.01) of simple_cnn on MNIST_SAMPLE (12,396 train / 2,038 valid '
                           'images), batch size 64, fit time only',
               **header('train_speed.py', argv),
               machine=info, rounds=args.rounds, seeds=args.seeds, epochs=EPOCHS, lr=LR, bs=BS,
               channels_last=args.channels_last,
               fastbook_num_workers=loaders['A'].train.fake_l.num_workers if loaders['A'] else None, **res, runs=runs)
    noisy = [p for p, r in res['pipelines'].items() if r['max_fit_s'] > 1.3 * r['min_fit_s']]
    res['noisy'] = bool(noisy) or busy_at_start(info)
    print(); print(table(res, args.seeds))
    if res['noisy']: print(f"WARNING: noisy timings (runs spread by more than 30% for {', '.join(noisy) or 'none'}; "
                           f"load average {info['load_avg_before'][0]:.2f} at the start): "
                           'rerun on a quiet machine before recording them')
    save(res, args.out)
    return res


if __name__ == '__main__': main()
