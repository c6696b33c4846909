"""Wine 10 in a Debian trixie chroot, for running cmd.exe scripts and Windows programs on Linux.

Why a chroot: Debian 12's own Wine 8.0 cmd.exe is not faithful (``&&``/``||`` both run, ``call``
loses exit codes, ``( block ) 2>nul`` fails); trixie's Wine 10 has the rewritten parser. Trixie
packages must never be installed on the host (they would upgrade its libc), so they live in a
chroot (DESIGN.md section 5.1).

Life cycle
----------
1. ``ensure()`` needs the *base*: an unpacked, booted chroot at
   ``/var/tmp/ffcvwin/base-<key>`` (``key`` hashes ``RECIPE`` and the apt mirror). If it is
   missing it is unpacked from ``~/.cache/ffcvwin/wine10-trixie-<key>.tar.zst``; if that is missing
   too it is built once, under a file lock: ``debootstrap --variant=minbase trixie``, ``apt-get
   install --no-install-recommends wine wine64``, a prefix booted with ``wineserver -p`` and
   ``wine wineboot -i`` (stdio on ``/dev/null``), ``HKCU\\Software\\Wine\\Drivers Graphics=null``,
   ``wineserver -k``; Wine's copies of its PE files in ``system32`` are hardlinked to the
   originals, and the tarball is written for the next machine.
2. A holder process (``unshare -m --propagation private sleep infinity``) owns a private mount
   namespace. In it the session root is an overlay (the read-only base below, a per-session
   ``upper`` directory on top), so sessions never share a prefix or a wineserver and start in
   about a second. ``/proc``, ``/dev``, ``/dev/pts``, ``/dev/shm`` and every workspace directory
   are bind-mounted at the SAME path: host path = chroot path = ``Z:\\same\\path``. All mounts
   exist only in that namespace; the host never sees them.
3. ``run()`` enters the namespace with ``nsenter -m`` and calls ``chroot R env -i PATH=/usr/bin:/bin
   HOME=/root WINEPREFIX=/root/.wine WINEDEBUG=-all WINEDLLOVERRIDES=... wine PROGRAM ARGS``.
4. ``stop()`` runs ``wineserver -k``, ends the holder (the overlay and the binds vanish with the
   namespace), checks that nothing is mounted below the session directory from the host's view,
   and only then deletes the session's ``upper`` directory.

Facts the API reflects: Windows exit codes reach Linux modulo 256; arguments cannot contain ``"``;
the first Wine call starts services that inherit the caller's stdio, so a session warms up with
stdio on ``/dev/null`` before any captured call.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath

# Everything that determines the chroot's content; changing it changes the cache key.
SUITE = "trixie"
VARIANT = "minbase"
PACKAGES = ("wine", "wine64")
REGISTRY = (("HKCU\\Software\\Wine\\Drivers", "Graphics", "null"),)
LAYOUT = 3  # bump when the build steps in WineChroot._build change
RECIPE = {
    "suite": SUITE,
    "variant": VARIANT,
    "packages": PACKAGES,
    "registry": REGISTRY,
    "layout": LAYOUT,
}
DLL_OVERRIDES = "mscoree,mshtml=;winemenubuilder.exe=d"
CHROOT_PREFIX = "/root/.wine"  # WINEPREFIX inside the chroot
BASE_PATH = "/usr/bin:/bin"
# Removed from the base after the build: not needed to run Wine, and they slow the tarball.
PRUNE = ("usr/share/doc", "usr/share/locale", "usr/share/man", "var/lib/apt/lists")


def _host_mirror() -> str:
    """Return the Debian mirror the host's apt uses (deb822 ``URIs:`` or one-line ``deb``)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for src in sources:
        if not src.is_file():
            continue
        for line in src.read_text(errors="replace").splitlines():
            words = line.split()
            uris = words[1:] if words[:1] in (["URIs:"], ["deb"]) else []
            for uri in uris:
                if "://" in uri and uri.rstrip("/").endswith("/debian"):
                    return uri
    return "http://deb.debian.org/debian"


def cache_dir() -> Path:
    """Directory holding the chroot tarballs (``$FFCVWIN_CACHE`` or ``~/.cache/ffcvwin``)."""
    return Path(os.environ.get("FFCVWIN_CACHE", Path.home() / ".cache" / "ffcvwin"))


