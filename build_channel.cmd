@echo off
:: build_channel.cmd - from a stock Windows cmd.exe to a local conda channel built from
:: recipes\ and a verified training environment. Run "build_channel.cmd /?" for the options.
:: Logic that needs Python lives in scripts\build_recipes.py (run inside the build env).
setlocal EnableExtensions DisableDelayedExpansion

:: Pins. micromamba: not 2.0.0 / 2.6.1 (Windows regressions). MM_SHA256 is the digest of
:: 2.9.0-0's win-64 binary (11,454,464 bytes) as pinned by several independent projects; it
:: was not downloaded here (no GitHub access); the Windows CI run checks it (exit 21).
set "MM_VER=2.9.0-0"
set "MM_SHA256=a6d804394b2418991c4e29562853eaace2f2ce9d9da661a98e74e02e8dbb44b0"
set "MM_URL=https://github.com/mamba-org/micromamba-releases/releases/download/%MM_VER%/micromamba-win-64"
set "BUILD_SPEC=-c conda-forge python=3.12 conda-build=26.3.0 anaconda-client"

:: Tools are called by full path: Git for Windows' GNU curl/tar may shadow the inbox ones.
set "CURL=%SystemRoot%\System32\curl.exe"
set "CERTUTIL=%SystemRoot%\System32\certutil.exe"
:: Expanded here, outside any ( block ): the ")" in the name would end the block.
set "VSWHERE=%ProgramFiles(x86)%\Microsoft Visual Studio\Installer\vswhere.exe"

set "REPO=%~dp0"
set "REPO=%REPO:~0,-1%"
set "CHANNEL=%REPO%\channel"
set "PREFIX=%REPO%\envs\ffcv"
set "CACHE=%REPO%\.cache"
set "CUDA=auto" & set "PY=3.12" & set "DO_BUILD=1" & set "DO_ENV=1"
set "LABEL=" & set "SSL=" & set "VERBOSE=" & set "COLOR=1"
if defined NO_COLOR set "COLOR="

:opts
if "%~1"=="" goto :opts_done
if "%~1"=="/?" goto :usage
if /i "%~1"=="--help" goto :usage
if /i "%~1"=="--build-only" set "DO_ENV=" & shift & goto :opts
if /i "%~1"=="--env-only" set "DO_BUILD=" & shift & goto :opts
if /i "%~1"=="--ssl-no-revoke" set "SSL=--ssl-no-revoke" & shift & goto :opts
if /i "%~1"=="--no-color" set "COLOR=" & shift & goto :opts
if /i "%~1"=="-v" set "VERBOSE=1" & shift & goto :opts
if /i "%~1"=="--verbose" set "VERBOSE=1" & shift & goto :opts
set "OPT=%~1"
if "%~2"=="" goto :bad_opt
if /i "%~1"=="--channel" set "CHANNEL=%~2" & shift & shift & goto :opts
if /i "%~1"=="--prefix" set "PREFIX=%~2" & shift & shift & goto :opts
if /i "%~1"=="--cache" set "CACHE=%~2" & shift & shift & goto :opts
if /i "%~1"=="--cuda" set "CUDA=%~2" & shift & shift & goto :opts
if /i "%~1"=="--python" set "PY=%~2" & shift & shift & goto :opts
if /i "%~1"=="--upload" set "LABEL=%~2" & shift & shift & goto :opts
:bad_opt
set "MSG=unknown option or missing value: %OPT%"
set "HINT=run build_channel.cmd /? for the options"
set "RC=2" & goto :fail

:opts_done
set "MSG=--cuda must be auto, 12.8, 13.0 or cpu (got %CUDA%)"
set "HINT=for example: build_channel.cmd --cuda cpu"
set "RC=2" & set "OK="
for %%v in (auto 12.8 13.0 cpu) do if /i "%CUDA%"=="%%v" set "OK=1"
if not defined OK goto :fail
set "MSG=--python must be 3.10, 3.11, 3.12 or 3.13 (got %PY%)"
set "HINT=for example: build_channel.cmd --python 3.12" & set "OK="
for %%v in (3.10 3.11 3.12 3.13) do if "%PY%"=="%%v" set "OK=1"
if not defined OK goto :fail
set "MSG=--build-only and --env-only exclude each other"
set "HINT=give at most one of them"
if not defined DO_BUILD if not defined DO_ENV goto :fail
set "MSG=--upload needs the build step; it cannot be combined with --env-only"
set "HINT=drop --env-only"
if defined LABEL if not defined DO_BUILD goto :fail
if not defined DO_ENV set "CUDA=cpu"

