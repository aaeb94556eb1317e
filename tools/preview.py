#!/usr/bin/env python
"""Render an offline preview of the course site into _docs/, for machines without Quarto.

The published site is rendered by Quarto (`make site` uses it when `quarto` is installed). This preview
renders the same pages from the same files, with tools that install with pip:
  1. nbdev processes the notebooks exactly as `nbdev_docs` does (nbs/ -> _proc/: frontmatter, `#| hide`,
     show_doc tables, links to the docs of each name), skipping only its attempt to install Quarto;
  2. nbconvert turns each processed notebook into HTML (figures embedded as data URIs); the page is
     wrapped in tools/preview.html: a sidebar in the order of nbs/sidebar.yml, previous/next links,
     nbs/styles.css, and MathJax 3 from a local copy (no CDN);
  3. links are made local: `00_data.ipynb` and the published URLs nbdev writes become `data.html`.
MathJax comes from npm's `mathjax` package (version MATHJAX below): the first run fetches it with
`npm pack` into .build/mathjax/ and later runs use that copy offline. Without npm the pages are still
written, with a warning that their math is not typeset.

    python tools/preview.py                       # nbs/ -> _proc/ -> _docs/
    python tools/preview.py --nbs _executed   # the notebooks as `make docs` just executed them
"""
import argparse, html, os, re, shutil, subprocess, sys, tarfile, tempfile, time
from pathlib import Path

import jinja2, nbconvert, nbformat, yaml
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor
from pygments.formatters import HtmlFormatter

from colab import BADGE  # the Colab badge image the notebooks link to (this folder is on sys.path)
from readme import page, split_directives  # nbdev's page name of a notebook; a cell's directives, as nbdev reads them

ROOT = Path(__file__).resolve().parents[1]
NBS, PROC, DOCS = ROOT/'nbs', ROOT/'_proc', ROOT/'_docs'
MATHJAX = '3.2.2'
MATHJAX_FILE = 'tex-svg-full.js'  # one file, fonts and every TeX extension included: nothing loaded later
BADGE_SVG = '''<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img" aria-label="Open in Colab">
<rect width="117" height="20" rx="3" fill="#555"/><rect x="22" width="95" height="20" rx="3" fill="#f9ab00"/>
<rect x="22" width="6" height="20" fill="#f9ab00"/><circle cx="8" cy="10" r="4" fill="none" stroke="#f9ab00" stroke-width="2.5"/>
<circle cx="14" cy="10" r="4" fill="none" stroke="#e8710a" stroke-width="2.5"/>
<text x="69" y="14" fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">Open in Colab</text></svg>
'''


def log(msg): print(msg, flush=True)


def process_notebooks(nbs):
    "`nbs` -> _proc/ with nbdev's own processors; what nbdev_docs does before it calls Quarto"
    from nbdev.quarto import refresh_quarto_yml
    from nbdev.serve import proc_nbs
    refresh_quarto_yml()  # writes nbs/nbdev.yml from settings.ini, as nbdev_docs does
    proc_nbs(nbs, n_workers=min(4, os.cpu_count() or 1), force=True)  # force: _proc/ may hold another folder's notebooks


def sidebar_pages(nbs):
    "[(section or None, notebook name)] in the order of the sidebar.yml in `nbs`"
    def walk(items, section=None):
        for it in items:
            if isinstance(it, str): yield section, it
            elif 'contents' in it: yield from walk(it['contents'], it.get('section', section))
            elif 'href' in it: yield section, it['href']
    side = yaml.safe_load((nbs/'sidebar.yml').read_text())['website']['sidebar']
    return list(walk(side['contents'] if isinstance(side, dict) else side[0]['contents']))


def cell_options(src):
    "Quarto `#| key: value` options of a code cell, and its source without them"
    d, rest = split_directives(src)
    return {k.rstrip(':'): ' '.join(v).strip('"').lower() for k, v in d.items()}, rest


def pandoc_links(md):
    "Drop the pandoc attributes of `[text](url){key=\"value\"}` links (show_doc's source links): nbconvert shows them"
    return re.sub(r'(\[[^\]]*\]\([^)\s]+\))\{[^}]*\}', r'\1', md)