def work_dir() -> Path:
    """Directory holding the unpacked base and the sessions (``$FFCVWIN_WORK``)."""
    return Path(os.environ.get("FFCVWIN_WORK", "/var/tmp/ffcvwin"))


def recipe_key(mirror: str) -> str:
    """Short hash of the recipe and mirror: the cache key of the tarball."""
    blob = json.dumps({**RECIPE, "mirror": mirror}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def windows_path(path: str | os.PathLike[str]) -> str:
    """Map a host path to the Windows path Wine shows for it (``/a/b c`` -> ``Z:\\a\\b c``)."""
    return "Z:" + str(PurePosixPath(os.path.abspath(path))).replace("/", "\\")


def _mounts_below(root: Path) -> list[str]:
    """Mount points at or below ``root`` visible in this (the host's) mount namespace."""
    prefix = os.path.realpath(root)
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return found


def _safe_rmtree(root: Path) -> None:
    """Delete a directory tree, refusing while anything is mounted below it (host view).

    Session mounts live in a private namespace, so from here a mount point is an empty
    directory; ``--one-file-system`` is a second guard against crossing into a mount.
    """
    if not root.exists():
        return
    mounts = _mounts_below(root)
    if mounts:
        raise RuntimeError(f"refusing to delete {root}: still mounted: {mounts}")
    subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _quiet(cmd: list[str], timeout: float = 300, check: bool = False) -> None:
    """Run with stdio on /dev/null (Wine services inherit stdio and would hold pipes open)."""
    subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=timeout,
        check=check,
    )


def _wine_env(extra: Mapping[str, str] | None = None) -> list[str]:
    env = {
        "PATH": BASE_PATH,
        "HOME": "/root",
        "WINEPREFIX": CHROOT_PREFIX,
        "WINEDEBUG": "-all",
        "WINEDLLOVERRIDES": DLL_OVERRIDES,
    }
    env.update(extra or {})
    return [f"{k}={v}" for k, v in env.items()]


class _Namespace:
    """A private mount namespace held open by a sleeping process; ``root`` is the chroot."""

    SYSTEM_MOUNTS = ("/proc", "/dev", "/dev/pts", "/dev/shm")
    # Binding host directories over these would hide the chroot's own system.
    FORBIDDEN = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run")
    FORBIDDEN += ("/sbin", "/sys", "/usr")

    def __init__(self, root: Path, lower: Path | None = None, upper: Path | None = None) -> None:
        self.root = root
        self.mounted: list[str] = []
        self.holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sleep", "infinity"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        own = os.readlink("/proc/self/ns/mnt")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # unshare execs sleep once the namespace exists
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{self.holder.pid}/ns/mnt") != own:
                    break
            time.sleep(0.01)
        else:
            self.close()
            raise RuntimeError("unshare did not create a mount namespace")
        if lower is not None and upper is not None:
            (upper / "upper").mkdir(parents=True)
            (upper / "work").mkdir()
            opts = f"lowerdir={lower},upperdir={upper / 'upper'},workdir={upper / 'work'}"
            self._mount(["-t", "overlay", "overlay", "-o", opts, str(root)])
        for path in self.SYSTEM_MOUNTS:
            self._mount(["--bind", path, str(root / path.lstrip("/"))])

    def enter(self) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--"]

    def _mount(self, args: list[str]) -> None:
        subprocess.run([*self.enter(), "mount", *args], check=True, capture_output=True)

    def bind(self, host_path: str) -> None:
        """Bind-mount a host directory at the same path inside the chroot (idempotent)."""
        if any(host_path == m or host_path.startswith(m.rstrip("/") + "/") for m in self.mounted):
            return
        top = "/" + host_path.strip("/").split("/")[0]
        if host_path in ("/", "/tmp", "/var", "/var/tmp") or top in self.FORBIDDEN:
            raise ValueError(f"refusing to bind {host_path}: it would hide the chroot's own files")
        target = str(self.root) + host_path
        subprocess.run([*self.enter(), "mkdir", "-p", target], check=True, capture_output=True)
        self._mount(["--bind", host_path, target])
        self.mounted.append(host_path)

    def close(self) -> None:
        if self.holder.poll() is None:
            self.holder.send_signal(signal.SIGTERM)
            try:
                self.holder.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.holder.kill()
                self.holder.wait()