:: Absolute paths, and only characters every tool in the chain copes with.
for %%I in ("%CHANNEL%") do set "CHANNEL=%%~fI"
for %%I in ("%PREFIX%") do set "PREFIX=%%~fI"
for %%I in ("%CACHE%") do set "CACHE=%%~fI"
call :check_path CHANNEL --channel || goto :fail
call :check_path PREFIX --prefix || goto :fail
call :check_path CACHE --cache || goto :fail
set "ROOT=%CACHE%\mamba"
set "BENV=%CACHE%\build-env"
set "MM=%CACHE%\micromamba-%MM_VER%\micromamba.exe"
set "TMPF=%CACHE%\probe.txt"
set "RC=16" & set "MSG=cannot create %CACHE%\logs" & set "HINT=choose a writable --cache"
if not exist "%CACHE%\logs" mkdir "%CACHE%\logs" || goto :fail
set /a N=1
:next_log
if exist "%CACHE%\logs\build_channel-%N%.log" set /a N+=1 & goto :next_log
set "LOG=%CACHE%\logs\build_channel-%N%.log"
set "OUT=>>"%LOG%" 2>&1"
if defined VERBOSE set "OUT="
set "ESC=" & if defined COLOR for /f %%e in ('echo prompt $E^| cmd /d') do set "ESC=%%e"
set "MSG=build_channel: channel %CHANNEL%, prefix %PREFIX%, cache %CACHE%, cuda %CUDA%, python %PY%"
call :say
set "RC=16" & set "MSG=cannot enter the repository folder %REPO%" & set "HINT=run from a local drive"
cd /d "%REPO%" || goto :fail

:: ---- preflight ------------------------------------------------------------------------------
call :step "preflight"
set "RC=10" & set "MSG=%CURL% not found (inbox since Windows 10 1803)"
set "HINT=update Windows, or restore curl.exe to %SystemRoot%\System32"
if not exist "%CURL%" goto :fail
set "RC=11" & set "MSG=%CERTUTIL% not found"
set "HINT=certutil ships with every Windows; check %SystemRoot%\System32"
if not exist "%CERTUTIL%" goto :fail
if defined DO_BUILD call :find_msvc || goto :fail
if /i not "%CUDA%"=="cpu" call :find_driver || goto :fail
set "RC=17" & set "MSG=--upload needs the ANACONDA_API_TOKEN environment variable"
set "HINT=set ANACONDA_API_TOKEN to an anaconda.org token with upload scope"
if defined LABEL if not defined ANACONDA_API_TOKEN goto :fail
set "RC=16" & set "MSG=--prefix %PREFIX% exists and is not a conda environment"
set "HINT=choose an empty or new directory for --prefix"
set "NONEMPTY=" & if exist "%PREFIX%\" for /f %%f in ('dir /b /a "%PREFIX%"') do set "NONEMPTY=1"
if defined NONEMPTY if not exist "%PREFIX%\conda-meta\" goto :fail
:: Only environments this script started (a stamp in the cache) are ever removed.
call :owner "%PREFIX%"
set "MSG=--prefix %PREFIX% is a conda environment that build_channel.cmd did not create"
if exist "%PREFIX%\conda-meta\" if not exist "%OWN%" goto :fail
set "RC=18" & set "MSG=--env-only, but %CHANNEL% holds no built packages"
set "HINT=run once without --env-only to build the channel"
if not defined DO_BUILD if not exist "%CHANNEL%\noarch\repodata.json" goto :fail

