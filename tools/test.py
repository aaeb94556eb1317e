#!/usr/bin/env python
"""The project's test command (`make test`): every check, each timed, then one summary line.

Run it with the project's virtual environment (`make test` does). Checks:
  export      nbdev_export leaves cnn_course/ unchanged (the module matches the notebooks)
  clean       nbdev_clean leaves nbs/ unchanged (notebooks are committed clean)
  cells       every lesson's Colab badge, run time and install cell, and the home page's lesson list,
              match settings.ini and nbs/timings.json (tools/colab.py --check; fix: make colab)
  readme      README.md matches nbs/index.ipynb (tools/readme.py --check; fix: make readme)
  pages       no notebook or README shows a path of the machine that built it, every table row has its header's
              cells, the Korean web font covers the notebooks' Hangul, no cell mixes imports with other code
              (nbdev's docs build runs such cells alone) (tools/pages.py)
  budget      the lessons' reader-facing sizes and the modules' sizes stay within their bounds (tools/budget.py)
  lint        .github/ passes zizmor offline and the workflow schema checks (tools/lint.py; make lint)
  runner      the notebook runner writes nothing under nbs/ unless asked to (`--in-place`, the maintainers' command)
  <notebook>  nbdev_test, one check per notebook
  wheel       the sdist builds and the wheel builds from it (so a file missing from the sdist fails); the wheel
              installs, with its requirements linked from .venv (tools/envs.py: no second copy of torch), into an
              environment without nbdev; `pip check` passes there and every module of cnn_course imports
  colab       the fast part of the simulated Colab run: an environment with only torch and torchvision, a lesson's own
              install cell, the lessons' imports, and one lesson (tools/colab_sim.py --fast; all lessons: make colab-sim)

    python tools/test.py                  # everything
    python tools/test.py --skip wheel     # leave out a slow check while iterating
"""
import argparse, hashlib, os, re, shutil, subprocess, sys, tempfile, time, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT/'tools'))


class Failed(Exception): pass


def run(*cmd, capture=False, **kw):
    "Run `cmd` from the repo root; raise `Failed` with its output on a non-zero exit"
    r = subprocess.run([str(c) for c in cmd], cwd=kw.pop('cwd', ROOT), text=True,
                       capture_output=capture, **kw)
    if r.returncode:
        out = ((r.stdout or '') + (r.stderr or '')).strip() if capture else ''
        raise Failed(f'`{" ".join(map(str, cmd))}` exited with {r.returncode}' + (f'\n{out}' if out else ''))
    return r


def snapshot(folder, pattern):
    "sha256 of every file matching `pattern` under `folder`"
    return {p.relative_to(ROOT).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((ROOT/folder).rglob(pattern)) if p.is_file() and '.ipynb_checkpoints' not in p.parts}


def changed(before, after): return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def check_unchanged(tool, folder, pattern, hint):
    before = snapshot(folder, pattern)
    run(BIN/tool, capture=True)
    diff = changed(before, snapshot(folder, pattern))
    if diff: raise Failed(f'{tool} changed {len(diff)} file(s): {", ".join(diff)}\n  {hint}')


def check_export():
    check_unchanged('nbdev_export', 'cnn_course', '*.py',
                    'cnn_course/ was out of sync with the notebooks; commit the freshly exported files '
                    '(never edit cnn_course/*.py by hand).')


def check_clean():
    check_unchanged('nbdev_clean', 'nbs', '*.ipynb',
                    'the notebooks were not clean; commit them as nbdev_clean leaves them.')


def check_cells(): run(sys.executable, ROOT/'tools'/'colab.py', '--check', capture=True)


def check_readme(): run(sys.executable, ROOT/'tools'/'readme.py', '--check', capture=True)


def check_lint(): run(sys.executable, ROOT/'tools'/'lint.py', capture=True)


def check_pages(): run(sys.executable, ROOT/'tools'/'pages.py', capture=True)


def check_budget(): run(sys.executable, ROOT/'tools'/'budget.py', capture=True)