class WineChroot:
    """One Wine 10 session: an overlay of the booted chroot, a mount namespace, a wineserver.

    Typical use (the ``wine`` fixture in ``harness.wine_fixtures`` does this)::

        wine = WineChroot().ensure()
        r = wine.run("cmd", ["/c", "exit 3"])             # r.returncode == 3
        r = wine.run(exe, ["a b", "c"], cwd=tmp_path)      # any .exe; cwd is bind-mounted
        r = wine.run_batch(tmp_path / "t.bat", ["x"])      # wine cmd /c t.bat x
        wine.install(double, "C:\\Windows\\System32\\curl.exe")
        wine.stop()
    """

    def __init__(self, cache: Path | None = None, work: Path | None = None) -> None:
        self.cache = cache or cache_dir()
        self.work = work or work_dir()
        self.mirror = _host_mirror()
        self.key = recipe_key(self.mirror)
        self.tarball = self.cache / f"wine10-trixie-{self.key}.tar.zst"
        self.base = self.work / f"base-{self.key}"
        self.session: Path | None = None
        self._ns: _Namespace | None = None
        self._native: set[str] = set()  # programs install()ed over Wine builtins

    # -- the base chroot -----------------------------------------------------------------------
    def _build(self, root: Path) -> None:
        """Build the booted chroot from nothing into ``root`` (~1 min on 2 cores)."""
        subprocess.run(
            ["debootstrap", f"--variant={VARIANT}", SUITE, str(root), self.mirror],
            check=True,
            capture_output=True,
        )
        shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
        ns = _Namespace(root)
        try:
            enter = [*ns.enter(), "chroot", str(root)]
            apt = [*enter, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"]
            apt += ["DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-qq"]
            subprocess.run([*apt, "update"], check=True, capture_output=True)
            install = [*apt, "install", "--no-install-recommends", *PACKAGES]
            subprocess.run(install, check=True, capture_output=True)
            subprocess.run([*apt, "clean"], check=True, capture_output=True)
            wenv = [*enter, "env", "-i", *_wine_env()]
            (root / CHROOT_PREFIX.lstrip("/")).mkdir(parents=True)  # wineserver needs it
            _quiet([*wenv, "wineserver", "-p"], check=True)
            _quiet([*wenv, "wine", "wineboot", "-i"], check=True)
            for key, name, value in REGISTRY:
                reg = ["wine", "reg", "add", key, "/v", name, "/d", value, "/f"]
                _quiet([*wenv, *reg], check=True)
            _quiet([*wenv, "wineserver", "-k"])
            _quiet([*wenv, "wineserver", "-w"])
        finally:
            ns.close()
        user_reg = (root / CHROOT_PREFIX.lstrip("/") / "user.reg").read_text(errors="replace")
        if '"Graphics"="null"' not in user_reg:
            raise RuntimeError("the prefix did not keep Graphics=null")
        for rel in PRUNE:
            shutil.rmtree(root / rel, ignore_errors=True)
        for child in (root / "tmp").iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        # Wine 10 copies its PE files into system32 (~700 MB): hardlink the duplicates.
        wine_lib = root / "usr/lib/x86_64-linux-gnu/wine"
        subprocess.run(
            ["hardlink", "-q", "-c", str(root / CHROOT_PREFIX.lstrip("/")), str(wine_lib)],
            check=True,
        )

    def _ensure_base(self) -> None:
        """Unpack (or build, then pack) the base chroot; serialised by a lock file."""
        with _locked(self.cache / f".lock-{self.key}"):
            if (self.base / ".complete").exists():
                return
            self.work.mkdir(parents=True, exist_ok=True)
            tmp = self.work / f"build-{self.key}-{os.getpid()}"
            _safe_rmtree(tmp)
            _safe_rmtree(self.base)
            tmp.mkdir()
            try:
                if self.tarball.exists():
                    unpack = ["tar", "-C", str(tmp), "-I", "zstd -T0", "-xf", str(self.tarball)]
                    subprocess.run(unpack, check=True, capture_output=True)
                else:
                    self._build(tmp)
                    self.cache.mkdir(parents=True, exist_ok=True)
                    part = self.tarball.with_name(self.tarball.name + ".part")
                    pack = ["tar", "-C", str(tmp), "-I", "zstd -T0 -3", "-cf", str(part), "."]
                    subprocess.run(pack, check=True, capture_output=True)
                    part.rename(self.tarball)
                tmp.rename(self.base)
                (self.base / ".complete").touch()
            finally:
                _safe_rmtree(tmp)

    def _cleanup_stale(self) -> None:
        """Remove session and build directories whose owner PID is gone.

        Names are ``session-<pid>-<random>`` and ``build-<key>-<pid>``.
        """
        if not self.work.is_dir():
            return
        for entry in self.work.iterdir():
            parts = entry.name.split("-")
            if parts[0] == "session":
                pid = parts[1]
            elif parts[0] == "build":
                pid = parts[-1]
            else:
                continue
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(RuntimeError, subprocess.CalledProcessError):
                    _safe_rmtree(entry)

    # -- session -------------------------------------------------------------------------------
    def ensure(self) -> WineChroot:
        """Make the session ready: base, namespace with overlay and binds, warm wineserver."""
        if self._ns is not None:
            return self
        self._ensure_base()
        self._cleanup_stale()
        self.session = self.work / f"session-{os.getpid()}-{os.urandom(4).hex()}"
        root = self.session / "root"
        root.mkdir(parents=True)
        self._ns = _Namespace(root, lower=self.base, upper=self.session)
        self._start_wineserver()
        return self

    @property
    def root(self) -> Path:
        """Host path of the session's chroot (its content is visible only inside the namespace)."""
        if self.session is None:
            raise RuntimeError("call ensure() first")
        return self.session / "root"

    def _start_wineserver(self) -> None:
        _quiet(self._command("wineserver", ["-p"], None, {}, use_wine=False), timeout=120)
        # The first Wine call starts services that keep the caller's stdio: give them /dev/null.
        _quiet(self._command("cmd", ["/c", "exit 0"], None, {}), timeout=120)

    def mount(self, *paths: str | os.PathLike[str]) -> None:
        """Bind-mount host directories into the chroot at the same path."""
        if self._ns is None:
            raise RuntimeError("call ensure() first")
        for p in paths:
            real = os.path.realpath(p)
            if not os.path.isdir(real):
                raise FileNotFoundError(f"not a directory: {real}")
            self._ns.bind(real)

    def mount_tmpfs(self, path: str | os.PathLike[str], size: str) -> None:
        """A size-limited tmpfs at a host directory's path, inside the namespace only.

        Programs in the chroot see a small volume there (for example to meet a full disk); the
        host still sees the empty directory, so files written there cannot be inspected.
        """
        if self._ns is None:
            raise RuntimeError("call ensure() first")
        real = os.path.realpath(path)
        self.mount(real)
        self._ns._mount(["-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(self.root) + real])

    def _command(
        self,
        program: str,
        args: list[str],
        cwd: str | None,
        env: Mapping[str, str],
        use_wine: bool = True,
    ) -> list[str]:
        assert self._ns is not None
        for a in args if use_wine else ():
            if '"' in a:
                raise ValueError(f'Wine cannot pass an argument containing ": {a!r}')
        chdir = ["-C", cwd] if cwd else []
        env = dict(env)
        if self._native and "WINEDLLOVERRIDES" not in env:
            env["WINEDLLOVERRIDES"] = f"{DLL_OVERRIDES};{','.join(sorted(self._native))}=n"
        cmd = [*self._ns.enter(), "chroot", str(self.root), "env", "-i", *chdir, *_wine_env(env)]
        return [*cmd, "wine", program, *args] if use_wine else [*cmd, program, *args]

    def run(
        self,
        program: str | os.PathLike[str],
        args: Iterable[str] = (),
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        winepath: Iterable[str | os.PathLike[str]] = (),
        timeout: float = 120,
        mounts: Iterable[str | os.PathLike[str]] = (),
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a Windows program under Wine and return its exit code and output.

        program: a host path to an ``.exe`` (its directory is bind-mounted and Wine gets
            ``Z:\\<path>``), or a name Wine resolves itself (``cmd``, ``reg``, ``C:\\...``).
        args: passed as separate arguments (no ``"``: Wine cannot pass it).
        cwd: host directory to start in (bind-mounted; the program sees ``Z:\\<same path>``).
        env: extra environment variables (everything else is ``env -i``-clean).
        winepath: host directories put first on the Windows ``PATH`` (``WINEPATH``; mounted).
        mounts: further host directories the program needs.
        Returns a ``CompletedProcess`` with text stdout/stderr; ``returncode`` is the Windows
        exit code modulo 256. On timeout every Wine process of the session is killed, the
        wineserver restarted, and ``subprocess.TimeoutExpired`` raised.
        """
        self.ensure()
        extra = dict(env or {})
        to_mount = [str(m) for m in mounts]
        prog = str(program)
        if prog.startswith("/") or (os.sep in prog and not prog.startswith(("C:", "Z:"))):
            prog = os.path.realpath(prog)
            to_mount.append(os.path.dirname(prog))
            prog = windows_path(prog)
        cwd_s = None
        if cwd is not None:
            cwd_s = os.path.realpath(cwd)
            to_mount.append(cwd_s)
        wp = [os.path.realpath(p) for p in winepath]
        to_mount += wp
        if wp:
            extra["WINEPATH"] = ";".join(windows_path(p) for p in wp)
        self.mount(*to_mount)
        cmd = self._command(prog, list(args), cwd_s, extra)
        try:
            return subprocess.run(
                cmd,
                input=input,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            self.restart()
            raise

    def run_batch(
        self,
        script: str | os.PathLike[str],
        args: Iterable[str] = (),
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        winepath: Iterable[str | os.PathLike[str]] = (),
        timeout: float = 120,
        mounts: Iterable[str | os.PathLike[str]] = (),
    ) -> subprocess.CompletedProcess[str]:
        """Run a ``.bat``/``.cmd`` file: ``wine Z:\\path\\script.bat args`` (see ``run``).

        Wine starts it the way Windows' CreateProcess does (``cmd /s /c ""script" args"``).
        ``cwd`` defaults to the script's directory.
        """
        path = os.path.realpath(script)
        return self.run(
            path,
            args,
            cwd=cwd if cwd is not None else os.path.dirname(path),
            env=env,
            winepath=winepath,
            timeout=timeout,
            mounts=mounts,
        )

    def _drive_c_path(self, dest: str) -> str:
        """Chroot path of ``C:\\...``, matching existing components case-insensitively.

        The merged overlay is visible only inside the namespace, so existing names are looked
        up in its two layers (the base and this session's upper directory).
        """
        if dest[:3].upper() != "C:\\":
            raise ValueError(f"expected a path under C:\\: {dest}")
        assert self.session is not None
        rel = CHROOT_PREFIX.lstrip("/") + "/drive_c"
        for part in [p for p in dest[3:].split("\\") if p]:
            names: set[str] = set()
            for layer in (self.base, self.session / "upper"):
                with contextlib.suppress(OSError):
                    names.update(os.listdir(layer / rel))
            match = next((n for n in sorted(names) if n.lower() == part.lower()), part)
            rel += "/" + match
        return "/" + rel

    def install(self, src: str | os.PathLike[str], dest: str) -> None:
        """Copy a host file into the prefix at a Windows path under ``C:\\`` (parents created).

        An installed ``.exe`` or ``.com`` is loaded as native from then on (``name.exe=n``):
        otherwise a Wine builtin of the same name (``certutil.exe``, ``chcp.com``...) would run.
        """
        self.ensure()
        target = self._drive_c_path(dest)
        real = os.path.realpath(src)
        self.mount(os.path.dirname(real))
        sh = 'mkdir -p "$(dirname "$2")" && rm -f "$2" && cp "$1" "$2"'
        cmd = self._command("sh", ["-c", sh, "sh", real, target], None, {}, use_wine=False)
        subprocess.run(cmd, check=True, capture_output=True)
        name = dest.rsplit("\\", 1)[-1].lower()
        if name.endswith((".exe", ".com")):
            self._native.add(name)

    def remove(self, dest: str) -> None:
        """Delete a file under ``C:\\`` in the prefix (no error if it is absent)."""
        self.ensure()
        cmd = self._command("rm", ["-f", self._drive_c_path(dest)], None, {}, use_wine=False)
        subprocess.run(cmd, check=True, capture_output=True)

    def restart(self) -> None:
        """Kill every Wine process of the session and start a fresh wineserver."""
        self.kill_wineserver()
        self._start_wineserver()

    def kill_wineserver(self) -> None:
        """``wineserver -k`` inside the chroot (same prefix), then wait for it to exit."""
        if self._ns is None:
            return
        _quiet(self._command("wineserver", ["-k"], None, {}, use_wine=False), timeout=60)
        _quiet(self._command("wineserver", ["-w"], None, {}, use_wine=False), timeout=60)

    def stop(self) -> None:
        """Stop wineserver, leave the namespace (mounts vanish), delete the session directory."""
        if self._ns is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.kill_wineserver()
            self._ns.close()
            self._ns = None
        if self.session is not None:
            _safe_rmtree(self.session)
            self.session = None
