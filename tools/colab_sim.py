#!/usr/bin/env python
"""A simulated Colab run: each lesson opened alone, its own install cell run, then every cell, as on Google Colab.

Colab starts from an environment that has torch, torchvision and a Jupyter kernel, and opens one notebook at a time,
away from any copy of the repository. This check rebuilds that situation here:
  1. an environment holding only torch, torchvision and ipykernel, linked from .venv (tools/envs.py: seconds, and
     no second download of torch);
  2. a kernel of that environment that imports a stand-in `google.colab` module before anything else, and fakes the
     download of the course's files from raw.githubusercontent.com by serving them from this checkout (nothing else
     is faked, and no other request is answered);
  3. each lesson copied alone into a folder outside the repository and executed top to bottom in a fresh kernel,
     *including* its Colab install cell, exactly as written except that the package comes from the wheel this build
     makes instead of the GitHub address. The first lesson's cell resolves and installs the lessons' requirements
     from the package index; later cells find them installed. The wheels that resolve chose are kept in
     .build/colab/wheels/, keyed by the package's requirements, and for a week later runs install from there alone
     (no index), which saves the resolve's index queries; a fresh clone, as in CI, always resolves afresh.

    python tools/colab_sim.py              # every lesson and optional page (.ci/run)
    python tools/colab_sim.py --fast       # the install, the imports, and one lesson (make test)
"""
import argparse, hashlib, json, os, re, shutil, subprocess, sys, tempfile, time, zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from envs import make_venv
from run_nbs import ROOT, NBS, directives, notebooks, run_notebook, settings
from colab import RE_LESSON, pip_target

BUILD = ROOT/'.build'/'colab'
FAST = '01_first_cnn.ipynb'  # the lesson the fast run executes: light, and it uses the data and the models
STARTUP = '''# the simulated Colab: a stand-in google.colab, and the course's GitHub files served from the checkout
import sys, io, urllib.request
from pathlib import Path
import google.colab
_ROOT, _PREFIX, _urlopen = Path({root!r}), {prefix!r}, urllib.request.urlopen
def _fake_urlopen(url, *args, **kwargs):
    u = getattr(url, 'full_url', url)
    if isinstance(u, str) and u.startswith(_PREFIX):
        f = _ROOT/u[len(_PREFIX):]
        if f.is_file(): return io.BytesIO(f.read_bytes())
        raise urllib.error.HTTPError(u, 404, 'Not Found', None, None)
    return _urlopen(url, *args, **kwargs)
urllib.request.urlopen = _fake_urlopen
'''


def build_wheel(dist):
    "The wheel of this checkout, built into `dist`"
    shutil.rmtree(dist, ignore_errors=True)
    subprocess.run([sys.executable, '-m', 'build', '--no-isolation', '--wheel', '--outdir', str(dist), str(ROOT)],
                   check=True, capture_output=True)
    return next(Path(dist).glob('*.whl'))


WHEELS_DAYS = 7  # how long the kept wheels of one resolve stand in for the package index


def wheelhouse(wheel):
    "The folder that keeps the wheels a resolve of `wheel`'s requirements chose, and whether it is complete and recent"
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))).decode()
    reqs = sorted(l for l in meta.splitlines() if l.startswith('Requires-Dist:'))
    key = hashlib.sha256('\n'.join([sys.version.split()[0], *reqs]).encode()).hexdigest()[:16]
    folder, done = BUILD/'wheels'/key, BUILD/'wheels'/key/'complete'
    return folder, done.exists() and time.time() - done.stat().st_mtime < WHEELS_DAYS*86400


def keep_wheels(py, folder):
    "Save the wheels of what the install cell put into the environment `py` (not what it links from .venv)"
    site = subprocess.run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    pins = subprocess.run([py, '-m', 'pip', 'list', '--format=freeze', '--path', site],
                          capture_output=True, text=True, check=True).stdout.split()
    pins = [s for s in pins if not s.lower().startswith('cnn_course=') and not s.lower().startswith('cnn-course=')]
    shutil.rmtree(BUILD/'wheels', ignore_errors=True)  # one resolve kept at a time
    folder.mkdir(parents=True)
    r = subprocess.run([py, '-m', 'pip', 'download', '-q', '--no-deps', '-d', str(folder), *pins],
                       capture_output=True, text=True)  # from pip's cache: the resolve just downloaded them
    if r.returncode: shutil.rmtree(folder, ignore_errors=True); return 0
    (folder/'complete').touch()
    return len(pins)


