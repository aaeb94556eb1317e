#!/usr/bin/env python
"""What the pages show, checked on the sources: no path of the machine that built them, and tables that render.

  leaks   no notebook (its sources and its saved outputs) and no README.md contains a path of the machine that
          ran it: the repository's folder, sys.prefix, sys.base_prefix, a site-packages folder, $HOME, the temporary
          folder, or such a path of any machine (/home/NAME/, /Users/NAME/, /root/, /tmp/, .../site-packages/)
  tables  every table row of README.md and of every markdown cell has as many cells as its header, counted as
          GitHub-flavoured markdown counts them: a `|` splits a cell even inside `code`, unless written `\\|`
  fonts   the Korean web font (nbs/fonts/) has a glyph for every Hangul character the notebooks use
          (tools/fonts.py makes it)
  imports no code cell mixes imports with other code: nbdev's docs build runs every cell that imports, alone (without
          the cells before it), so such a cell fails the site's build or runs its work there (nbdev's FAQ)

tools/docs_check.py checks the rendered pages for the same leaks, and for tables and math left as raw text.

    python tools/pages.py                 # all four checks; exit 1 on any problem
"""
import ast, json, os, re, site, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
HANGUL = re.compile('[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]')
FONT = NBS/'fonts'/'noto-sans-kr-course.woff'


def machine_paths():
    "Paths of this machine that must never appear in a page: the longest first"
    here = {str(ROOT), sys.prefix, sys.base_prefix, os.path.expanduser('~'), tempfile.gettempdir(),
            *site.getsitepackages()}
    return sorted({p.rstrip('/') + '/' for p in here if p and p not in ('/', '/usr', '/usr/local')}, key=len, reverse=True)


# a path of any machine: a home or temporary folder, or an installed package
ANY_MACHINE = re.compile(r'(?<![\w.])(/home/[\w.-]+/|/Users/[\w.-]+/|/root/|/tmp/|[\w./-]*(site|dist)-packages/)')


def leaks_in(text, paths=None):
    "The machine paths found in `text`"
    found = [p for p in (paths or machine_paths()) if p in text]
    return found + [m.group(0) for m in ANY_MACHINE.finditer(text) if not any(m.group(0) in p for p in found)]


def nb_text(path):
    "Everything a notebook shows or runs: its cells' sources and their saved outputs"
    parts = []
    for c in json.loads(Path(path).read_text(encoding='utf-8'))['cells']:
        parts.append(''.join(c['source']))
        for o in c.get('outputs', []):
            parts.append(''.join(o.get('text', '')))
            parts += [''.join(v) if isinstance(v, list) else str(v) for k, v in o.get('data', {}).items()
                      if k.startswith('text/') or k == 'application/json']
    return '\n'.join(parts)


def sources():
    "(name, text) of README.md and of every notebook under nbs/"
    yield 'README.md', (ROOT/'README.md').read_text(encoding='utf-8')
    for p in sorted(NBS.rglob('*.ipynb')):
        if '.ipynb_checkpoints' not in p.parts: yield p.relative_to(ROOT).as_posix(), nb_text(p)


def check_leaks():
    paths = machine_paths()
    return [f'{name}: a path of the machine that built it: {", ".join(sorted(set(found)))}'
            for name, text in sources() if (found := leaks_in(text, paths))]


def split_row(line):
    "The cells of a GFM table row: split on `|` unless escaped, leading and trailing pipes dropped"
    cells = re.split(r'(?<!\\)\|', line.strip())
    if cells and cells[0].strip() == '': cells = cells[1:]
    if cells and cells[-1].strip() == '': cells = cells[:-1]
    return cells


DELIM = re.compile(r'^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$')


def table_problems(md):
    "Rows of GFM tables in the markdown `md` whose cell count differs from their header's"
    lines, out, fenced = md.splitlines(), [], False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(('```', '~~~')): fenced = not fenced
        if fenced or i + 1 >= len(lines) or '|' not in line or not DELIM.match(lines[i+1]) or '-' not in lines[i+1]: continue
        n = len(split_row(line))
        if len(split_row(lines[i+1])) != n: out.append(f'the delimiter row under {line.strip()[:60]!r} has '
                                                         f'{len(split_row(lines[i+1]))} cells, the header {n}')
        for row in lines[i+2:]:
            if not row.strip() or '|' not in row: break
            if len(split_row(row)) != n: out.append(f'{len(split_row(row))} cells, the header has {n}: {row.strip()[:80]!r}')
    return out


def check_tables():
    md = [('README.md', (ROOT/'README.md').read_text(encoding='utf-8'))]
    for p in sorted(NBS.rglob('*.ipynb')):
        for i, c in enumerate(json.loads(p.read_text(encoding='utf-8'))['cells']):
            if c['cell_type'] == 'markdown': md.append((f'{p.relative_to(ROOT).as_posix()} cell {i}', ''.join(c['source'])))
    return [f'{name}: table row with {prob}' for name, text in md for prob in table_problems(text)]


def hangul_used():
    return sorted({ch for _, text in sources() for ch in HANGUL.findall(text)})


def check_fonts():
    used = hangul_used()
    if not used: return []
    if not FONT.exists(): return [f'{FONT.relative_to(ROOT)} is missing: run `python tools/fonts.py`']
    from fontTools.ttLib import TTFont
    cmap = TTFont(FONT).getBestCmap()
    missing = [ch for ch in used if ord(ch) not in cmap]
    return [f'{FONT.relative_to(ROOT)} has no glyph for {"".join(missing)}: run `python tools/fonts.py`'] if missing else []


def mixes_imports(src):
    "Whether nbdev's docs build would run this code cell alone (it imports) and warn (it does more than import)"
    if re.search(r'^\s*#\|\s*(export|exports|exporti|exec_doc)\b', src, re.M) or re.search(r'^\s*#\|\s*eval:\s*false', src, re.M | re.I):
        return False   # export cells are meant to run there; `eval: false` cells never run
    try: nodes = list(ast.walk(ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!'))))))
    except SyntaxError: return False
    return any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in nodes) and any(isinstance(n, (ast.Expr, ast.Assign)) for n in nodes)


def check_imports():
    return [f'{p.relative_to(ROOT)}: cell {i} mixes imports with other code: put its imports in a cell of their own'
            for p in sorted(NBS.rglob('*.ipynb')) if '.ipynb_checkpoints' not in p.parts
            for i, c in enumerate(json.loads(p.read_text())['cells'])
            if c['cell_type'] == 'code' and mixes_imports(''.join(c['source']))]


CHECKS = {'leaks': check_leaks, 'tables': check_tables, 'fonts': check_fonts, 'imports': check_imports}


def main(argv=None):
    names = (argv if argv is not None else sys.argv[1:]) or list(CHECKS)
    problems = [f'{n}: {p}' for n in names for p in CHECKS[n]()]
    for p in problems: print(f'  {p}')
    print(f'pages: {"; ".join(names)}: ' + (f'{len(problems)} problem(s)' if problems else 'no problem'))
    return 1 if problems else 0


if __name__ == '__main__': sys.exit(main())
