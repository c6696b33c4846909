@echo off
:: Runs conda-smithy's recipe linter (conda-forge's standard checks) on every recipe. Uses the
:: micromamba that build_channel.cmd downloaded and verified into .cache, so run that first.
:: micromamba's global options (--no-rc -r) stand before the subcommand: "run" has no --no-rc.
setlocal EnableExtensions DisableDelayedExpansion
set "SMITHY_SPEC=conda-smithy=2026.8.5"
for %%I in ("%~dp0..") do set "REPO=%%~fI"
set "CACHE=%REPO%\.cache"
set "MM="
for /f "delims=" %%d in ('dir /b /ad "%CACHE%\micromamba-*" 2^>nul') do if exist "%CACHE%\%%d\micromamba.exe" set "MM=%CACHE%\%%d\micromamba.exe"
if not defined MM >&2 echo ERROR: no micromamba in %CACHE%; run build_channel.cmd first & exit /b 1
set "ROOT=%CACHE%\mamba"
set "CONDA_PKGS_DIRS=%CACHE%\p"
set "XDG_CACHE_HOME=%CACHE%\xdg"
:: As in build_channel.cmd: no activation through a user's conda (CONDA_BAT), no rc files in
:: run's activation step, no dir presets, temporary files in the cache.
set "CONDA_BAT=" & set "MAMBA_NO_RC=true" & set "DIRCMD="
if not exist "%CACHE%\tmp\" mkdir "%CACHE%\tmp"
set "TMP=%CACHE%\tmp" & set "TEMP=%CACHE%\tmp"
set "LINTENV=%CACHE%\lint-env"
:: The lint env is reused only when its marker says a create of this spec completed and
:: conda-smithy ran in it; anything else, such as an interrupted create, is removed and made again.
set "MARK=%LINTENV%\conda-meta\ffcvwin-lint.txt"
set "HAVE="
if exist "%MARK%" for /f "usebackq delims=" %%s in ("%MARK%") do set "HAVE=%%s"
if "%HAVE%"=="%SMITHY_SPEC%" goto :lint
if exist "%LINTENV%\" rmdir /s /q "%LINTENV%"
"%MM%" --no-rc -r "%ROOT%" create -y -p "%LINTENV%" --no-shortcuts --override-channels -c conda-forge %SMITHY_SPEC%
if not "%ERRORLEVEL%"=="0" >&2 echo ERROR: creating the lint env %LINTENV% failed & exit /b 1
"%MM%" --no-rc -r "%ROOT%" run -p "%LINTENV%" conda-smithy --version
if not "%ERRORLEVEL%"=="0" >&2 echo ERROR: conda-smithy does not run in %LINTENV% & exit /b 1
>"%MARK%" echo %SMITHY_SPEC%
:lint
set "RCODE=0"
for /f "delims=" %%r in ('dir /b /ad "%REPO%\recipes" 2^>nul') do (
  echo == conda-smithy recipe-lint %%r
  "%MM%" --no-rc -r "%ROOT%" run -p "%LINTENV%" conda-smithy recipe-lint "%REPO%\recipes\%%r" || set "RCODE=1"
)
exit /b %RCODE%