def prepare(nb):
    "Frontmatter of a processed notebook, and the notebook ready for nbconvert (Quarto's cell options applied)"
    fm, cells = {}, []
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.startswith('---'):
            fm.update(yaml.safe_load(c.source.strip().strip('-')) or {}); continue
        if c.cell_type == 'code':
            opts, c.source = cell_options(c.source)
            tags = set(c.metadata.get('tags', []))
            if opts.get('echo') == 'false': tags.add('remove_input')
            if opts.get('output') == 'false': tags.add('remove_output')
            if opts.get('include') == 'false': continue
            c.metadata['tags'] = sorted(tags)
            for o in c.get('outputs', []):
                if 'text/markdown' in o.get('data', {}): o.data['text/markdown'] = pandoc_links(o.data['text/markdown'])
            if not c.source.strip() and not c.get('outputs'): continue
        elif not c.source.strip(): continue
        elif c.cell_type == 'markdown': c.source = pandoc_links(c.source)
        cells.append(c)
    nb.cells = cells
    return fm, nb


def inline_md(s):
    "HTML of a one-line title or summary: escaped, with `code` spans"
    return re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(str(s)))


def page_name(nb_name, fm=None):
    "The page of a notebook; one in a subfolder (the test suite's) is written flat, as `tests_name.html`"
    if nb_name == 'index.ipynb': return 'index.html'
    name = (fm or {}).get('output-file') or page(nb_name)
    folder = Path(nb_name).parent.as_posix()
    return name if folder == '.' else f"{folder.replace('/', '_')}_{name}"


def localise(body, pages, site_url):
    "Make links local: notebooks -> their pages, published URLs -> relative ones, Colab badge -> local copy"
    body = body.replace(f'src="{BADGE}"', 'src="colab-badge.svg"')
    body = re.sub(r'<a class="anchor-link" href="[^"]*">.*?</a>', '', body)  # nbconvert's ¶ links
    def href(m):
        url = html.unescape(m.group(2))
        if site_url and url.startswith(site_url + '/'): url = url[len(site_url) + 1:]
        path, hash_, frag = url.partition('#')
        if path in pages: url = pages[path] + hash_ + frag
        return f'{m.group(1)}"{html.escape(url)}"'
    body = re.sub(r'(href=)"([^"]*)"', href, body)
    # heading ids as pandoc (Quarto) makes them, which nbdev's links expect: `### CacheError` -> #cacheerror
    def hid(m): return m.group(1) + re.sub(r'^[\W\d_]+|[^\w.-]', '', html.unescape(m.group(2)).lower()) + '"'
    return re.sub(r'(<h[1-6] id=")([^"]*)"', hid, body)