def check_runner():
    "The runner, run as `make docs` runs it, leaves nbs/ as it was and writes its copy elsewhere"
    before, nb = snapshot('nbs', '*'), 'nbs/tests/main.ipynb'   # the lightest notebook: the runner is what is checked
    from run_nbs import EXECUTED
    if any(part.startswith('.') for part in EXECUTED.relative_to(ROOT).parts):
        raise Failed(f'run_nbs.py executes into {EXECUTED.relative_to(ROOT)}/: nbdev renders nothing under a folder named with a dot')
    try:
        run(sys.executable, ROOT/'tools'/'run_nbs.py', nb, capture=True)   # as `make docs` runs it
        if diff := changed(before, snapshot('nbs', '*')): raise Failed(f'run_nbs.py (no options, as make docs runs it) changed nbs/: {", ".join(diff)}')
        done = EXECUTED/'tests'/'main.ipynb'
        if not (done.exists() and done.stat().st_mtime > time.time() - 600):
            raise Failed(f'run_nbs.py wrote no notebook into {EXECUTED.relative_to(ROOT)}/')
        try: run(sys.executable, ROOT/'tools'/'run_nbs.py', nb, '--out', ROOT/'nbs'/'x', capture=True)
        except Failed: pass
        else: raise Failed('run_nbs.py --out nbs/x was accepted: only --in-place may write into nbs/')
    finally: shutil.rmtree(ROOT/'nbs'/'x', ignore_errors=True)


def notebooks():
    "The notebooks nbdev_test runs, as nbdev's own `nbglob` finds them (nbs/ and its subfolders)"
    from run_nbs import notebooks as nbglob_notebooks
    return [p.relative_to(ROOT/'nbs').as_posix() for p in nbglob_notebooks()]


def test_notebooks(results):
    "Run nbdev_test; record one result per notebook, and one more when it fails on none of them"
    nbs = notebooks()
    start = time.perf_counter()
    # nbdev_test runs the notebooks side by side: on a clean machine they would all extract the archives and decode
    # the PNGs at the same time. Do it once first, so each notebook finds the data and its tensor cache ready.
    try:
        run(sys.executable, '-c', 'from cnn_course.data import mnist_tensors as t; t(); t(tiny=True)', capture=True)
        print(f'  data extracted and cached ({time.perf_counter() - start:.1f} s)', flush=True)
    except Failed as e:
        print(f'  FAILED to prepare the data: {e}', flush=True)
        results.append(('notebooks: data', False))
    # nbdev_test runs one notebook per core; with PyTorch's default of one thread per core as well, the
    # threads of two notebooks fight over the cores and a 3-second training can take minutes. One thread each.
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('CNN_COURSE_TEST_THREADS', '1')}
    r = subprocess.run([str(BIN/'nbdev_test'), '--do_print', '--timing'], cwd=ROOT, text=True,
                       capture_output=True, env=env)
    secs = time.perf_counter() - start
    out = r.stdout + r.stderr
    timing = dict(re.findall(r'^(\S+\.ipynb): (\d+) secs$', out, re.M))
    failed = set()
    if r.returncode:
        m = re.search(r'Failed On The Following Notebooks:\n=+\n(.*)', out, re.S)
        failed = set(re.findall(r'(\S+\.ipynb)', m.group(1))) if m else {Path(nb).name for nb in nbs}
        sys.stdout.write(r.stderr)
    for nb in nbs:
        name = Path(nb).name  # nbdev_test names a notebook without its folder
        ok = name not in failed
        t = f'{timing[name]} s' if name in timing else 'ran'
        print(f'  {"ok  " if ok else "FAIL"} {nb} ({t})', flush=True)
        results.append((f'nbdev_test {nb}', ok))
    if r.returncode and not failed & {Path(nb).name for nb in nbs}:
        # it failed, but on no notebook of the list (or before running any): never let that read as a pass
        print(f'  FAIL nbdev_test exited with {r.returncode}', flush=True)
        results.append((f'nbdev_test (exit status {r.returncode})', False))
    print(f'  nbdev_test took {secs:.1f} s', flush=True)