:: ---- micromamba: pinned, downloaded to .part, verified, renamed ------------------------------
call :step "micromamba %MM_VER%"
if exist "%MM%" goto :have_mm
if not exist "%CACHE%\micromamba-%MM_VER%" mkdir "%CACHE%\micromamba-%MM_VER%"
if exist "%MM%.part" del /f /q "%MM%.part"
:: In a .cmd file "set" resets ERRORLEVEL: set the message first, test the exit code with ||.
set "RC=20" & set "MSG=download of %MM_URL% failed"
set "HINT=check the network or proxy; behind a TLS-inspecting proxy add --ssl-no-revoke"
"%CURL%" -fL --retry 3 --retry-delay 2 %SSL% -o "%MM%.part" "%MM_URL%" %OUT% || goto :fail
"%CERTUTIL%" -hashfile "%MM%.part" SHA256 >"%TMPF%" 2>&1
set "GOT="
for /f "usebackq skip=1 delims=" %%h in ("%TMPF%") do if not defined GOT set "GOT=%%h"
if defined GOT set "GOT=%GOT: =%"
set "RC=21" & set "MSG=checksum mismatch for micromamba: got %GOT%, expected %MM_SHA256%"
set "HINT=the download was altered or truncated; run again, or report a changed release"
if /i not "%GOT%"=="%MM_SHA256%" del /f /q "%MM%.part" & goto :fail
move /y "%MM%.part" "%MM%" >nul
:have_mm
set "CONDA_PKGS_DIRS=%ROOT%\pkgs"
set "CONDA_BLD_PATH=%CACHE%\bld"
set "CONDA_REGISTER_ENVS=false"
set "MM_ARGS=--no-rc -r "%ROOT%""

:: ---- build env and recipes -------------------------------------------------------------------
if not defined DO_BUILD goto :env
call :step "build env (conda-build from conda-forge)"
set "RC=30" & call :ensure_env "%BENV%" "%BUILD_SPEC%" || goto :fail
call :step "conda build recipes\* into %CHANNEL%"
if not exist "%CHANNEL%" mkdir "%CHANNEL%"
set "UPLOAD_ARGS="
if defined LABEL set "UPLOAD_ARGS=--upload-label %LABEL%"
"%MM%" run %MM_ARGS% -p "%BENV%" python scripts\build_recipes.py --recipes recipes --channel "%CHANNEL%" --python %PY% --compiler %VSVAR% %UPLOAD_ARGS% %OUT%
set "RC=%ERRORLEVEL%"
set "MSG=building the recipes failed (exit %RC%)"
set "HINT=read the conda-build output in %LOG%"
if "%RC%"=="32" set "MSG=upload to anaconda.org failed" & set "HINT=check the token's scope"
if not "%RC%"=="32" if not "%RC%"=="0" set "RC=31"
if not "%RC%"=="0" goto :fail

:env
if not defined DO_ENV goto :done
set "SPEC=--file env\training.txt python=%PY%"
if /i "%CUDA%"=="cpu" set "SPEC=%SPEC% pytorch=*=cpu*"
if "%CUDA%"=="12.8" set "SPEC=%SPEC% pytorch=*=cuda* cuda-version=12.8"
if "%CUDA%"=="13.0" set "SPEC=%SPEC% pytorch=*=cuda* cuda-version=13.0"
:: The env is re-created when env\training.txt changes: its digest goes into the stamp.
"%CERTUTIL%" -hashfile env\training.txt SHA256 >"%TMPF%" 2>&1
set "SPEC_SHA="
for /f "usebackq skip=1 delims=" %%h in ("%TMPF%") do if not defined SPEC_SHA set "SPEC_SHA=%%h"
call :step "training env (cuda %CUDA%, python %PY%)"
set "SPEC=-c %CHANNEL% -c conda-forge --strict-channel-priority %SPEC%"
set "RC=33" & call :ensure_env "%PREFIX%" "%SPEC%" "%SPEC_SHA: =%" || goto :fail
>"%PREFIX%\ffcv-shell.bat" echo @"%MM%" run --no-rc -r "%ROOT%" -p "%PREFIX%" cmd.exe /k
set "DEVICE=cuda" & if /i "%CUDA%"=="cpu" set "DEVICE=cpu"
call :step "verification (scripts\verify_env.py --device %DEVICE%)"
set "RC=34" & set "MSG=verification FAILED (summary above)"
set "HINT=read the summary; the log is %LOG%"
"%MM%" run %MM_ARGS% -p "%PREFIX%" python scripts\verify_env.py --device %DEVICE% || goto :fail