def setup(wheel):
    "The environment, the kernel and the folders of a simulated Colab; the kernel's name"
    py = make_venv(BUILD/'venv', ['torch', 'torchvision', 'ipykernel'])
    stub = BUILD/'stub'/'google'/'colab'
    stub.mkdir(parents=True, exist_ok=True)
    (stub.parent/'__init__.py').write_text('')
    (stub/'__init__.py').write_text('"A stand-in for Colab\'s own module: the lessons only ask whether it is imported"\n')
    cfg = settings()
    prefix = f"https://raw.githubusercontent.com/{cfg['user']}/{cfg['repo']}/{cfg['branch']}/"
    startup = BUILD/'ipython'/'profile_default'/'startup'
    startup.mkdir(parents=True, exist_ok=True)
    (startup/'00-colab.py').write_text(STARTUP.format(root=str(ROOT), prefix=prefix))
    spec = BUILD/'kernels'/'colab-sim'
    spec.mkdir(parents=True, exist_ok=True)
    env = {'PYTHONPATH': str(BUILD/'stub'), 'IPYTHONDIR': str(BUILD/'ipython')}
    wheels, ready = wheelhouse(wheel)
    if ready: env.update(PIP_NO_INDEX='1', PIP_FIND_LINKS=str(wheels))  # the kept resolve, instead of the index
    (spec/'kernel.json').write_text(json.dumps(dict(argv=[str(py), '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
                                                    display_name='simulated Colab', language='python', env=env)))
    os.environ['JUPYTER_PATH'] = str(BUILD)  # where nbclient finds the kernel
    return py


def install_cell_edit(wheel):
    "Rewrites a lesson's Colab install cell to take the package from `wheel` instead of GitHub; nothing else changes"
    cfg, url = settings(), f'{settings()["lib_name"]}[lessons] @ {Path(wheel).resolve().as_uri()}'
    target = pip_target(cfg, 'lessons')
    def edit(cell):
        if cell.cell_type == 'code' and 'colab-setup:' in cell.source:
            if target not in cell.source: raise SystemExit(f'colab_sim: the install cell does not name {target!r}')
            cell.source = cell.source.replace(target, url)
    return edit


def run_all(names, wheel, skip_flags):
    "Execute the lessons `names`, each alone in a folder outside the repository; {name: seconds}"
    edit, times = install_cell_edit(wheel), {}
    def skip(cell, flags):  # as the runner does, except that the Colab cell runs: on Colab it is a cell like any other
        if cell.cell_type == 'code' and 'colab-setup:' in cell.source: return False
        d = directives(cell)
        return cell.cell_type != 'code' or [v.lower() for v in d.get('eval:', [])] == ['false'] or bool(flags & d.keys())
    for name in names:
        work = Path(tempfile.mkdtemp(prefix='cnn_course-colab-'))
        try:
            shutil.copy(NBS/name, work/name)
            print(f'  {name} (alone in {work}) ...', end=' ', flush=True)
            try: _, secs = run_notebook(work/name, skip=skip, flags=skip_flags, kernel='colab-sim', cwd=work, edit=edit)
            except RuntimeError as e:
                print('FAILED', flush=True)
                sys.exit(f'colab_sim: {e}')
            times[name] = secs
            print(f'{secs:.1f} s', flush=True)
        finally: shutil.rmtree(work, ignore_errors=True)
    return times


def check_imports(py):
    "In the simulated Colab, after the install: the package comes from the wheel, and the lessons' imports work"
    code = ('import cnn_course, cnn_course.all, fastcore.test, torchinfo\n'
            'from nbdev.showdoc import show_doc\n'
            'import importlib.metadata as m\n'
            'assert "/.build/colab/venv/" in cnn_course.__file__, cnn_course.__file__\n'
            'print("  imports: cnn_course", cnn_course.__version__, "from the wheel; nbdev", m.version("nbdev"),'
            ' "execnb", m.version("execnb"), "fastcore", m.version("fastcore"), "fastai", m.version("fastai"))\n')
    r = subprocess.run([str(py), '-c', code], cwd=tempfile.gettempdir(), capture_output=True, text=True)
    if r.returncode: sys.exit(f'colab_sim: the lessons\' imports fail after the install:\n{r.stderr.strip()[-2000:]}')
    print(r.stdout, end='', flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--fast', action='store_true', help=f'only the install, the imports and {FAST}')
    p.add_argument('--wheel', type=Path, help='the wheel to install (default: build one from this checkout)')
    p.add_argument('notebooks', nargs='*', help='lessons to run (default: every lesson and optional page)')
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    wheel = a.wheel or build_wheel(BUILD/'dist')
    py = setup(wheel)
    print(f'colab_sim: environment with torch, torchvision and ipykernel only ({time.perf_counter() - t0:.0f} s); '
          f'package from {wheel.name}', flush=True)
    lessons = [p.name for p in notebooks() if RE_LESSON.match(p.name)]
    names = [Path(n).name for n in a.notebooks] or ([FAST] if a.fast else lessons)
    skip_flags = set(settings().get('tst_flags', '').split())
    times = run_all(names, wheel, skip_flags)  # the first lesson's own install cell installs the package
    check_imports(py)
    wheels, ready = wheelhouse(wheel)
    if ready: print(f'colab_sim: installed from the wheels kept from an earlier resolve ({wheels.relative_to(ROOT)})')
    else: print(f'colab_sim: resolved from the package index; kept {keep_wheels(py, wheels)} wheels for the next runs')
    print(f'colab_sim: {len(times)} notebook(s) ran as on Colab in {time.perf_counter() - t0:.0f} s '
          f'({sum(times.values()):.0f} s in the notebooks)', flush=True)


if __name__ == '__main__': main()