def check_wheel():
    from envs import make_venv
    dist = ROOT/'.build'/'dist'
    shutil.rmtree(dist, ignore_errors=True)
    # no --sdist/--wheel: build makes the sdist, then the wheel from the unpacked sdist, not from the source tree
    run(sys.executable, '-m', 'build', '--no-isolation', '--outdir', dist, capture=True)
    wheels, sdists = list(dist.glob('*.whl')), list(dist.glob('*.tar.gz'))
    if len(wheels) != 1 or len(sdists) != 1: raise Failed(f'expected one wheel and one sdist in {dist}')
    print(f'  built {wheels[0].name} ({wheels[0].stat().st_size/1e3:.0f} kB) and {sdists[0].name}', flush=True)
    with zipfile.ZipFile(wheels[0]) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))).decode()
    reqs = [r.split(';')[0].strip() for r in re.findall(r'^Requires-Dist: (.*)$', meta, re.M) if 'extra ==' not in r]
    names = [re.split(r'[<>=!~\[ (]', r, maxsplit=1)[0] for r in reqs]
    venv = ROOT/'.build'/'wheel-venv'
    try: py = make_venv(venv, names)  # what the wheel requires, linked from .venv: nothing else, so no nbdev
    except SystemExit as e: raise Failed(str(e))
    run(py, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index', '--disable-pip-version-check', wheels[0], capture=True)
    run(py, '-m', 'pip', 'check', '--disable-pip-version-check', capture=True)
    mods = sorted(p.stem for p in (ROOT/'cnn_course').glob('*.py') if p.stem != '__init__')
    code = ('import importlib, importlib.util, sys\n'
            'assert importlib.util.find_spec("nbdev") is None, "nbdev leaked into the clean venv"\n'
            'import cnn_course\n'
            'assert "/.build/wheel-venv/" in cnn_course.__file__, cnn_course.__file__\n'
            f'for m in {mods!r}: importlib.import_module("cnn_course." + m)\n'
            'print(f"  imported cnn_course {cnn_course.__version__} and", len(%r), "modules:", ", ".join(%r))\n'
            % (mods, mods))
    run(py, '-c', code, cwd=tempfile.gettempdir())
    exe = venv/'bin'/'cnn_course'
    if not exe.exists(): raise Failed('the wheel installed no `cnn_course` command (console_scripts in settings.ini)')
    run(exe, '--help', capture=True, cwd=tempfile.gettempdir())


def check_colab():
    wheel = next((ROOT/'.build'/'dist').glob('*.whl'), None)  # the wheel check's, when it ran
    run(sys.executable, ROOT/'tools'/'colab_sim.py', '--fast', *(['--wheel', wheel] if wheel else []))


CHECKS = {'export': check_export, 'clean': check_clean, 'cells': check_cells, 'readme': check_readme,
          'pages': check_pages, 'budget': check_budget, 'lint': check_lint, 'runner': check_runner, 'notebooks': None,
          'wheel': check_wheel, 'colab': check_colab}


def main(argv=None):
    p = argparse.ArgumentParser(description='Run every check of the project (see the module docstring).')
    p.add_argument('--skip', nargs='*', default=[], choices=list(CHECKS), help='checks to leave out')
    a = p.parse_args(argv)
    results, todo = [], [k for k in CHECKS if k not in a.skip]
    t0 = time.perf_counter()
    for i, name in enumerate(todo, 1):
        print(f'==> [{i}/{len(todo)}] {name}', flush=True)
        start = time.perf_counter()
        if name == 'notebooks':
            test_notebooks(results)
            continue
        try:
            CHECKS[name]()
            ok = True
        except Failed as e:
            ok = False
            print(f'  FAILED: {e}', flush=True)
        results.append((name, ok))
        print(f'  {"ok" if ok else "FAILED"} {name} ({time.perf_counter() - start:.1f} s)', flush=True)
    npass = sum(ok for _, ok in results)
    nfail = len(results) - npass
    for name, ok in results:
        if not ok: print(f'failed: {name}')
    print(f'{npass} passed, {nfail} failed (in {time.perf_counter() - t0:.0f} s)', flush=True)
    return 1 if nfail else 0


if __name__ == '__main__': sys.exit(main())
