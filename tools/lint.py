#!/usr/bin/env python
"""Static checks of the GitHub workflows: `make lint`, and the `lint` check of `make test`.

  zizmor            security audit of .github/ (workflows and dependabot.yml), offline; any finding of
                    medium severity or above fails, lower ones are printed
  check-jsonschema  each workflow against GitHub's workflow schema (bundled with the tool, no network),
                    each job must set timeout-minutes, dependabot.yml against its schema
  actionlint        also run when it is on PATH (optional: nothing installs it)

Both tools come with the dev extras (settings.ini dev_requirements). Run it with the project's venv:

    .venv/bin/python tools/lint.py
"""
import json, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GH = ROOT/'.github'
FAIL_AT = {'Medium', 'High'}  # zizmor severities that fail the check


def tool(name):
    "Path of `name` next to this interpreter, else on PATH, else None"
    exe = BIN/name
    return str(exe) if exe.exists() else shutil.which(name)


def run(*cmd):
    "Run `cmd` in the repo root; return its exit code, stdout and stderr"
    r = subprocess.run([str(c) for c in cmd], cwd=ROOT, text=True, capture_output=True)
    return r.returncode, r.stdout, r.stderr


def where(finding):
    "`path:line` of a zizmor finding's first location"
    try:
        loc = finding['locations'][0]
        path = next(iter(loc['symbolic']['key'].values()))
        path = path.get('verbatim_path') or path.get('given_path') or '?'
        return f"{path}:{loc['concrete']['location']['start_point']['row'] + 1}"
    except (KeyError, IndexError, StopIteration, AttributeError): return 'no location'


def zizmor():
    "Audit .github/ offline; return a list of failure messages"
    exe = tool('zizmor')
    if exe is None: return ['zizmor is not installed (it is in the dev extras: `make venv`)']
    # exit codes: 0 no findings, 10-14 findings (by highest severity), anything else is a tool error
    rc, out, err = run(exe, '--offline', '--strict-collection', '--no-progress', '--format', 'json',
                       '--persona', 'regular', GH)
    try: findings = json.loads(out) if rc == 0 or rc >= 10 else None
    except ValueError: findings = None
    if findings is None: return [f'zizmor exited with {rc} and no readable report:\n{out}{err}'.strip()]
    findings = [f for f in findings if not f.get('ignored')]
    bad = 0
    for f in findings:
        sev = f.get('determinations', {}).get('severity', '?')
        line = f"{sev.lower()}: {f.get('ident')} - {f.get('desc')} ({where(f)})"
        print(f'    zizmor {line}', flush=True)
        bad += sev in FAIL_AT
    print(f'    zizmor: {len(findings)} finding(s), {bad} at medium or above', flush=True)
    return [f'zizmor: {bad} finding(s) at medium or above (listed above)'] if bad else []


def schemas():
    "Validate workflows (and dependabot.yml) against their JSON schemas; return failure messages"
    exe = tool('check-jsonschema')
    if exe is None: return ['check-jsonschema is not installed (it is in the dev extras: `make venv`)']
    wfs = sorted((GH/'workflows').glob('*.y*ml'))
    if not wfs: return ['no workflows in .github/workflows/']
    checks = [('vendor.github-workflows', wfs), ('custom.github-workflows-require-timeout', wfs)]
    dependabot = [p for p in (GH/'dependabot.yml', GH/'dependabot.yaml') if p.exists()]
    if dependabot: checks.append(('vendor.dependabot', dependabot))
    bad = []
    with ThreadPoolExecutor(len(checks)) as ex:  # one process per schema; they take seconds each to start
        runs = ex.map(lambda c: run(exe, '--builtin-schema', c[0], *c[1]), checks)
        for (schema, files), (rc, out, err) in zip(checks, runs):
            print(f'    check-jsonschema {schema}: {len(files)} file(s) {"ok" if rc == 0 else "FAILED"}', flush=True)
            if rc: bad.append(f'check-jsonschema {schema}:\n{out}{err}'.strip())
    return bad


def actionlint():
    exe = shutil.which('actionlint')
    if exe is None:
        print('    actionlint: not installed, skipped (optional)', flush=True)
        return []
    rc, out, err = run(exe, '-no-color')
    print(f'    actionlint: {"ok" if rc == 0 else "FAILED"}', flush=True)
    return [f'actionlint:\n{out}{err}'.strip()] if rc else []


def main():
    t0 = time.perf_counter()
    bad = zizmor() + schemas() + actionlint()
    for b in bad: print(f'  {b}', file=sys.stderr)
    print(f'lint: {"FAILED" if bad else "ok"} ({time.perf_counter() - t0:.1f} s)', flush=True)
    return 1 if bad else 0


if __name__ == '__main__': sys.exit(main())
