#!/usr/bin/env python
"""Execute every notebook on a CUDA GPU with the `#| cuda` cells on: `make gpu-test`, which is exactly
what .github/workflows/gpu.yaml runs, so any CUDA machine can try it by hand.

Run it with the interpreter that holds a CUDA build of torch (`make gpu-test PYTHON=/path/to/python3`).
  1. It stops at once, saying why, unless that torch sees a CUDA device: it never falls back to the CPU.
  2. It makes .build/gpu-venv, which sees that interpreter's packages, and installs there only what the
     notebooks need beyond them (settings.ini requirements and the notebook tools of dev_requirements).
     torch, torchvision and torchaudio, when installed, are pinned to the installed builds, so pip can
     never replace them. `--wheels DIR` (`make gpu-test WHEELS=DIR`) installs from a folder of wheels
     with no index, for machines without a network.
  3. It runs tools/run_nbs.py --flags cuda --require-gpu on every notebook (the exported module is
     imported from the checkout) and saves the executed notebooks and timings.json in .build/gpu/.
  4. It prints the GPU, the versions and each notebook's wall time, and saves them as report.md (also
     appended to the GitHub step summary when run by a workflow).
"""
import argparse, datetime, importlib.metadata as md, json, os, platform, re, shlex, shutil, site, subprocess, sys, time
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINNED = ['torch', 'torchvision', 'torchaudio']  # never reinstalled: pinned to what is installed
# dev_requirements the notebooks do not need at run time (building, linting, docs, the lab itself)
TOOLING = {'jupyterlab', 'build', 'twine', 'zizmor', 'check-jsonschema', 'playwright', 'nbconvert'}


def fail(msg): sys.exit(f'gpu-test: {msg}')


def say(msg): print(f'==> gpu-test: {msg}', flush=True)


def probe():
    "Name of the CUDA device torch sees; stop with a clear message when there is none"
    if sys.version_info < (3, 10): fail(f'{sys.executable} is Python {platform.python_version()}; cnn_course needs 3.10+')
    try: import torch
    except ImportError:
        fail(f'torch is not installed for {sys.executable}. Run it with the interpreter that holds a CUDA '
             'build of torch: make gpu-test PYTHON=/path/to/python3')
    if not torch.cuda.is_available():
        built = f'CUDA {torch.version.cuda}' if torch.version.cuda else 'no CUDA (a CPU-only build)'
        fail(f'no CUDA device is visible: torch {torch.__version__} ({built}) at {sys.executable} reports '
             'torch.cuda.is_available() == False. This target needs an NVIDIA GPU and a CUDA build of torch; '
             'it never falls back to the CPU.')
    return torch.cuda.get_device_name(0), torch.__version__, torch.version.cuda


def requirement_names(reqs): return [re.split(r'[<>=!~;\[ ]', r, maxsplit=1)[0].lower() for r in reqs]


def needed():
    "Requirements to install: the package's runtime requirements plus the notebook tools among the dev ones"
    cfg = ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    d = cfg['DEFAULT']
    reqs = shlex.split(d.get('requirements', '')) + shlex.split(d.get('pip_requirements', ''))
    dev = shlex.split(d.get('dev_requirements', ''))
    dev = [r for r, n in zip(dev, requirement_names(dev)) if n not in TOOLING]
    reqs += dev
    runner = [o for o in ['nbclient', 'nbformat', 'ipykernel'] if o not in requirement_names(reqs)]
    return reqs + runner  # and what tools/run_nbs.py imports


def make_venv(venv):
    "A venv that sees this interpreter's site-packages after its own (works when this one is a venv too)"
    shutil.rmtree(venv, ignore_errors=True)
    r = subprocess.run([sys.executable, '-m', 'venv', venv], capture_output=True, text=True)
    if r.returncode:
        fail(f'`{sys.executable} -m venv` failed (on Debian/Ubuntu install python3-venv):\n{r.stderr.strip()}')
    py = venv/'bin'/'python'
    target = subprocess.run([py, '-c', 'import site; print(site.getsitepackages()[0])'],
                            capture_output=True, text=True, check=True).stdout.strip()
    dirs = site.getsitepackages() + ([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])
    dirs = [p for p in dirs if Path(p).is_dir()]
    # addsitedir also processes the .pth files there (editable installs, namespace packages)
    Path(target, '_gpu_test_base.pth').write_text(
        ''.join(f'import site; site.addsitedir({p!r})\n' for p in dirs))
    return py


