@echo off
:: conda-build runs this in %SRC_DIR% with the host env active and MSVC set up by
:: the vs20xx compiler package (DISTUTILS_USE_SDK=1). setup.py (patch 0001) reads
:: LIBRARY_INC and LIBRARY_LIB and prints the libraries it links.
"%PYTHON%" -m pip install . --no-deps --no-build-isolation -vv
if errorlevel 1 exit /b 1
exit /b 0
