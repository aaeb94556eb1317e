#!/usr/bin/env python
"""Throwaway virtual environments that reuse what .venv already has installed, so that no check pays for torch twice.

PyTorch with its CUDA libraries is several gigabytes; installing it into every throwaway environment took 2-3 minutes
of each `make test`. Instead, a *base* folder holds symbolic links to chosen distributions of this interpreter's
site-packages (a distribution and everything it requires, found from the installed metadata), and the new venv
lists that folder in a `.pth` file. pip then sees those distributions as installed and leaves them alone, and
anything else comes from the package index (or pip's cache) as usual. Nothing outside the chosen distributions is
visible: the wheel check's environment has no nbdev, the simulated Colab's has only torch and torchvision and what
they need.

    from envs import make_venv
    py = make_venv(Path('.build/colab-venv'), ['torch', 'torchvision'])
"""
import importlib.metadata as md, re, shutil, subprocess, sys
from pathlib import Path

from packaging.requirements import Requirement


def _name(s): return re.sub(r'[-_.]+', '-', s).lower()


def closure(names, extras=()):
    "The installed distributions `names` and everything they require, recursively (markers evaluated here)"
    seen, todo = {}, [(n, tuple(extras)) for n in names]
    while todo:
        name, ex = todo.pop()
        try: dist = md.distribution(name)
        except md.PackageNotFoundError: raise SystemExit(f'envs: {name} is required but not installed for {sys.executable}')
        key = _name(dist.metadata['Name'])
        if key in seen and not ex: continue
        seen[key] = dist
        for r in map(Requirement, dist.requires or []):
            envs = [{'extra': e} for e in ex] or [{'extra': ''}]
            if r.marker is None or any(r.marker.evaluate(e) for e in envs): todo.append((r.name, tuple(r.extras)))
    return seen


def link_base(base, names):
    "Fill the folder `base` with links to the top-level files of the distributions `names` require"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    for dist in closure(names).values():
        root = Path(dist.locate_file(''))
        for top in {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith('..')}:
            dest = base/top
            if not dest.exists() and (root/top).exists(): dest.symlink_to(root/top)
    return base


def make_venv(venv, names):
    "A fresh venv at `venv` that sees the distributions `names` (and what they need) of this interpreter; its python"
    venv = Path(venv)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    py = venv/'bin'/'python'
    site = subprocess.run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    base = link_base(venv/'base', [*names, 'pip'])  # pip too: linked like the rest, so no ensurepip and no download
    Path(site, '_base.pth').write_text(f'{base.resolve()}\n')
    return py