def pins():
    "`name==version` of the torch family packages installed here"
    out = []
    for name in PINNED:
        try: out.append(f'{name}=={md.version(name)}')
        except md.PackageNotFoundError: pass
    return out


def install(py, reqs, constraints, wheels):
    src = ['--no-index', '--find-links', str(Path(wheels).resolve())] if wheels else []
    cmd = [py, '-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-c', constraints, *src, *reqs]
    start = time.perf_counter()
    r = subprocess.run([str(c) for c in cmd])
    if r.returncode:
        where = f'the wheels in {wheels}' if wheels else 'the package index'
        fail(f'pip could not install the notebooks\' requirements from {where} without replacing the installed '
             f'{", ".join(Path(constraints).read_text().split()) or "torch"} (see pip\'s message above).')
    say(f'installed what the notebooks need in {time.perf_counter() - start:.0f} s'
        + (f' (offline, from {wheels})' if wheels else ''))


def git_commit():
    try: return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip() or '?'
    except OSError: return '?'


def driver():
    try: return subprocess.run(['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
                               capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError): return '?'


def versions(py):
    code = ('import importlib.metadata as m, json\n'
            'out = {}\n'
            'for n in ["fastai", "fastcore", "torch", "torchvision", "nbdev"]:\n'
            '    try: out[n] = m.version(n)\n'
            '    except m.PackageNotFoundError: out[n] = "-"\n'
            'print(json.dumps(out))')
    return json.loads(subprocess.run([py, '-c', code], capture_output=True, text=True, check=True).stdout)


def report(out, gpu, torch_version, cuda, vers, secs_total):
    data = json.loads((out/'timings.json').read_text()).get('gpu', {})
    lines = [f'## Notebooks on a GPU: {gpu}', '',
             f'Python {platform.python_version()}, torch {torch_version} (CUDA {cuda}), torchvision {vers["torchvision"]}, '
             f'fastai {vers["fastai"]}, fastcore {vers["fastcore"]}, nbdev {vers["nbdev"]}; NVIDIA driver {driver()}; '
             f'commit {git_commit()}, {datetime.date.today().isoformat()}', '',
             '| notebook | wall time (s) |', '|---|---:|']
    lines += [f'| {nb} | {v["seconds"]:.1f} |' for nb, v in sorted(data.items())]
    lines += [f'| **total** | **{sum(v["seconds"] for v in data.values()):.1f}** |', '',
              f'gpu-test took {secs_total:.0f} s in all.']
    text = '\n'.join(lines) + '\n'
    (out/'report.md').write_text(text)
    if os.environ.get('GITHUB_STEP_SUMMARY'):
        with open(os.environ['GITHUB_STEP_SUMMARY'], 'a') as f: f.write(text)
    print(text, flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description='Execute every notebook on a CUDA GPU (see the module docstring).')
    p.add_argument('--wheels', default='', help='folder of wheels to install from, offline (no index)')
    p.add_argument('--venv', default=str(ROOT/'.build'/'gpu-venv'), help='venv to create (default .build/gpu-venv)')
    p.add_argument('--out', default=str(ROOT/'.build'/'gpu'), help='folder for executed notebooks and timings')
    p.add_argument('notebooks', nargs='*', help='notebooks to run (default: every nbs/*.ipynb)')
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    gpu, torch_version, cuda = probe()
    say(f'{gpu}, torch {torch_version} (CUDA {cuda}), Python {platform.python_version()} at {sys.executable}')
    if a.wheels and not Path(a.wheels).is_dir(): fail(f'WHEELS={a.wheels} is not a folder')
    venv, out = Path(a.venv).resolve(), Path(a.out).resolve()
    py = make_venv(venv)
    constraints = venv/'constraints.txt'
    constraints.write_text(''.join(f'{o}\n' for o in pins()))
    say(f'venv {venv.relative_to(ROOT) if venv.is_relative_to(ROOT) else venv}; kept as installed: '
        f'{", ".join(pins())}')
    install(py, needed(), constraints, a.wheels)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')])))
    cmd = [py, ROOT/'tools'/'run_nbs.py', '--flags', 'cuda', '--require-gpu', '--out', out,
           '--timings', out/'timings.json', *a.notebooks]
    say('running ' + ' '.join(str(c.relative_to(ROOT)) if isinstance(c, Path) and c.is_relative_to(ROOT) else str(c)
                              for c in cmd[1:]))
    r = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if r.returncode: fail(f'a notebook failed on {gpu} (see above); executed notebooks so far are in {out}')
    report(out, gpu, torch_version, cuda, versions(py), time.perf_counter() - t0)


if __name__ == '__main__': main()
