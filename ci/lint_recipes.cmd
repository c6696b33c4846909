@echo off
:: Runs conda-smithy's recipe linter (conda-forge's standard checks) on every recipe. Uses the
:: micromamba that build_channel.cmd downloaded and verified into .cache, so run that first.
setlocal EnableExtensions DisableDelayedExpansion
set "SMITHY_SPEC=conda-smithy=2026.8.5"
set "REPO=%~dp0.."
set "MM="
for /d %%d in ("%REPO%\.cache\micromamba-*") do if exist "%%d\micromamba.exe" set "MM=%%d\micromamba.exe"
if not defined MM >&2 echo ERROR: no micromamba in %REPO%\.cache; run build_channel.cmd first & exit /b 1
set "ROOT=%REPO%\.cache\mamba"
set "LINTENV=%REPO%\.cache\lint-env"
if exist "%LINTENV%\conda-meta\" goto :lint
"%MM%" create -y --no-rc -r "%ROOT%" -p "%LINTENV%" --override-channels -c conda-forge %SMITHY_SPEC% || exit /b 1
:lint
set "RC=0"
for /d %%r in ("%REPO%\recipes\*") do (
  echo == conda-smithy recipe-lint %%~nxr
  "%MM%" run --no-rc -r "%ROOT%" -p "%LINTENV%" conda-smithy recipe-lint "%%~fr" || set "RC=1"
)
exit /b %RC%
