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
set "BUILD_SPEC=-c conda-forge python=3.12 conda-build=26.3.0 anaconda-client=1.14"
:: Longest file path inside the training env, relative to its prefix: Lib\site-packages\ (18)
:: + 167, torch 2.13.0's longest member (the win_amd64 wheel's zip listing, README "Long
:: paths"); a package cache folder name (pytorch-2.13.0-<build string>) is up to 45 more.
set "LONGEST=185" & set "PKGDIR=45"
:: Free space needed (decimal GB, README "Disk space"): package cache and build envs.
:: FFCVWIN_MIN_FREE_GB replaces the figure (0: no check).
set "NEED_GPU=12" & set "NEED_CPU=4"

:: Tools are called by full path: Git for Windows' GNU curl/tar may shadow the inbox ones.
set "CURL=%SystemRoot%\System32\curl.exe"
set "CERTUTIL=%SystemRoot%\System32\certutil.exe"
:: Expanded here, outside any ( block ): the ")" in the name would end the block.
set "VSWHERE=%ProgramFiles(x86)%\Microsoft Visual Studio\Installer\vswhere.exe"
:: anaconda-client prefers BINSTAR_API_TOKEN to ANACONDA_API_TOKEN: a stale one must not win.
set "BINSTAR_API_TOKEN="
:: A conda-initialised shell sets CONDA_BAT, which micromamba run would activate through
:: (libmamba core/util.cpp wrap_call); DIRCMD would change the dir output parsed below.
set "CONDA_BAT=" & set "DIRCMD="
:: Every variable set here reaches the programs started below, so none takes a name a tool
:: reads: not CL (MSVC prepends it to cl's arguments), CC or RC (compiler names to CMake).

set "ME=%~f0"
set "REPO=%~dp0"
set "REPO=%REPO:~0,-1%"
set "CHANNEL=%REPO%\channel"
set "PREFIX=%REPO%\envs\ffcv"
set "CACHE=%REPO%\.cache"
set "CUDA=auto" & set "PY=3.12" & set "DO_BUILD=1" & set "DO_ENV=1"
set "LABEL=" & set "SSL=" & set "VERBOSE=" & set "COLOR=1" & set "LOG=" & set "RCODE=0"
if defined NO_COLOR set "COLOR="
:: Started from Explorer, cmd.exe runs  cmd.exe /c ""<this script>" "  and closes the window
:: at the end: then (only then, and never under CI) wait for a key so the result can be read.
set "DCLICK=" & set "CMDL="
if defined CMDCMDLINE set "CMDL=%CMDCMDLINE:"=%"
if defined CMDL if /i "%CMDL%"=="%ComSpec% /c %ME% " set "DCLICK=1"
if defined CI set "DCLICK="
if defined TF_BUILD set "DCLICK="
:: micromamba run switches the console to code page 65001 and leaves it there: note ours.
set "CP="
for /f "tokens=2 delims=:." %%a in ('chcp 2^>nul') do for %%b in (%%a) do set "CP=%%b"
if defined CP call :digits "%CP%" || set "CP="
if "%CP%"=="0" set "CP="

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
set "RCODE=2" & goto :fail

:opts_done
set "MSG=--cuda must be auto, 12.8, 13.0 or cpu (got %CUDA%)"
set "HINT=for example: build_channel.cmd --cuda cpu"
set "RCODE=2" & set "OK="
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
:: The label is passed on unquoted: only characters anaconda.org labels use.
set "HINT=a label is letters, digits and . _ - (for example: main, dev, rc-1.0)"
set "BADF=" & if defined LABEL call :badchars LABEL
set "MSG=--upload label has characters other than letters, digits and . _ -: [%BAD%]"
if defined BADF goto :fail
if not defined DO_ENV set "CUDA=cpu"

:: Absolute paths, and only characters every tool in the chain copes with.
for %%I in ("%CHANNEL%") do set "CHANNEL=%%~fI"
for %%I in ("%PREFIX%") do set "PREFIX=%%~fI"
for %%I in ("%CACHE%") do set "CACHE=%%~fI"
call :check_path CHANNEL --channel || goto :fail
call :check_path PREFIX --prefix || goto :fail
call :check_path CACHE --cache || goto :fail
set "RCODE=16" & set "MSG=cannot create %CACHE%" & set "HINT=choose a writable --cache"
if not exist "%CACHE%\logs\" mkdir "%CACHE%\logs" || goto :fail
:: One run per cache: the lock is an open handle, released by Windows if the run dies.
set "LOCKED="
9>>"%CACHE%\build_channel.lock" call :locked
set "RCODE=%ERRORLEVEL%"
set "MSG=another build_channel.cmd is running with the cache %CACHE%"
set "HINT=wait for it to finish, or give this run another --cache"
if not defined LOCKED set "RCODE=19" & goto :fail
goto :finish

:locked
set "LOCKED=1"
set /a N=1
:next_log
if exist "%CACHE%\logs\build_channel-%N%.log" set /a N+=1 & goto :next_log
set "LOG=%CACHE%\logs\build_channel-%N%.log"
set "OUT=>>"%LOG%" 2>&1"
if defined VERBOSE set "OUT="
set "ESC=" & if defined COLOR for /f %%e in ('echo prompt $E^| cmd /d') do set "ESC=%%e"
set "ROOT=%CACHE%\mamba"
set "BENV=%CACHE%\build-env"
set "MM=%CACHE%\micromamba-%MM_VER%\micromamba.exe"
set "TMPF=%CACHE%\probe.txt"
:: Temporary files in the cache too: micromamba's activation .bat needs a %TMP% without
:: spaces (its _mamba_activate.bat), and nothing is written outside the cache.
if not exist "%CACHE%\tmp\" mkdir "%CACHE%\tmp"
set "TMP=%CACHE%\tmp" & set "TEMP=%CACHE%\tmp"
set "MSG=build_channel: channel %CHANNEL%, prefix %PREFIX%, cache %CACHE%, cuda %CUDA%, python %PY%"
call :say
set "RCODE=16" & set "MSG=cannot enter the repository folder %REPO%" & set "HINT=run from a local drive"
cd /d "%REPO%" || goto :fail

:: ---- preflight ------------------------------------------------------------------------------
call :step "preflight"
set "RCODE=10" & set "MSG=%CURL% not found (inbox since Windows 10 1803)"
set "HINT=update Windows, or restore curl.exe to %SystemRoot%\System32"
if not exist "%CURL%" goto :fail
set "RCODE=11" & set "MSG=%CERTUTIL% not found"
set "HINT=certutil ships with every Windows; check %SystemRoot%\System32"
if not exist "%CERTUTIL%" goto :fail
if defined DO_BUILD call :find_msvc || goto :fail
if /i not "%CUDA%"=="cpu" call :find_driver || goto :fail
set "RCODE=17" & set "MSG=--upload needs the ANACONDA_API_TOKEN environment variable"
set "HINT=set ANACONDA_API_TOKEN to an anaconda.org token with upload scope"
if defined LABEL if not defined ANACONDA_API_TOKEN goto :fail
set "MSG=ANACONDA_API_TOKEN holds an unexpanded pipeline macro, not a token"
set "HINT=define the secret variable ANACONDA_API_TOKEN in the pipeline (Azure leaves $(NAME) as text)"
if defined LABEL if "%ANACONDA_API_TOKEN:~0,2%"=="$(" goto :fail
set "RCODE=16" & set "MSG=--prefix %PREFIX% exists and is not a conda environment"
set "HINT=choose an empty or new directory for --prefix"
:: Only environments this script started (a stamp in the cache) are ever removed.
call :owner "%PREFIX%"
set "NONEMPTY=" & if exist "%PREFIX%\" for /f %%f in ('dir /b /a "%PREFIX%"') do set "NONEMPTY=1"
if defined NONEMPTY if not exist "%OWN%" if not exist "%PREFIX%\conda-meta\" goto :fail
set "MSG=--prefix %PREFIX% is a conda environment that build_channel.cmd did not create"
if defined NONEMPTY if not exist "%OWN%" goto :fail
call :check_long_paths || goto :fail
call :check_space || goto :fail
set "RCODE=18" & set "MSG=--env-only, but %CHANNEL% holds no built packages"
set "HINT=run once without --env-only to build the channel"
if not defined DO_BUILD if not exist "%CHANNEL%\noarch\repodata.json" goto :fail

:: ---- micromamba: pinned, downloaded to .part, verified, renamed ------------------------------
call :step "micromamba %MM_VER%"
if exist "%MM%" goto :have_mm
if not exist "%CACHE%\micromamba-%MM_VER%" mkdir "%CACHE%\micromamba-%MM_VER%"
if exist "%MM%.part" del /f /q "%MM%.part"
:: In a .cmd file "set" resets ERRORLEVEL: set the message first, test the exit code with ||.
set "RCODE=20" & set "MSG=download of %MM_URL% failed"
set "HINT=check the network or proxy; behind a TLS-inspecting proxy add --ssl-no-revoke"
"%CURL%" -fL --retry 3 --retry-delay 2 %SSL% -o "%MM%.part" "%MM_URL%" %OUT% || goto :fail
call :sha256 "%MM%.part"
set "RCODE=21" & set "MSG=checksum mismatch for micromamba: got %GOT%, expected %MM_SHA256%"
set "HINT=the download was altered or truncated; run again, or report a changed release"
if /i not "%GOT%"=="%MM_SHA256%" del /f /q "%MM%.part" & goto :fail
move /y "%MM%.part" "%MM%" >nul
:have_mm
:: Global options stand before the subcommand: micromamba's "run" has no --no-rc (README).
set "MM_ARGS=--no-rc -r "%ROOT%""
:: run's activation step calls micromamba again without --no-rc; the variable reaches it.
set "MAMBA_NO_RC=true"
set "CONDA_PKGS_DIRS=%CACHE%\p"
set "CONDA_BLD_PATH=%CACHE%\bld"
set "CONDA_REGISTER_ENVS=false"
:: micromamba run writes a proc folder under XDG_CACHE_HOME (else %LOCALAPPDATA%); matplotlib,
:: imported by the verification, writes its font cache to MPLCONFIGDIR (else %USERPROFILE%).
set "XDG_CACHE_HOME=%CACHE%\xdg"
set "MPLCONFIGDIR=%CACHE%\mpl"

:: ---- build env and recipes -------------------------------------------------------------------
if not defined DO_BUILD goto :env
call :step "build env (conda-build from conda-forge)"
set "RCODE=30" & call :ensure_env "%BENV%" "%BUILD_SPEC%" || goto :fail
set "MSG=the build env at %BENV% cannot import conda-build and anaconda-client"
set "HINT=run again (it is re-created); if it persists read %LOG%"
set "RUN=python -c "import conda_build.cli.main_build, binstar_client""
set "RCODE=30" & if defined NEW call :mmrun "%BENV%" || goto :fail
if defined NEW call :mark
call :step "conda build recipes\* into %CHANNEL%"
if not exist "%CHANNEL%" mkdir "%CHANNEL%"
:: A release (--upload) carries every supported Python; a local build only the chosen one.
set "PYARGS=--python %PY%" & set "UPLOAD_ARGS="
if defined LABEL set "PYARGS=--python 3.10 --python 3.11 --python 3.12 --python 3.13"
if defined LABEL set "UPLOAD_ARGS=--upload-label %LABEL%"
set "RUN=python scripts\build_recipes.py --recipes recipes --channel "%CHANNEL%" %PYARGS% --compiler %VSVAR% %UPLOAD_ARGS%"
call :mmrun "%BENV%"
set "RCODE=%MRC%"
set "MSG=building the recipes failed (exit %RCODE%)"
set "HINT=read the conda-build output in %LOG%"
if "%RCODE%"=="32" set "MSG=upload to anaconda.org failed" & set "HINT=check the token's scope"
if not "%RCODE%"=="32" if not "%RCODE%"=="0" set "RCODE=31"
if not "%RCODE%"=="0" goto :fail

:env
if not defined DO_ENV goto :done
set "VARIANT=cpu" & if not "%CUDA%"=="cpu" set "VARIANT=cuda-%CUDA%"
set "SPEC=--file env\training.txt --file env\variant-%VARIANT%.txt python=%PY%"
:: The env is re-created when a spec file changes: their digests go into the marker.
call :sha256 env\training.txt
set "SPEC_SHA=%GOT%"
call :sha256 env\variant-%VARIANT%.txt
set "SPEC_SHA=%SPEC_SHA%-%GOT%"
call :step "training env (cuda %CUDA%, python %PY%)"
set "SPEC=-c %CHANNEL% -c conda-forge --strict-channel-priority %SPEC%"
set "RCODE=33" & call :ensure_env "%PREFIX%" "%SPEC%" "%SPEC_SHA%" || goto :fail
set "SB=%PREFIX%\ffcv-shell.bat"
>"%SB%" echo @echo off
>>"%SB%" echo setlocal
>>"%SB%" echo set "CP="
>>"%SB%" echo for /f "tokens=2 delims=:." %%%%a in ('chcp') do for %%%%b in (%%%%a) do set "CP=%%%%b"
>>"%SB%" echo set "CONDA_BAT="
>>"%SB%" echo "%MM%" --no-rc -r "%ROOT%" run -p "%PREFIX%" cmd.exe /k
>>"%SB%" echo set "RCODE=%%ERRORLEVEL%%"
>>"%SB%" echo set "NUL_OUT=>nul"
>>"%SB%" echo if defined CP chcp %%CP%% %%NUL_OUT%%
>>"%SB%" echo exit /b %%RCODE%%
set "DEVICE=cuda" & if /i "%CUDA%"=="cpu" set "DEVICE=cpu"
call :step "verification (scripts\verify_env.py --device %DEVICE%)"
set "MSG=verification FAILED (summary above); the env will be re-created next time"
set "HINT=read the summary; the log is %LOG%"
set "RUN=python scripts\verify_env.py --device %DEVICE%"
set "RCODE=34" & call :mmrun "%PREFIX%" console || goto :fail
:: Only a verified training env is recorded as done.
call :mark

:done
set "MSG=  channel: %CHANNEL%" & call :say PASS 32
if defined DO_ENV set "MSG=      env: %PREFIX%  (open a shell in it: %PREFIX%\ffcv-shell.bat)" & call :say
set "MSG=      log: %LOG%" & call :say
exit /b 0

:: ---- subroutines -----------------------------------------------------------------------------
:finish
:: Every way out. In a window Explorer opened, wait for a key before it closes.
if defined DCLICK echo.
if defined DCLICK echo Press any key to close this window.
if defined DCLICK pause >nul
exit /b %RCODE%

:ensure_env PATH SPEC [STAMP]
:: Creates the env unless its marker records this spec; the caller writes the marker (:mark)
:: once the env is proven usable. Another spec, or no marker (an interrupted or unproven
:: create): the env is removed first; preflight made sure it is ours.
set "MARK=%~1\conda-meta\ffcvwin-spec.txt"
set "WANT=%~2 %~3" & set "HAVE=" & set "NEW="
if exist "%MARK%" for /f "usebackq delims=" %%s in ("%MARK%") do set "HAVE=%%s"
if "%HAVE%"=="%WANT%" exit /b 0
set "NEW=1"
call :owner "%~1"
if not exist "%CACHE%\owned" mkdir "%CACHE%\owned"
>"%OWN%" echo %~1
if exist "%~1\" rmdir /s /q "%~1"
set "MSG=micromamba create -p %~1 failed" & set "HINT=read %LOG%"
"%MM%" %MM_ARGS% create -y -p "%~1" --no-shortcuts --override-channels %~2 %OUT%
:: Compared with 0, not "if errorlevel 1": a crash's exit code (NTSTATUS) is negative.
if not "%ERRORLEVEL%"=="0" exit /b 1
exit /b 0

:mark
:: Records the env :ensure_env last handled as done.
>"%MARK%" echo %WANT%
exit /b 0

:mmrun PREFIX [console]
:: micromamba run of the command in RUN (its output into the log, or on the console); MRC is
:: its exit code. Its wrapper .bat leaves the console in code page 65001: put ours back.
set "TO=%OUT%" & if "%~2"=="console" set "TO="
"%MM%" %MM_ARGS% run -p "%~1" %RUN% %TO%
set "MRC=%ERRORLEVEL%"
if defined CP chcp %CP% >nul 2>&1
if not "%MRC%"=="0" exit /b 1
exit /b 0

:sha256 FILE
:: GOT: the file's SHA-256, lower or upper case, without the spaces older certutils print.
"%CERTUTIL%" -hashfile "%~1" SHA256 >"%TMPF%" 2>&1
set "GOT="
for /f "usebackq skip=1 delims=" %%h in ("%TMPF%") do if not defined GOT set "GOT=%%h"
if defined GOT set "GOT=%GOT: =%"
exit /b 0

:owner PATH
:: OWN: the stamp file in the cache saying this script created the env at PATH.
set "OWN=%~pnx1" & set "D=%~d1"
set "OWN=%CACHE%\owned\%D:~0,1%%OWN:\=_%"
exit /b 0

:find_msvc
set "RCODE=12" & set "MSG=no MSVC C++ build tools found"
set "HINT=install Visual Studio 2022 Build Tools with 'Desktop development with C++'"
if not exist "%VSWHERE%" exit /b 1
"%VSWHERE%" -latest -products * -requires Microsoft.VisualStudio.Component.VC.Tools.x86.x64 -property installationVersion >"%TMPF%" 2>nul
set "VSMAJOR="
for /f "usebackq tokens=1 delims=." %%v in ("%TMPF%") do if not defined VSMAJOR set "VSMAJOR=%%v"
if not defined VSMAJOR exit /b 1
set "VSVAR="
if "%VSMAJOR%"=="17" set "VSVAR=vs2022"
if "%VSMAJOR%"=="18" set "VSVAR=vs2026"
set "RCODE=13" & set "MSG=Visual Studio %VSMAJOR%.x is not supported by conda-forge's compilers here"
set "HINT=install Visual Studio 2022 (17.x) or 2026 (18.x) Build Tools"
if not defined VSVAR exit /b 1
set "MSG=MSVC: Visual Studio %VSMAJOR%.x, compiler variant %VSVAR%" & call :say
exit /b 0

:find_driver
:: CUDA 12.x needs driver >= 525; 13.x needs >= 580 and compute capability >= 7.5.
set "RCODE=14" & set "MSG=no working NVIDIA driver (nvidia-smi missing or failing)"
set "HINT=install the NVIDIA driver, or build a CPU env with --cuda cpu"
set "SMI=%SystemRoot%\System32\nvidia-smi.exe"
if not exist "%SMI%" exit /b 1
:: Drivers older than the compute_cap field answer the plain query (and are too old anyway).
"%SMI%" --query-gpu=driver_version,compute_cap --format=csv,noheader >"%TMPF%" 2>nul || "%SMI%" --query-gpu=driver_version --format=csv,noheader >"%TMPF%" 2>nul
if not "%ERRORLEVEL%"=="0" exit /b 1
set "DRV="
for /f "usebackq tokens=1-4 delims=., " %%a in ("%TMPF%") do if not defined DRV set "DRV=%%a" & set "CCAP=%%c%%d"
if not defined DRV exit /b 1
set /a DRV=DRV+0, CCAP=CCAP+0
set "MSG=NVIDIA driver %DRV%, compute capability %CCAP%" & call :say
if /i not "%CUDA%"=="auto" goto :check_driver
set "CUDA=12.8"
if %DRV% GEQ 580 if %CCAP% GEQ 75 set "CUDA=13.0"
set "MSG=CUDA %CUDA% chosen from the driver" & call :say
:check_driver
set "RCODE=15" & set "HINT=update the NVIDIA driver, or choose --cuda 12.8 / --cuda cpu"
set "MSG=CUDA %CUDA% needs driver >= 525, found %DRV%"
if %DRV% LSS 525 exit /b 1
set "MSG=CUDA 13.0 needs driver >= 580 and compute capability >= 7.5, found %DRV% / %CCAP%"
if "%CUDA%"=="13.0" if %DRV% LSS 580 exit /b 1
if "%CUDA%"=="13.0" if %CCAP% LSS 75 exit /b 1
exit /b 0

:check_long_paths
:: With LongPathsEnabled 0 (the Windows default) a path may have 259 characters. Read only.
set "LP=0"
for /f "tokens=3" %%v in ('reg query "HKLM\SYSTEM\CurrentControlSet\Control\FileSystem" /v LongPathsEnabled 2^>nul') do set "LP=%%v"
if "%LP%"=="0x1" exit /b 0
set "RCODE=23" & set "HINT=use shorter folders (for example --prefix C:\ffcv\env --cache C:\ffcv\c), or have an administrator enable long paths (LongPathsEnabled, README)"
call :strlen PREFIX & set /a "MAXP=259-LONGEST-1"
set "MSG=--prefix %PREFIX% is too long for the env's longest file with long paths disabled (%LEN% characters, at most %MAXP%)"
if %LEN% GTR %MAXP% exit /b 1
call :strlen CACHE & set /a "MAXC=259-LONGEST-PKGDIR-1-3"
set "MSG=--cache %CACHE% is too long for the package cache with long paths disabled (%LEN% characters, at most %MAXC%)"
if %LEN% GTR %MAXC% exit /b 1
:: conda-build's test envs: <cache>\bld\<recipe>_<13-digit time>\_test_env\<file>, 30 + RL.
set "RL=0"
for /f "delims=" %%r in ('dir /b /ad "%REPO%\recipes" 2^>nul') do call :strlen_of "%%r" & call :max_rl
call :strlen CACHE & set /a "MAXB=259-LONGEST-RL-30"
set "MSG=--cache %CACHE% is too long for conda-build's test envs with long paths disabled (%LEN% characters, at most %MAXB%)"
if defined DO_BUILD if %LEN% GTR %MAXB% exit /b 1
exit /b 0

:max_rl
if %LEN% GTR %RL% set "RL=%LEN%"
exit /b 0

:check_space
:: Free space for this user on the cache's volume: the last number in the last line of "dir /-c"
:: (no thousands separators; the words around it are localised, the digits are not).
set "NEED=%NEED_GPU%" & if /i "%CUDA%"=="cpu" set "NEED=%NEED_CPU%"
if defined FFCVWIN_MIN_FREE_GB set /a "NEED=FFCVWIN_MIN_FREE_GB+0"
if "%NEED%"=="0" exit /b 0
set "LAST="
for /f "delims=" %%l in ('dir /-c "%CACHE%\" 2^>nul') do set "LAST=%%l"
set "FREE="
if defined LAST set "LAST=%LAST:(= %"
if defined LAST set "LAST=%LAST:)= %"
if defined LAST for %%t in (%LAST%) do call :digits "%%t" && set "FREE=%%t"
if not defined FREE exit /b 0
:: Decimal GB: drop nine digits (padded first: no substring may run past the end in Wine).
set "F=0000000000%FREE%"
set "F=%F:~0,-9%" & set "GB=0"
for /f "tokens=* delims=0" %%n in ("%F%") do set "GB=%%n"
set "RCODE=22" & set "MSG=only %GB% GB free on the drive of %CACHE%; this run needs about %NEED% GB"
set "HINT=free disk space, or give --cache (and --prefix) on a drive with more room"
if %GB% LSS %NEED% exit /b 1
exit /b 0

:digits STRING
:: Succeeds when STRING is one or more decimal digits.
if "%~1"=="" exit /b 1
setlocal EnableDelayedExpansion
set "T=#%~1"
for %%c in (0 1 2 3 4 5 6 7 8 9) do call :strip %%c
if "!T!"=="#" endlocal & exit /b 0
endlocal & exit /b 1

:strlen VAR
:: LEN: the length of the variable's value: the size of a file holding it, less CR LF (values
:: here are checked path characters; Wine's !v:~n! differs past the end, so no substrings).
setlocal EnableDelayedExpansion
>"%TMPF%" echo !%~1!
for %%F in ("%TMPF%") do set /a "L=%%~zF-2"
endlocal & set "LEN=%L%"
exit /b 0

:strlen_of STRING
set "SV=%~1"
call :strlen SV
exit /b 0

:badchars VAR
:: BADF set when the value has characters other than A-Z a-z 0-9 . _ -; BAD shows them (a "!"
:: among them is lost in the message, not in the check).
setlocal EnableDelayedExpansion
set "T=#!%~1!"
for %%c in (a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9 . _ -) do call :strip %%c
if "!T!"=="#" endlocal & exit /b 0
endlocal & set "BAD=%T:~1%" & set "BADF=1"
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
endlocal & set "MSG=%MSG%" & set "HINT=%HINT%" & set "RCODE=16"
exit /b 1

:strip CHAR
:: Wine 10 does not substitute a for-variable inside !T:x=! (Windows does): pass it as %1.
set "T=!T:%~1=!"
exit /b 0

:step
set "MSG=== %~1" & call :say
exit /b 0

:say [WORD COLOUR]
:: MSG on the console and in the log; WORD first, coloured on the console only.
setlocal EnableDelayedExpansion
set "W=%~1" & set "C=%~2"
if defined W if defined ESC if defined C echo !ESC![!C!m!W!!ESC![0m!MSG!
if defined W if not defined ESC echo !W!!MSG!
if defined W if defined ESC if not defined C echo !W!!MSG!
if not defined W echo !MSG!
if defined LOG >>"!LOG!" echo !W!!MSG!
endlocal & exit /b 0

:fail
setlocal EnableDelayedExpansion
set "E=ERROR"
if defined ESC set "E=!ESC![31mERROR!ESC![0m"
>&2 echo !E!: !MSG!
>&2 echo   fix: !HINT!
if defined LOG >&2 echo   log: !LOG!
if defined LOG >>"!LOG!" echo ERROR: !MSG!
if defined LOG >>"!LOG!" echo   fix: !HINT!
endlocal
if defined LOCKED exit /b %RCODE%
goto :finish

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
echo   --upload LABEL    build for Python 3.10-3.13 and upload to anaconda.org with this
echo                     label (token from the ANACONDA_API_TOKEN environment variable)
echo   --ssl-no-revoke   pass --ssl-no-revoke to curl (TLS-inspecting proxies)
echo   --no-color        no colour (also when NO_COLOR is set)
echo   -v, --verbose     tool output on the console (default: into the log only)
echo.
echo Exit codes: 0 ok, 2 usage, 10 no curl.exe, 11 no certutil.exe, 12 no MSVC,
echo   13 unsupported Visual Studio, 14 no NVIDIA driver, 15 driver too old for CUDA,
echo   16 bad path, 17 no upload token, 18 channel empty, 19 cache in use by another run,
echo   20 download failed, 21 checksum mismatch, 22 not enough disk space, 23 path too long,
echo   30 build env failed, 31 recipe build failed, 32 upload failed,
echo   33 training env failed, 34 verification failed.
set "RCODE=0"
goto :finish