:done
set "MSG=%ESC%[32mPASS%ESC%[0m  channel: %CHANNEL%"
if not defined ESC set "MSG=PASS  channel: %CHANNEL%"
call :say
if defined DO_ENV set "MSG=      env: %PREFIX%  (open a shell in it: %PREFIX%\ffcv-shell.bat)" & call :say
set "MSG=      log: %LOG%" & call :say
exit /b 0

:: ---- subroutines -----------------------------------------------------------------------------
:ensure_env PATH SPEC [STAMP]
:: Creates the env unless its marker records this spec. An env with another spec, or a partial
:: one (interrupted create: no marker), is removed first; preflight made sure it is ours.
set "MARK=%~1\conda-meta\ffcvwin-spec.txt"
set "HAVE="
if exist "%MARK%" for /f "usebackq delims=" %%s in ("%MARK%") do set "HAVE=%%s"
if "%HAVE%"=="%~2 %~3" exit /b 0
call :owner "%~1"
if not exist "%CACHE%\owned" mkdir "%CACHE%\owned"
>"%OWN%" echo %~1
if exist "%~1\conda-meta\" rmdir /s /q "%~1"
"%MM%" create -y %MM_ARGS% -p "%~1" --override-channels %~2 %OUT%
if errorlevel 1 set "MSG=micromamba create -p %~1 failed" & set "HINT=read %LOG%" & exit /b 1
>"%MARK%" echo %~2 %~3
exit /b 0

:owner PATH
:: OWN: the stamp file in the cache saying this script created the env at PATH.
set "OWN=%~pnx1" & set "D=%~d1"
set "OWN=%CACHE%\owned\%D:~0,1%%OWN:\=_%"
exit /b 0

:find_msvc
set "RC=12" & set "MSG=no MSVC C++ build tools found"
set "HINT=install Visual Studio 2022 Build Tools with 'Desktop development with C++'"
if not exist "%VSWHERE%" exit /b 1
"%VSWHERE%" -latest -products * -requires Microsoft.VisualStudio.Component.VC.Tools.x86.x64 -property installationVersion >"%TMPF%" 2>nul
set "VSMAJOR="
for /f "usebackq tokens=1 delims=." %%v in ("%TMPF%") do if not defined VSMAJOR set "VSMAJOR=%%v"
if not defined VSMAJOR exit /b 1
set "VSVAR="
if "%VSMAJOR%"=="17" set "VSVAR=vs2022"
if "%VSMAJOR%"=="18" set "VSVAR=vs2026"
set "RC=13" & set "MSG=Visual Studio %VSMAJOR%.x is not supported by conda-forge's compilers here"
set "HINT=install Visual Studio 2022 (17.x) or 2026 (18.x) Build Tools"
if not defined VSVAR exit /b 1
set "MSG=MSVC: Visual Studio %VSMAJOR%.x, compiler variant %VSVAR%" & call :say
exit /b 0

:find_driver
:: CUDA 12.x needs driver >= 525; 13.x needs >= 580 and compute capability >= 7.5.
set "RC=14" & set "MSG=no working NVIDIA driver (nvidia-smi missing or failing)"
set "HINT=install the NVIDIA driver, or build a CPU env with --cuda cpu"
set "SMI=%SystemRoot%\System32\nvidia-smi.exe"
if not exist "%SMI%" exit /b 1
:: Drivers older than the compute_cap field answer the plain query (and are too old anyway).
"%SMI%" --query-gpu=driver_version,compute_cap --format=csv,noheader >"%TMPF%" 2>nul || "%SMI%" --query-gpu=driver_version --format=csv,noheader >"%TMPF%" 2>nul
if errorlevel 1 exit /b 1
set "DRV="
for /f "usebackq tokens=1-4 delims=., " %%a in ("%TMPF%") do if not defined DRV set "DRV=%%a" & set "CC=%%c%%d"
if not defined DRV exit /b 1
set /a DRV=DRV+0, CC=CC+0
set "MSG=NVIDIA driver %DRV%, compute capability %CC%" & call :say
if /i not "%CUDA%"=="auto" goto :check_driver
set "CUDA=12.8"
if %DRV% GEQ 580 if %CC% GEQ 75 set "CUDA=13.0"
set "MSG=CUDA %CUDA% chosen from the driver" & call :say
:check_driver
set "RC=15" & set "HINT=update the NVIDIA driver, or choose --cuda 12.8 / --cuda cpu"
set "MSG=CUDA %CUDA% needs driver >= 525, found %DRV%"
if %DRV% LSS 525 exit /b 1
set "MSG=CUDA 13.0 needs driver >= 580 and compute capability >= 7.5, found %DRV% / %CC%"
if "%CUDA%"=="13.0" if %DRV% LSS 580 exit /b 1
if "%CUDA%"=="13.0" if %CC% LSS 75 exit /b 1
exit /b 0

