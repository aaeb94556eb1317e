#!/usr/bin/env python
"""Check the built site in _docs/ in a real browser: Debian's Chromium, driven by Playwright.

It serves _docs/ on 127.0.0.1 (a free port), opens every page and checks that
  - it loads with no console error, no uncaught exception and no failed request;
  - it asks for nothing outside 127.0.0.1: the site must work offline (`--online` lets such requests
    through, e.g. for a Quarto build that loads MathJax from a CDN);
  - every image has loaded (`naturalWidth > 0`);
  - its math is typeset: no raw TeX (`$$`, `\\(`, `\\[`, `$...$`) is left outside code, and MathJax
    reported no TeX error;
  - no table is left as raw markdown (`| a | b |` rows or a `|---|` rule outside code);
  - no Korean text is drawn as empty boxes ("tofu"): each Hangul character is drawn, in the font the page gives it,
    and compared with the box the same font draws for a character that exists in no font; and the site's own
    Korean web font (nbs/fonts/, named in styles.css) is the one that loaded;
  - its text shows no path of the machine that built it (tools/pages.py's rule);
  - every internal link resolves: the page answers 200 and the `#anchor`, if any, exists on it.
It saves a screenshot of each page under .build/screenshots/ (top of the page; `--full-page` for all
of it). Nothing is downloaded: Playwright drives the Chromium found at $CHROMIUM or /usr/bin/chromium.

    python tools/docs_check.py                 # after `make site` or `make docs`
    python tools/docs_check.py --full-page     # whole-page screenshots
"""
import argparse, functools, http.server, os, sys, threading, time, urllib.error, urllib.request
from pathlib import Path
from urllib.parse import urldefrag, unquote

ROOT = Path(__file__).resolve().parents[1]
DOCS, SHOTS = ROOT/'_docs', ROOT/'.build'/'screenshots'
CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync']

# Runs in the page once it has loaded: waits for MathJax and the images, then reports what it sees.
PROBE = r"""async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  const skip = new Set(['SCRIPT', 'STYLE', 'PRE', 'CODE', 'TEXTAREA', 'MJX-CONTAINER', 'MJX-ASSISTIVE-MML', 'NOSCRIPT']);
  const raw = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode: n => {
    for (let e = n.parentElement; e; e = e.parentElement) if (skip.has(e.tagName)) return NodeFilter.FILTER_REJECT;
    return NodeFilter.FILTER_ACCEPT; }});
  const tex = /\$\$|\\\(|\\\[|\$[^$\s]([^$]*[^$\s])?\$/;
  const table = /(^|\n)\s*\|.*\|\s*($|\n)|\|\s*:?-{3,}/;
  const hangul = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/g;
  const rawTables = [], korean = new Map();
  for (let n; (n = walk.nextNode()); ) {
    const t = n.textContent;
    if (tex.test(t)) raw.push(t.trim().slice(0, 80));
    if (table.test(t)) rawTables.push(t.trim().slice(0, 80));
    const ko = t.match(hangul);
    if (ko) {
      const cs = getComputedStyle(n.parentElement);
      const font = `${cs.fontStyle} ${cs.fontWeight} 40px ${cs.fontFamily}`;
      korean.set(font, (korean.get(font) || '') + ko.join(''));
    }
  }
  // tofu: a character drawn exactly like the box of a code point that no font has (U+0378 is unassigned)
  await document.fonts.ready;
  const canvas = document.createElement('canvas'); canvas.width = canvas.height = 64;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (font, ch) => { ctx.clearRect(0, 0, 64, 64); ctx.font = font; ctx.fillStyle = '#000';
                               ctx.fillText(ch, 8, 48); return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(','); };
  const tofu = [];
  for (const [font, text] of korean) {
    try { await document.fonts.load(font, text); } catch (e) { }  // a missing font file: its face reports "error"
    const box = draw(font, '\u0378'), blank = (ctx.clearRect(0, 0, 64, 64), Array.from(ctx.getImageData(0, 0, 64, 64).data).join(','));
    for (const ch of new Set(text)) { const g = draw(font, ch); if (g === box || g === blank) tofu.push(ch); }
  }
  const webfont = Array.from(document.fonts).filter(f => f.family.replace(/"/g, '') === 'Course Korean').map(f => f.status);
  return {
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.getAttribute('src') || '').slice(0, 80)),
    math: document.querySelectorAll('mjx-container').length,
    texErrors: Array.from(document.querySelectorAll('mjx-merror, [data-mml-node="merror"]')).map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
    raw, rawTables, tofu: Array.from(new Set(tofu)).join(''), korean: korean.size, webfont,
    text: document.body.innerText,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
  };
}"""


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


