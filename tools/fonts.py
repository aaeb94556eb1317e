#!/usr/bin/env python
"""Make the site's Korean web font: the glyphs of the Hangul the notebooks use, from Noto Sans KR.

The Korean side notes (메모) need a font with Hangul, which most Linux desktops (and many readers' systems) lack:
without one the browser draws an empty box for every character. The site ships its own: a subset of Noto Sans KR
(SIL Open Font License 1.1) holding just the characters the notebooks use, a few kilobytes, served with the pages
(nbs/fonts/, named in nbs/styles.css). It comes from npm's `@fontsource/noto-sans-kr` (version FONTSOURCE below),
fetched once with `npm pack` into .build/fonts/, and fontTools (installed with matplotlib) cuts the subset.

Run it after adding Korean text to a notebook; `make test` (tools/pages.py fonts) fails until the font covers it.

    python tools/fonts.py
"""
import shutil, subprocess, sys, tarfile, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from pages import FONT, ROOT, hangul_used

FONTSOURCE = '5.3.0'
SOURCE = 'package/files/noto-sans-kr-korean-400-normal.woff'  # Hangul, regular weight, zlib-compressed WOFF


def fetch():
    "The fontsource package's Korean WOFF and licence, fetched once into .build/fonts/"
    dest = ROOT/'.build'/'fonts'/FONTSOURCE
    if not (dest/'font.woff').exists():
        npm = shutil.which('npm') or sys.exit('fonts: npm is needed to fetch @fontsource/noto-sans-kr')
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([npm, 'pack', f'@fontsource/noto-sans-kr@{FONTSOURCE}', '--silent'], cwd=d, check=True,
                           stdout=subprocess.DEVNULL)
            with tarfile.open(next(Path(d).glob('*.tgz'))) as t:
                dest.mkdir(parents=True, exist_ok=True)
                (dest/'font.woff').write_bytes(t.extractfile(SOURCE).read())
                (dest/'LICENSE').write_bytes(t.extractfile('package/LICENSE').read())
    return dest/'font.woff', dest/'LICENSE'


def main():
    from fontTools import subset
    src, lic = fetch()
    chars = hangul_used()
    opts = subset.Options(flavor='woff', layout_features=['*'], name_IDs=['*'], notdef_outline=True)
    font = subset.load_font(str(src), opts)
    sub = subset.Subsetter(opts)
    sub.populate(text=''.join(chars))
    sub.subset(font)
    FONT.parent.mkdir(exist_ok=True)
    subset.save_font(font, str(FONT), opts)
    shutil.copy(lic, FONT.parent/'OFL.txt')
    print(f'fonts: {FONT.relative_to(ROOT)}: {len(chars)} Hangul characters, {FONT.stat().st_size / 1e3:.1f} kB')


if __name__ == '__main__': main()
