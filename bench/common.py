"""What every benchmark of the course shares: where it ran, whether the machine was quiet, and how a record is saved.

A record is only written when the machine was quiet while it was taken:
  - the 1-minute load average was below 0.6 when it started (`machine` first waits up to 10 minutes for that, since
    a benchmark run just before, `make bench`'s first script say, leaves it high for a minute or two);
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


def wait_quiet(max_wait:float=600, poll:float=5)->float:
    "Wait until the 1-minute load average is below `MAX_START_LOAD`, at most `max_wait` seconds; return the load then"
    t0, said = time.monotonic(), False
    while (load := os.getloadavg()[0]) >= MAX_START_LOAD and time.monotonic() - t0 < max_wait:
        if not said: print(f'waiting for the 1-minute load average ({load:.2f}) to fall below {MAX_START_LOAD}...', flush=True); said = True
        time.sleep(poll)
    return load


def machine(wait:bool=True)->dict:
    "A short description of where the benchmark ran, with the load average at the start (after `wait_quiet` unless not `wait`)"
    if wait: wait_quiet()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): cpu = line.split(':', 1)[1].strip(); break
    except OSError: pass
    import fastai
    return dict(cpu=cpu, cores=os.cpu_count(), torch_threads=torch.get_num_threads(), device='cpu',
                python=platform.python_version(), torch=torch.__version__, fastai=fastai.__version__,
                platform=platform.platform(), load_avg_before=list(os.getloadavg()))


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
