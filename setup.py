"Package metadata comes from settings.ini (nbdev 2 layout); edit it there, not here."
from configparser import ConfigParser
import shlex
import setuptools

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

cfg_keys = 'version description keywords author author_email'.split()
expected = cfg_keys + 'lib_name user branch license status min_python audience language'.split()
for o in expected: assert o in cfg, f'missing expected setting: {o}'
setup_cfg = {o: cfg[o] for o in cfg_keys}

def _version(s): return tuple(int(p) for p in s.split('.')[:2] if p.isdigit())

# settings.ini licence key -> (SPDX expression, trove classifier)
licenses = {
    'apache2': ('Apache-2.0', 'OSI Approved :: Apache Software License'),
    'mit': ('MIT', 'OSI Approved :: MIT License'),
    'gpl2': ('GPL-2.0-only', 'OSI Approved :: GNU General Public License v2 (GPLv2)'),
    'gpl3': ('GPL-3.0-only', 'OSI Approved :: GNU General Public License v3 (GPLv3)'),
    'bsd3': ('BSD-3-Clause', 'OSI Approved :: BSD License'),
}
# settings.ini `status` is the trove number itself: 1 is Planning, 3 is Alpha, 5 is Production/Stable
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable',
            '6 - Mature', '7 - Inactive']
status = int(cfg['status'])
assert 1 <= status <= len(statuses), f'status must be 1..{len(statuses)}, got {status}'
py_versions = '3.10 3.11 3.12'.split()  # the versions CI tests (.github/workflows/test.yaml, .ci/run)
min_python = cfg['min_python']

requirements = shlex.split(cfg.get('requirements', ''))
if cfg.get('pip_requirements'): requirements += shlex.split(cfg.get('pip_requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
# what the lesson notebooks import besides the package (show_doc, torchinfo cross-checks): `pip install cnn_course[lessons]`
lesson_requirements = shlex.split(cfg.get('lesson_requirements', ''))
spdx, classifier = licenses.get(cfg['license'].lower(), (cfg['license'], None))

# setuptools >= 77 takes an SPDX licence expression (PEP 639) and rejects licence classifiers beside it;
# older releases take the classifier.
if _version(setuptools.__version__) >= (77, 0): lic_kw, lic_cls = dict(license=spdx, license_files=['LICENSE']), []
else: lic_kw, lic_cls = dict(license=spdx), ([f'License :: {classifier}'] if classifier else [])

setuptools.setup(
    name=cfg['lib_name'],
    classifiers=[
        'Development Status :: ' + statuses[status - 1],
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ] + ['Programming Language :: Python :: ' + o for o in py_versions[py_versions.index(min_python):]] + lic_cls,
    url=cfg['git_url'],
    project_urls={'Documentation': cfg['doc_host'] + cfg['doc_baseurl'], 'Source': cfg['git_url']},
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements, 'lessons': lesson_requirements},
    python_requires='>=' + min_python,
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d'],
    },
    **lic_kw, **setup_cfg)
