#!/usr/bin/env python
"""The course's size budgets, measured: `make test` fails when a lesson or a module outgrows its bound.

Per notebook, measured as the course's issues state them:
  prose words         words of markdown cells (fenced code blocks left out), plus the markdown that a visible code
                      cell renders (a text/markdown output), except show_doc's API tables
  visible code lines  non-blank lines of code cells the page shows (not `#| hide`, `include: false`, `echo: false`),
                      directive lines left out; `#| export` cells count, since the page shows them
  visible tests       `test_*` calls (fastcore.test) and `assert`s in those visible cells; `all tests` counts hidden ones too
Per module of cnn_course/: non-blank lines, and the longest function or class.

    python tools/budget.py          # print the table; exit 1 if a bound is broken
"""
import ast, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = re.compile(r'\btest_(eq|close|fail|ne|is|shuffled|eq_type|warns|stdout|sig)\b|^\s*assert\b')
HIDDEN = {'hide', 'include: false', 'echo: false'}
MAIN = re.compile(r'^0[0-6]_')                           # the main path: lessons 00 to 06
LESSON_PATH = ('data', 'models', 'params', 'arith', 'receptive', 'train')
BOUNDS = dict(lesson_words=2800, lesson_code=280, main_words=16000, main_code=1700, visible_tests=280,
              optional_words=3000, module_lines=250, def_lines=50, lesson_path_lines=900)


def cell_directives(src):
    "The `#|` lines a cell starts with, normalised: {'hide', 'echo: false', 'export', ...}"
    out = set()
    for line in src.splitlines():
        if not line.startswith('#|'): break
        out.add(re.sub(r'\s+', ' ', line[2:].strip()).lower())
    return out


def measure(path):
    "(prose words, visible code lines, visible tests, all tests, hidden export cells) of the notebook at `path`"
    words = code = vtests = tests = hidden_exports = 0
    for c in json.loads(Path(path).read_text(encoding='utf-8'))['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown':
            words += len(re.sub(r'```.*?```', ' ', src, flags=re.S).split()); continue
        if c['cell_type'] != 'code': continue
        body = [l for l in src.splitlines() if l.strip() and not l.startswith('#|')]
        n = sum(len(TEST.findall(l)) for l in body)
        tests += n
        d = cell_directives(src)
        if d & HIDDEN:
            hidden_exports += any(o.split()[0] in ('export', 'exports') for o in d)
            continue
        code += len(body); vtests += n
        for o in ([] if 'show_doc(' in src else c.get('outputs', [])):
            if md := o.get('data', {}).get('text/markdown'): words += len(''.join(md).split())
    return words, code, vtests, tests, hidden_exports


def module_sizes(path):
    "(non-blank lines, [(name, lines) of functions and classes longer than the bound]) of a module"
    src = Path(path).read_text(encoding='utf-8')
    lines = sum(1 for l in src.splitlines() if l.strip())
    long = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > BOUNDS['def_lines']: long.append((node.name, n))
    return lines, long


def main():
    b, problems, rows = BOUNDS, [], []
    nbs = sorted((ROOT/'nbs').rglob('*.ipynb'))
    for p in nbs:
        if '.ipynb_checkpoints' in p.parts: continue
        w, c, vt, t, hx = measure(p)
        main_path = bool(MAIN.match(p.name))
        rows.append((p.relative_to(ROOT/'nbs').as_posix(), w, c, vt, t, main_path))
        if main_path and w > b['lesson_words']: problems.append(f'{p.name}: {w} prose words > {b["lesson_words"]}')
        if main_path and c > b['lesson_code']: problems.append(f'{p.name}: {c} visible code lines > {b["lesson_code"]}')
        if main_path and hx: problems.append(f'{p.name}: {hx} hidden #| export cell(s): a lesson shows the code it exports')
        if re.match(r'^(0[7-9]|[1-8]\d)_', p.name) and w > b['optional_words']:
            problems.append(f'{p.name}: {w} prose words > {b["optional_words"]} (an optional page)')
    main = [r for r in rows if r[5]]
    mw, mc = sum(r[1] for r in main), sum(r[2] for r in main)
    vt, at = sum(r[3] for r in rows), sum(r[4] for r in rows)
    if mw > b['main_words']: problems.append(f'main path: {mw} prose words > {b["main_words"]}')
    if mc > b['main_code']: problems.append(f'main path: {mc} visible code lines > {b["main_code"]}')
    if vt > b['visible_tests']: problems.append(f'all notebooks: {vt} visible tests > {b["visible_tests"]}')
    print(f"{'notebook':34} {'prose words':>11} {'visible code':>12} {'visible tests':>13} {'all tests':>9}")
    for r in rows: print(f'{r[0]:34} {r[1]:11,} {r[2]:12,} {r[3]:13,} {r[4]:9,}')
    print(f"{'main path (00-06)':34} {mw:11,} {mc:12,}")
    print(f"{'all notebooks':34} {sum(r[1] for r in rows):11,} {sum(r[2] for r in rows):12,} {vt:13,} {at:9,}")
    print(f"\n{'module':34} {'lines':>6}")
    lp = 0
    for p in sorted((ROOT/'cnn_course').glob('*.py')):
        if p.name == '_modidx.py': continue  # nbdev's generated index
        n, long = module_sizes(p)
        print(f'{p.name:34} {n:6}')
        if p.stem in LESSON_PATH: lp += n
        if n > b['module_lines']: problems.append(f'cnn_course/{p.name}: {n} non-blank lines > {b["module_lines"]}')
        problems += [f'cnn_course/{p.name}: {name} has {k} lines > {b["def_lines"]}' for name, k in long]
    print(f"{'lesson-path modules':34} {lp:6}  ({', '.join(LESSON_PATH)})")
    if lp > b['lesson_path_lines']: problems.append(f'lesson-path modules: {lp} non-blank lines > {b["lesson_path_lines"]}')
    for p in problems: print(f'  over budget: {p}')
    print(f'budget: {"within every bound" if not problems else f"{len(problems)} bound(s) broken"}')
    return 1 if problems else 0


if __name__ == '__main__': sys.exit(main())
