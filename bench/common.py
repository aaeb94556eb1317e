"""What every benchmark of the course shares: where it ran, whether the machine was quiet, and how a record is saved.

A record is only written when the machine was quiet while it was taken:
  - the 1-minute load average was below 0.6 when it started (`machine` first waits up to 10 minutes for that, since
    a benchmark run just before, `make bench`'s first script say, leaves it high for a minute or two, and for a
    steady machine: see `speed_probe`);
  - other processes (everything but this benchmark's own process and its children) used at most 5% of the machine's
    CPU time during the run, measured from /proc/stat and this process tree's own CPU time (`CpuShare`);
  - where the benchmark compares pipelines run by run, the interquartile range of each paired ratio is at most 10% of
    its median (`paired`).
Otherwise the script says why and writes nothing (`--force` writes it anyway, marked `noisy`).
"""
import json, os, platform, statistics, sys, time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
MAX_OTHER_CPU, MAX_IQR, MAX_START_LOAD = 0.05, 0.10, 0.6


def speed_probe(secs:float=10, steps:int=50)->dict:
    """Time the plain loop's training step of `simple_cnn` (batch 64, its AdamW) in chunks of `steps` steps for `secs` seconds.

    A virtual machine's speed can change from one minute to the next with no other process in sight: its cores are
    shared with other machines on the same host, which /proc/stat cannot see. The spread of this fixed workload shows
    it: on a steady machine its chunks vary by a few per cent. When they vary by more than the ratios may (`MAX_IQR`),
    a run started then is likely to be refused for its spread; ten steady seconds do not promise six steady minutes
    either, so the spread rule still decides."""
    import torch.nn.functional as F
    from cnn_course.models import simple_cnn
    from cnn_course.speed import plain_optimiser   # the plain loop's AdamW
    with torch.random.fork_rng(devices=[]):   # the benchmark's own random numbers stay as they were
        torch.manual_seed(0)
        m = simple_cnn(); opt = plain_optimiser(m)
        x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 2, (64,))
    def chunk(n):
        t = time.perf_counter()
        for _ in range(n): F.cross_entropy(m(x), y).backward(); opt.step(); opt.zero_grad()
        return (time.perf_counter() - t) / n * 1000
    chunk(20); ms, t0 = [], time.perf_counter()
    while time.perf_counter() - t0 < secs: ms.append(chunk(steps))
    med = statistics.median(ms)
    return dict(step_ms=med, iqr_over_median=iqr(ms) / med, secs=secs, chunks=len(ms), steps_per_chunk=steps)


def wait_quiet(max_wait:float=600, poll:float=5)->dict:
    """Wait until the 1-minute load average is below `MAX_START_LOAD` and `speed_probe`'s spread is at most `MAX_IQR`,
    at most `max_wait` seconds. Return the load average before the last probe (the probe's own load is ours) and the probe"""
    t0, said = time.monotonic(), False
    while True:
        while (load := list(os.getloadavg()))[0] >= MAX_START_LOAD and time.monotonic() - t0 < max_wait:
            if not said: print(f'waiting for the 1-minute load average ({load[0]:.2f}) to fall below {MAX_START_LOAD}...', flush=True); said = True
            time.sleep(poll)
        probe = speed_probe()
        left = max_wait - (time.monotonic() - t0)
        if probe['iqr_over_median'] <= MAX_IQR or left <= 0: return dict(load=load, probe=probe)
        print(f"the machine's speed is unsteady: a fixed training step took {probe['step_ms']:.2f} ms, varying by "
              f"{probe['iqr_over_median']:.1%} over {probe['secs']:g} s (at most {MAX_IQR:.0%}); waiting a minute...", flush=True)
        time.sleep(min(60, left))