def serve(folder):
    "Serve `folder` on 127.0.0.1 on a free port in a background thread; return the server"
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def status(url, cache={}):
    "HTTP status of a local URL"
    if url not in cache:
        try: cache[url] = urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=10).status
        except urllib.error.HTTPError as e: cache[url] = e.code
    return cache[url]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--full-page', action='store_true', help='screenshot whole pages, not just their top')
    p.add_argument('--online', action='store_true', help='let pages load resources from other hosts')
    p.add_argument('--docs', type=Path, default=DOCS, help='folder of the built site (default: _docs/)')
    a = p.parse_args(argv)
    docs = a.docs.resolve()
    if not (docs/'index.html').exists(): sys.exit(f'docs-check: {docs}/index.html is missing: run `make site` (or `make docs`) first')
    if not Path(CHROMIUM).exists():
        sys.exit(f'docs-check: no Chromium at {CHROMIUM}: install Debian\'s package (`sudo apt-get install chromium`) '
                 'or set CHROMIUM to a Chromium binary; Playwright\'s own browser downloads are not used')
    from playwright.sync_api import sync_playwright
    from pages import leaks_in, machine_paths
    paths = machine_paths()
    pages = sorted(p.relative_to(docs).as_posix() for p in docs.rglob('*.html') if 'site_libs' not in p.parts)
    pages.sort(key=lambda s: s != 'index.html')
    SHOTS.mkdir(parents=True, exist_ok=True)
    srv = serve(docs)
    base = f'http://127.0.0.1:{srv.server_address[1]}/'
    print(f'==> docs-check: {len(pages)} page(s) of {docs.name}/ at {base} in {CHROMIUM}', flush=True)
    t0, problems, seen, links, stats = time.perf_counter(), {}, {}, [], {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        ctx = browser.new_context(viewport={'width': 1280, 'height': 900})
        if not a.online:
            def route(r):
                if r.request.url.startswith(base) or r.request.url.startswith('data:'): r.continue_()
                else:
                    problems.setdefault(cur, []).append(f'asks for an outside resource: {r.request.url[:100]}')
                    r.abort()
            ctx.route('**/*', route)
        for cur in pages:
            errs = problems.setdefault(cur, [])
            page = ctx.new_page()
            page.on('console', lambda m: m.type == 'error' and errs.append(f'console error: {m.text[:200]}'))
            page.on('pageerror', lambda e: errs.append(f'uncaught exception: {str(e)[:200]}'))
            page.on('requestfailed', lambda r: r.url.startswith(base) and errs.append(f'request failed: {r.url}'))
            page.on('response', lambda r: r.url.startswith(base) and r.status >= 400 and errs.append(f'HTTP {r.status}: {r.url}'))
            resp = page.goto(base + cur, wait_until='load')
            if resp is None or resp.status != 200: errs.append(f'HTTP {resp.status if resp else "no response"}')
            info = page.evaluate(PROBE)
            errs += [f'image did not load: {s}' for s in info['broken']]
            errs += [f'TeX error: {s}' for s in info['texErrors']]
            errs += [f'math left untypeset: {s!r}' for s in info['raw']]
            errs += [f'table left as raw markdown: {s!r}' for s in info['rawTables']]
            if info['tofu']: errs.append(f'Korean drawn as empty boxes (no font has these glyphs here): {info["tofu"]}')
            if info['korean'] and 'loaded' not in info['webfont']:
                errs.append(f'Korean text, but the site\'s web font "Course Korean" did not load ({info["webfont"] or "not declared"})')
            errs += [f'shows a path of the machine that built it: {p}' for p in sorted(set(leaks_in(info['text'], paths)))]
            seen[cur] = set(info['ids'])
            links += [(cur, l) for l in info['links']]
            shot = SHOTS/(cur.replace('/', '_')[:-5] + '.png')
            page.screenshot(path=str(shot), full_page=a.full_page)
            n_int = sum(l.startswith(base) for l in info['links'])
            stats[cur] = (f'{info["images"]:>3} images, {info["math"]:>3} math, {n_int:>3} internal links'
                          + (f', Korean in {"/".join(info["webfont"])} web font' if info['korean'] else '') + f'; {shot.relative_to(ROOT)}')
            page.close()
        browser.close()
    for cur, url in links:  # internal links, checked once every page's anchors are known
        if not url.startswith(base): continue
        target, frag = urldefrag(url)
        path = unquote(target[len(base):]) or 'index.html'
        if path.endswith('/'): path += 'index.html'
        if path in seen or status(target) == 200:
            if frag and path in seen and unquote(frag) not in seen[path]:
                problems[cur].append(f'link to a missing anchor: {path}#{frag}')
        else: problems[cur].append(f'broken link: {path} (HTTP {status(target)})')
    srv.shutdown()
    bad = {k: sorted(set(v)) for k, v in problems.items() if v}
    for cur in pages:
        print(f'  {"FAIL" if cur in bad else "ok  "} {cur:<22} {stats.get(cur, "")}')
        for e in bad.get(cur, []): print(f'         - {e}')
    print(f'docs-check: {len(pages) - len(bad)} of {len(pages)} page(s) passed in {time.perf_counter() - t0:.0f} s'
          f'; screenshots in {SHOTS.relative_to(ROOT)}/', flush=True)
    return 1 if bad else 0


if __name__ == '__main__': sys.exit(main())
