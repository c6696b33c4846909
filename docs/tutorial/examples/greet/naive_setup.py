"""setup.py as many projects write it: the library is named, its location is not.

Used by docs/tutorial/04-method.md to show the injection mechanisms that supply the
missing include and library folders from outside (DIST_EXTRA_CONFIG, --config-settings).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("_greet", sources=["src/_greet.c"], libraries=["greet"])])