def machine(wait:bool=True, max_wait:float=600)->dict:
    """A short description of where the benchmark ran, with the load average at the start and the machine's speed
    (after `wait_quiet` unless not `wait`)"""
    q = wait_quiet(max_wait) if wait else dict(load=list(os.getloadavg()), probe=None)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): cpu = line.split(':', 1)[1].strip(); break
    except OSError: pass
    import fastai
    return dict(cpu=cpu, cores=os.cpu_count(), torch_threads=torch.get_num_threads(), device='cpu',
                python=platform.python_version(), torch=torch.__version__, fastai=fastai.__version__,
                platform=platform.platform(), load_avg_before=q['load'],
                load_avg_after_probe=list(os.getloadavg()) if q['probe'] else None, speed_probe=q['probe'])


def describe(info:dict)->str:
    "`machine`'s description in one line: CPU, versions, load average at the start and `speed_probe`'s result"
    probe = info.get('speed_probe')
    return (f"{info['cpu']}, {info['cores']} cores, torch {info['torch']} ({info['torch_threads']} threads), fastai "
            f"{info['fastai']}; load average {info['load_avg_before'][0]:.2f}"
            + (f"; a plain training step {probe['step_ms']:.2f} ms, varying by {probe['iqr_over_median']:.1%}" if probe else ''))


def header(script:str, argv)->dict:
    "When and how a record was made: its date and the command line that made it"
    return dict(date=datetime.now(timezone.utc).isoformat(timespec='seconds'),
                command=' '.join(['python', f'bench/{script}'] + (sys.argv[1:] if argv is None else list(argv))))


def _busy_seconds()->float:
    "CPU seconds all processes of the machine have used since boot (the busy fields of /proc/stat's `cpu` line)"
    f = [int(v) for v in Path('/proc/stat').read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (f + [0]*8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf('SC_CLK_TCK')


def _own_seconds()->float:
    "CPU seconds of this process and of its children that have ended (a DataLoader's workers, say)"
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class CpuShare:
    "Measure, over a `with` block, the share of the machine's CPU time that other processes used"
    def __enter__(self):
        self.t, self.busy, self.own = time.perf_counter(), _busy_seconds(), _own_seconds()
        return self
    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t
        other = (_busy_seconds() - self.busy) - (_own_seconds() - self.own)
        self.share = max(0., other) / (wall * (os.cpu_count() or 1))


def iqr(xs)->float:
    q = statistics.quantiles(xs, n=4, method='inclusive')
    return q[2] - q[0]


def paired(runs:list, hi:str, lo:str)->dict:
    "The ratio `hi`/`lo` of fit seconds, run by run (same round and seed): median, quartiles, range, IQR/median"
    fit = {(r['round'], r['seed'], r['pipeline']): r['fit_s'] for r in runs}
    xs = sorted(fit[k[0], k[1], hi] / fit[k[0], k[1], lo] for k in fit if k[2] == hi and (k[0], k[1], lo) in fit)
    m = statistics.median(xs)
    return dict(median=m, min=xs[0], max=xs[-1], n=len(xs), iqr_over_median=iqr(xs) / m if len(xs) > 1 else 0.)


def refusal(share:float, ratios:dict, start_load:float=0.)->list:
    "Why a record must not be written: the machine was loaded at the start, other processes used the CPU, or paired ratios spread too much"
    why = [f'the 1-minute load average was {start_load:.2f} at the start (below {MAX_START_LOAD} needed)'] if start_load >= MAX_START_LOAD else []
    if share > MAX_OTHER_CPU: why.append(f'other processes used {share:.1%} of the CPU during the run (at most {MAX_OTHER_CPU:.0%})')
    why += [f'the paired ratio {k} spreads: its interquartile range is {v["iqr_over_median"]:.1%} of its median '
            f'(at most {MAX_IQR:.0%})' for k, v in ratios.items() if v['iqr_over_median'] > MAX_IQR]
    return why


def save(res:dict, out, why:list, force:bool=False):
    "Write the record `res` as JSON to `out`, unless `why` says the machine was not quiet (then say so)"
    res['noisy'] = bool(why)
    if why:
        print('NOT RECORDED: ' + '; '.join(why) + '. Rerun on a quiet machine (nothing else running).', flush=True)
        if not force: return False
    if not out: return False
    Path(out).write_text(json.dumps(res, indent=1) + '\n')
    print(f'written to {out}', flush=True)
    return True