def get_mathjax():
    "Path of the local MathJax file, fetched once from npm; None (with a warning) when it can't be had"
    dest = ROOT/'.build'/'mathjax'/MATHJAX/MATHJAX_FILE
    if dest.exists(): return dest
    npm = shutil.which('npm')
    if not npm:
        log('    WARNING: npm is not installed, so MathJax cannot be fetched: math is shown as TeX source')
        return None
    log(f'    fetching MathJax {MATHJAX} with npm (once; kept in {dest.parent.relative_to(ROOT)}/)')
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([npm, 'pack', f'mathjax@{MATHJAX}', '--pack-destination', d, '--silent'],
                           capture_output=True, text=True, cwd=d)
        if r.returncode:
            log(f'    WARNING: `npm pack mathjax@{MATHJAX}` failed, so math is shown as TeX source:\n{r.stderr.strip()[-500:]}')
            return None
        with tarfile.open(next(Path(d).glob('mathjax-*.tgz'))) as t:
            data = t.extractfile(f'package/es5/{MATHJAX_FILE}').read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix('.tmp'); tmp.write_bytes(data); tmp.replace(dest)
    return dest


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--nbs', type=Path, default=NBS, help='folder of the notebooks to render (default nbs/)')
    a = p.parse_args(argv)
    nbs = a.nbs.resolve()
    t0 = time.perf_counter()
    log(f'==> rendering an offline preview with nbconvert {nbconvert.__version__} (Quarto is not installed; '
        'the published site is rendered by Quarto)')
    try: process_notebooks(nbs)
    except Exception as e:  # nbdev reports a failing cell with its source; the traceback adds nothing
        msg = '\n'.join(str(e).splitlines()[:15])
        log(f'preview: nbdev could not process the notebooks for the docs (nbdev_docs fails the same way):\n{msg}\n'
            '  nbdev runs every cell that contains an import while it builds the docs, without the cells before '
            'it; keep imports in their own cells (nbdev FAQ: "Found cells containing imports and other code").')
        return 1
    log(f'    nbdev processed the notebooks of {nbs.relative_to(ROOT) if nbs.is_relative_to(ROOT) else nbs}/ into _proc/ ({time.perf_counter() - t0:.0f} s)')

    site = yaml.safe_load((NBS/'nbdev.yml').read_text())['website']
    entries = [(s, nb) for s, nb in sidebar_pages(nbs) if (PROC/nb).exists()]
    missing = [nb for _, nb in sidebar_pages(nbs) if not (PROC/nb).exists()]
    if missing: log(f'    not in nbs/ yet, left out of the sidebar: {", ".join(missing)}')
    extra = sorted(p.relative_to(PROC).as_posix() for p in PROC.rglob('*.ipynb') if p.relative_to(PROC).as_posix() not in {nb for _, nb in entries})
    if extra: log(f'    not in nbs/sidebar.yml, rendered without a sidebar entry (as Quarto does): {", ".join(extra)}')

    prepared = {nb: prepare(nbformat.read(PROC/nb, as_version=4)) for nb in [nb for _, nb in entries] + extra}
    pages = {nb: page_name(nb, fm) for nb, (fm, _) in prepared.items()}
    pages.update({f'{Path(nb).parent.as_posix()}/{page(nb)}': pages[nb] for nb in extra})  # nbdev's links to them
    mathjax = get_mathjax()

    shutil.rmtree(DOCS, ignore_errors=True)
    DOCS.mkdir()
    shutil.copy(nbs/'styles.css', DOCS/'styles.css')
    if (nbs/'fonts').is_dir(): shutil.copytree(nbs/'fonts', DOCS/'fonts')  # the Korean web font styles.css names
    (DOCS/'pygments.css').write_text(HtmlFormatter(style='default').get_style_defs('.highlight'))
    (DOCS/'colab-badge.svg').write_text(BADGE_SVG)
    if mathjax: (DOCS/'mathjax').mkdir(); shutil.copy(mathjax, DOCS/'mathjax'/MATHJAX_FILE)

    exporter = HTMLExporter(template_name='basic', embed_images=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, anchor_link_text='')
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={'remove_input'},
                                                         remove_all_outputs_tags={'remove_output'}), enabled=True)
    shell = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT/'tools'), autoescape=False) \
                  .get_template('preview.html')
    nav = [dict(section=s, href=pages[nb], title=inline_md(prepared[nb][0].get('title', nb))) for s, nb in entries]
    for i, nb in enumerate([nb for _, nb in entries] + extra):
        fm, node = prepared[nb]
        body, _ = exporter.from_notebook_node(node, resources={'metadata': {'path': str(PROC)}})
        in_nav = i < len(nav)
        this = nav[i] if in_nav else dict(href=pages[nb], title=inline_md(fm.get('title', nb)))
        out = shell.render(site=site, nav=nav, page=this, prev=nav[i-1] if in_nav and i else None,
                           next=nav[i+1] if in_nav and i + 1 < len(nav) else None, description=inline_md(fm.get('description', '')),
                           body=localise(body, pages, site.get('site-url', '').rstrip('/')),
                           mathjax=f'mathjax/{MATHJAX_FILE}' if mathjax else None, source=nb,
                           repo=site.get('repo-url', ''), branch=site.get('repo-branch', 'main'))
        (DOCS/pages[nb]).write_text(out, encoding='utf-8')
        log(f'    {pages[nb]:<26} from nbs/{nb}')
    log(f'==> renderer: offline preview (nbconvert {nbconvert.__version__}, '
        + (f'MathJax {MATHJAX} from {mathjax.relative_to(ROOT)}' if mathjax else 'no MathJax') +
        f'): {len(entries) + len(extra)} page(s) in _docs/ ({time.perf_counter() - t0:.0f} s); open _docs/index.html')
    return 0


if __name__ == '__main__': sys.exit(main())