:check_path VAR OPTION
:: Refuses anything but A-Z a-z 0-9 . _ - \ after the drive: spaces, & ( ) ! % ^ and
:: non-ASCII break conda activation .bat files and conda-build's scripts.
setlocal EnableDelayedExpansion
set "P=!%~1!"
set "T=#!P:~2!"
for %%c in (a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9 . _ -) do call :strip %%c
set "T=!T:\=!"
if "!P:~1,2!"==":\" if "!T!"=="#" endlocal & exit /b 0
set "MSG=%~2 !P! has characters that break conda's batch scripts: [!T:~1!]"
set "HINT=use a path of letters, digits and . _ - only, for example %~2 C:\ffcv\x"
endlocal & set "MSG=%MSG%" & set "HINT=%HINT%" & set "RC=16"
exit /b 1

:strip CHAR
:: Wine 10 does not substitute a for-variable inside !T:x=! (Windows does): pass it as %1.
set "T=!T:%~1=!"
exit /b 0

:step
set "MSG=== %~1" & call :say
exit /b 0

:say
setlocal EnableDelayedExpansion
echo !MSG!
>>"%LOG%" echo !MSG!
endlocal & exit /b 0

:fail
setlocal EnableDelayedExpansion
set "E=ERROR"
if defined ESC set "E=!ESC![31mERROR!ESC![0m"
>&2 echo !E!: !MSG!
>&2 echo   fix: !HINT!
if defined LOG >&2 echo   log: !LOG!
if defined LOG >>"!LOG!" echo ERROR: !MSG!
endlocal & exit /b %RC%

:usage
echo Usage: build_channel.cmd [options]
echo   Builds every recipe in recipes\ into a local conda channel, creates the training
echo   environment from it and runs scripts\verify_env.py inside it. Non-interactive.
echo.
echo   --channel DIR     channel to fill             (default: ^<repo^>\channel)
echo   --prefix DIR      training env prefix         (default: ^<repo^>\envs\ffcv)
echo   --cache DIR       micromamba, build env, logs (default: ^<repo^>\.cache)
echo   --cuda V          auto, 12.8, 13.0 or cpu     (default: auto, from the driver)
echo   --python V        3.10, 3.11, 3.12 or 3.13    (default: 3.12)
echo   --build-only      build the channel only
echo   --env-only        create and verify the env from an already built channel
echo   --upload LABEL    upload the built packages to anaconda.org with this label
echo                     (token from the ANACONDA_API_TOKEN environment variable)
echo   --ssl-no-revoke   pass --ssl-no-revoke to curl (TLS-inspecting proxies)
echo   --no-color        no colour (also when NO_COLOR is set)
echo   -v, --verbose     tool output on the console (default: into the log only)
echo.
echo Exit codes: 0 ok, 2 usage, 10 no curl.exe, 11 no certutil.exe, 12 no MSVC,
echo   13 unsupported Visual Studio, 14 no NVIDIA driver, 15 driver too old for CUDA,
echo   16 bad path, 17 no upload token, 18 channel empty, 20 download failed,
echo   21 checksum mismatch, 30 build env failed, 31 recipe build failed, 32 upload failed,
echo   33 training env failed, 34 verification failed.
exit /b 0
