#!/usr/bin/env python
"""Execute the course notebooks in a fresh kernel each, saving their outputs.

It honours the same cell flags as `nbdev_test` (settings.ini `tst_flags`): a code cell whose
`#|` directives name a flag is skipped unless that flag is switched on with `--flags`.
`#| cuda` is switched on by itself when a CUDA device is visible; `--require-gpu` turns a
missing device into an error instead. `#| eval: false` cells never run.

Only nbformat, nbclient and ipykernel are needed (no nbdev), so the GPU workflow and the
latest-dependencies job use it as they find it.

    python tools/run_nbs.py                       # every notebook in nbs/, outputs saved in place
    python tools/run_nbs.py nbs/03_training.ipynb --flags cuda --require-gpu --out executed/
"""
import argparse, configparser, datetime, json, os, platform, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

ROOT = Path(__file__).resolve().parents[1]


def settings():
    "The `[DEFAULT]` section of settings.ini"
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']


def directives(src):
    "Directive names of a cell's leading `#|` lines, e.g. {'export', 'cuda'}, and `eval:` values"
    out = {}
    for line in src.splitlines():
        s = line.strip()
        if not s: continue
        if not s.startswith('#|'): break
        words = s[2:].split()
        if words: out[words[0]] = words[1:]
    return out


def skip_cell(cell, flags):
    "Should the runner skip this cell, given the flags that are switched off?"
    if cell.cell_type != 'code': return True
    d = directives(cell.source)
    if [v.lower() for v in d.get('eval:', [])] == ['false']: return True
    return bool(flags & d.keys())


def cuda_info():
    "Name of the first CUDA device, or None (torch missing counts as no device)"
    try: import torch
    except ImportError: return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def run_notebook(path, skip_flags, timeout=600, kernel='python3'):
    "Execute `path` top to bottom in a fresh kernel; return the executed notebook and seconds taken"
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=False,
                            extra_arguments=['--IPKernelApp.log_level=ERROR'], # not the kernel's notes on its transport
                            resources={'metadata': {'path': str(Path(path).parent)}})
    start = time.perf_counter()
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if skip_cell(cell, skip_flags):
                if cell.cell_type == 'code': cell.outputs, cell.execution_count = [], None
                continue
            try: client.execute_cell(cell, i)
            except (CellExecutionError, CellTimeoutError) as e:
                first = cell.source.strip().splitlines()[0] if cell.source.strip() else ''
                raise RuntimeError(f'{path}: cell {i} failed (first line: {first!r}):\n{e}') from None
    return nb, time.perf_counter() - start


def merge_timings(fname, kind, device, results):
    "Record `results` ({notebook: seconds}) under `kind` ('cpu' or 'gpu') in the JSON file `fname`"
    fname = Path(fname)
    data = json.loads(fname.read_text()) if fname.exists() else {}
    stamp = datetime.date.today().isoformat()
    section = data.setdefault(kind, {})
    for name, secs in results.items():
        section[name] = dict(seconds=round(secs, 1), device=device, date=stamp)
    fname.write_text(json.dumps(data, indent=2, sort_keys=True) + '\n')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('notebooks', nargs='*', help='notebooks to run (default: every nbs/*.ipynb)')
    p.add_argument('--flags', default='', help='space-separated test flags to switch on (e.g. "cuda")')
    p.add_argument('--require-gpu', action='store_true', help='fail unless a CUDA device is visible')
    p.add_argument('--out', help='folder for the executed notebooks (default: overwrite them in place)')
    p.add_argument('--timings', help='JSON file to record each notebook\'s wall time in')
    p.add_argument('--timeout', type=int, default=600, help='seconds allowed per cell (default 600)')
    p.add_argument('--kernel', default='python3', help='Jupyter kernel name (default python3)')
    a = p.parse_args(argv)

    gpu = cuda_info()
    if a.require_gpu and gpu is None:
        sys.exit('run_nbs: no CUDA device is visible (torch.cuda.is_available() is False); '
                 'this run needs a GPU and will not fall back to the CPU.')
    forced = set(a.flags.split()) | ({'cuda'} if gpu else set())
    skip_flags = set(settings().get('tst_flags', '').split()) - forced
    device = gpu or f'CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)'
    nbs = [Path(o) for o in a.notebooks] or sorted(p for p in (ROOT/'nbs').glob('*.ipynb')
                                                       if not p.name.startswith('_'))
    print(f'run_nbs: {len(nbs)} notebook(s) on {device}; skipping cells flagged {sorted(skip_flags) or "nothing"}',
          flush=True)
    results = {}
    for path in nbs:
        print(f'  running {path} ...', end=' ', flush=True)
        try: nb, secs = run_notebook(path, skip_flags, a.timeout, a.kernel)
        except RuntimeError as e:
            print('FAILED', flush=True)
            sys.exit(f'run_nbs: {e}')
        dest = Path(a.out)/path.name if a.out else path
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dest)
        results[path.name] = secs
        print(f'{secs:.1f} s', flush=True)
    if a.timings: merge_timings(a.timings, 'gpu' if gpu else 'cpu', device, results)
    print(f'run_nbs: {len(results)} notebook(s) executed in {sum(results.values()):.1f} s', flush=True)


if __name__ == '__main__': main()
