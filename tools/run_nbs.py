#!/usr/bin/env python
"""Execute the course notebooks, each in a fresh kernel, top to bottom, as a learner runs them.

It honours the same cell flags as `nbdev_test` (settings.ini `tst_flags`): a code cell whose `#|` directives
name a flag is skipped unless that flag is switched on with `--flags`. `#| cuda` is switched on by itself when a
CUDA device is visible; `--require-gpu` turns a missing device into an error instead. `#| eval: false` cells
never run. Each kernel starts in nbs/, so a notebook finds `../bench` as it does in JupyterLab.

By default the executed notebooks go to _executed/ (a copy of nbs/ with fresh outputs, which `make docs`
renders the site from) and nothing under nbs/ changes. Only `--in-place` (the maintainers' `make outputs`)
writes the outputs, and the run times to nbs/timings.json, back into nbs/.

    python tools/run_nbs.py                             # every notebook -> _executed/
    python tools/run_nbs.py nbs/03_training.ipynb --flags cuda --require-gpu --out .build/gpu
    python tools/run_nbs.py --in-place                  # maintainers: save outputs and timings into nbs/
"""
import argparse, configparser, datetime, json, os, platform, shutil, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from fastcore.basics import AttrDict
from nbdev.process import extract_directives

ROOT = Path(__file__).resolve().parents[1]
NBS, EXECUTED = ROOT/'nbs', ROOT/'_executed'  # not under a folder named with a dot: nbdev's docs processing skips those


def settings():
    "The `[DEFAULT]` section of settings.ini"
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']


def notebooks(folder=NBS):
    "The notebooks nbdev works on, in order: nbs/ and its subfolders, as nbdev's own `nbglob` finds them"
    from nbdev.doclinks import nbglob
    return sorted(nbglob(folder, as_path=True))


def directives(cell):
    "A code cell's `#|` directives as nbdev reads them, e.g. {'hide': [], 'eval:': ['false'], 'cuda': []}"
    return extract_directives(AttrDict(source=cell.source), remove=False) if cell.cell_type == 'code' else {}


def skip_cell(cell, flags):
    "Should the runner skip this cell, given the flags that are switched off?"
    if cell.cell_type != 'code': return True
    d = directives(cell)
    if [v.lower() for v in d.get('eval:', [])] == ['false']: return True
    return bool(flags & d.keys())


def cuda_info():
    "Name of the first CUDA device, or None (torch missing counts as no device)"
    try: import torch
    except ImportError: return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def run_notebook(path, skip=skip_cell, flags=frozenset(), timeout=600, kernel='python3', cwd=None, edit=None):
    """Execute `path` top to bottom in a fresh kernel started in `cwd` (default: the notebook's folder); cells for
    which `skip(cell, flags)` is true are left out, and `edit(cell)` may rewrite a cell first. Returns the executed
    notebook and its seconds: from launching the kernel to the last cell's reply, what a learner waits for. The kernel
    is then stopped at once; a graceful shutdown of a kernel that has imported torch takes another 1-1.5 s, which
    `jupyter nbconvert --execute` counts and a learner never waits for."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=False, shutdown_kernel='immediate',
                            extra_arguments=['--IPKernelApp.log_level=ERROR'], # not the kernel's notes on its transport
                            resources={'metadata': {'path': str(cwd or Path(path).parent)}})
    start = time.perf_counter()
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if edit: edit(cell)
            if skip(cell, flags):
                if cell.cell_type == 'code': cell.outputs, cell.execution_count = [], None
                continue
            try: client.execute_cell(cell, i)
            except (CellExecutionError, CellTimeoutError) as e:
                first = cell.source.strip().splitlines()[0] if cell.source.strip() else ''
                raise RuntimeError(f'{path}: cell {i} failed (first line: {first!r}):\n{e}') from None
        secs = time.perf_counter() - start
    return nb, secs


def merge_timings(fname, kind, device, results):
    "Record `results` ({notebook: seconds}) under `kind` ('cpu' or 'gpu') in the JSON file `fname`"
    fname = Path(fname)
    data = json.loads(fname.read_text()) if fname.exists() else {}
    stamp = datetime.date.today().isoformat()
    section = data.setdefault(kind, {})
    for name, secs in results.items():
        section[name] = dict(seconds=round(secs, 1), device=device, date=stamp)
    fname.write_text(json.dumps(data, indent=2, sort_keys=True) + '\n')


def copy_site_files(out):
    "Copy nbs/ without its notebooks into `out` (the site's configuration, styles and fonts), so it renders from there"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(NBS, out, ignore=shutil.ignore_patterns('*.ipynb', '.ipynb_checkpoints', '.quarto'))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('notebooks', nargs='*', help='notebooks to run (default: every notebook in nbs/)')
    p.add_argument('--flags', default='', help='space-separated test flags to switch on (e.g. "cuda")')
    p.add_argument('--require-gpu', action='store_true', help='fail unless a CUDA device is visible')
    p.add_argument('--out', type=Path, default=EXECUTED, help='folder for the executed notebooks (default _executed)')
    p.add_argument('--in-place', action='store_true', help='maintainers: write outputs into nbs/ and times into nbs/timings.json')
    p.add_argument('--timings', type=Path, help="JSON file for each notebook's wall time (default: timings.json in the output folder)")
    a = p.parse_args(argv)

    gpu = cuda_info()
    if a.require_gpu and gpu is None:
        sys.exit('run_nbs: no CUDA device is visible (torch.cuda.is_available() is False); '
                 'this run needs a GPU and will not fall back to the CPU.')
    forced = set(a.flags.split()) | ({'cuda'} if gpu else set())
    flags = set(settings().get('tst_flags', '').split()) - forced
    device = gpu or f'CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)'
    nbs = [Path(o).resolve() for o in a.notebooks] or notebooks()
    out = NBS if a.in_place else a.out.resolve()
    if not a.in_place and out.is_relative_to(NBS): sys.exit('run_nbs: --out must be outside nbs/; use --in-place to save there')
    if not a.in_place and not a.notebooks: copy_site_files(out)
    timings = a.timings or out/'timings.json'
    print(f'run_nbs: {len(nbs)} notebook(s) on {device}; skipping cells flagged {sorted(flags) or "nothing"}; '
          f'outputs to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}/', flush=True)
    results = {}
    for path in nbs:
        print(f'  running {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ...', end=' ', flush=True)
        try: nb, secs = run_notebook(path, flags=flags)
        except RuntimeError as e:
            print('FAILED', flush=True)
            sys.exit(f'run_nbs: {e}')
        dest = out/(path.relative_to(NBS) if path.is_relative_to(NBS) else path.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dest)
        results[path.name] = secs
        print(f'{secs:.1f} s', flush=True)
    merge_timings(timings, 'gpu' if gpu else 'cpu', device, results)
    print(f'run_nbs: {len(results)} notebook(s) executed in {sum(results.values()):.1f} s', flush=True)


if __name__ == '__main__': main()
