"""Build ``llama-server``, ``rpc-server`` and ``llama-bench`` from the llama.cpp that
llama-cpp-python vendors (``llama-bench`` is the baseline of ``scripts/bench_shapes.py``).

The source is llama-cpp-python's source distribution for the installed version (fetched with
pip, or given as a file). Binaries are static, kept under ``locations.server_build_dir()`` in
one folder per build setting (version, CMake arguments, compiler flags, machine); a file lock
keeps two builds of the same setting from colliding. On x86-64 AMX is left out, as for the
Python package (llama.cpp 0.3.36's AMX matmul crashes on small models).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from baichuan_tui import locations
from baichuan_tui.errors import UserError

SERVER = "llama-server"
RPC = "rpc-server"
BENCH = "llama-bench"
_TARGETS = {SERVER: "llama-server", RPC: "ggml-rpc-server", BENCH: "llama-bench"}
_NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
_BASE_ARGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DGGML_RPC=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_COMMON=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BuildSetting:
    """What a build depends on; its :attr:`key` names the cache folder."""

    version: str
    cuda: bool
    cflags: str
    machine: str
    extra_cmake_args: tuple[str, ...] = ()

    @property
    def cmake_args(self) -> list[str]:
        """The CMake configure arguments."""
        args = [*_BASE_ARGS, f"-DGGML_CUDA={'ON' if self.cuda else 'OFF'}"]
        if not self.cuda:
            args.append("-DGGML_NATIVE=ON")
        return [*args, *self.extra_cmake_args]

    @property
    def key(self) -> str:
        """A short hash of everything above."""
        text = "\n".join([self.version, self.cflags, self.machine, *self.cmake_args])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Binaries:
    """Paths of a finished build."""

    folder: Path
    server: Path
    rpc: Path
    bench: Path


def default_setting(
    *, cuda: bool = False, cflags: str | None = None, extra: tuple[str, ...] = ()
) -> BuildSetting:
    """The setting for the installed llama-cpp-python on this machine.

    ``cflags`` defaults to ``BAICHUAN_LLAMA_CFLAGS`` when set, else no AMX on x86-64.
    """
    if cflags is None:
        cflags = default_cflags()
    return BuildSetting(installed_version(), cuda, cflags, platform.machine(), extra)


def default_cflags() -> str:
    """Compiler flags for any llama.cpp build here: ``BAICHUAN_LLAMA_CFLAGS`` when set, else
    no AMX on x86-64 (llama.cpp 0.3.36's AMX matmul crashes on small models)."""
    return os.environ.get(
        "BAICHUAN_LLAMA_CFLAGS", _NO_AMX if platform.machine() == "x86_64" else ""
    )


def installed_version() -> str:
    """The installed llama-cpp-python version (whose vendored llama.cpp we build)."""
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError as exc:
        raise UserError(
            "llama-cpp-python is not installed", "run scripts/baichuan-chat once to set up"
        ) from exc


def setting_dir(setting: BuildSetting) -> Path:
    """The cache folder of one build setting."""
    return locations.server_build_dir() / setting.key


def find_binaries(setting: BuildSetting | None = None) -> Binaries | None:
    """The finished build for ``setting`` (default: this machine's CPU build), or None."""
    folder = setting_dir(setting or default_setting()) / "bin"
    found = Binaries(folder, folder / SERVER, folder / RPC, folder / BENCH)
    if (folder / "built.json").is_file() and all((folder / name).is_file() for name in _TARGETS):
        return found
    return None


def build(
    setting: BuildSetting | None = None,
    *,
    sdist: Path | None = None,
    jobs: int | None = None,
    force: bool = False,
    progress: Progress = print,
) -> Binaries:
    """Build both binaries for ``setting`` unless already built; return their paths.

    ``sdist`` is llama-cpp-python's source archive (fetched with pip when omitted).
    """
    setting = setting or default_setting()
    top = setting_dir(setting)
    top.mkdir(parents=True, exist_ok=True)
    with _locked(top / ".lock", progress):
        done = find_binaries(setting)
        if done and not force:
            progress(f"already built: {done.folder}")
            return done
        for tool in ("cmake", "c++"):
            if shutil.which(tool) is None:
                raise UserError(f"{tool} not found", "install CMake and a C/C++ compiler")
        source = _source(top, setting.version, sdist, progress)
        _configure(source, top / "build", setting, progress)
        _compile(top / "build", setting, jobs or os.cpu_count() or 1, progress)
        return _install(top, setting, progress)


@contextmanager
def _locked(path: Path, progress: Progress) -> Iterator[None]:
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("another build of this setting is running; waiting for it ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _source(top: Path, version: str, sdist: Path | None, progress: Progress) -> Path:
    """The vendored llama.cpp folder, unpacked once per setting."""
    source = top / "src" / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if (source / "tools" / "server").is_dir():
        return source
    archive = sdist or _download_sdist(version, progress)
    progress(f"unpacking {archive.name} ...")
    shutil.rmtree(top / "src", ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(top / "src", filter="tar")
    if not (source / "tools" / "server").is_dir():
        raise UserError(f"{archive} has no vendor/llama.cpp/tools/server")
    return source


def _download_sdist(version: str, progress: Progress) -> Path:
    folder = locations.server_build_dir() / "sdist"
    name = f"llama_cpp_python-{version}.tar.gz"
    if (folder / name).is_file():
        return folder / name
    progress(f"downloading llama-cpp-python {version} source ...")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        cmd += ["--no-binary", ":all:", f"llama-cpp-python=={version}", "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        got = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if done.returncode != 0 or not got:
            last = (done.stderr.strip().splitlines() or ["no archive"])[-1]
            raise UserError(f"could not download llama-cpp-python {version} source: {last}")
        got[0].replace(folder / name)
    return folder / name


def _configure(source: Path, build_dir: Path, setting: BuildSetting, progress: Progress) -> None:
    if (build_dir / "CMakeCache.txt").is_file():
        return
    progress(f"configuring ({'CUDA' if setting.cuda else 'CPU'}) ...")
    env = _env(setting)
    cmd = ["cmake", "-S", str(source), "-B", str(build_dir), *setting.cmake_args]
    _run(cmd, env, build_dir.parent / "build.log", progress, "configuring")


def _compile(build_dir: Path, setting: BuildSetting, jobs: int, progress: Progress) -> None:
    progress(f"compiling {' and '.join(_TARGETS.values())} with {jobs} jobs (minutes) ...")
    cmd = ["cmake", "--build", str(build_dir), "--config", "Release", "-j", str(jobs)]
    cmd += ["--target", *_TARGETS.values()]
    _run(cmd, _env(setting), build_dir.parent / "build.log", progress, "compiling")


_PERCENT = re.compile(r"^\[\s*(\d+)%\]")


def _run(cmd: list[str], env: dict[str, str], log: Path, progress: Progress, what: str) -> None:
    """Run ``cmd``, output to ``log``; report every tenth percent cmake prints."""
    shown = -10
    with log.open("a") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None  # noqa: S101 - stdout=PIPE above
        tail: list[str] = []
        for line in proc.stdout:
            out.write(line)
            tail = [*tail[-19:], line.rstrip()]
            match = _PERCENT.match(line)
            if match and int(match.group(1)) >= shown + 10:
                shown = int(match.group(1))
                progress(f"{shown:3d}% {what}")
        if proc.wait() != 0:
            for line in tail:
                progress(line)
            raise UserError(f"{what} llama.cpp failed (full log: {log})")


def _env(setting: BuildSetting) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("CFLAGS", "CXXFLAGS"):
        env[var] = " ".join(filter(None, [env.get(var, ""), setting.cflags]))
    return env


def _install(top: Path, setting: BuildSetting, progress: Progress) -> Binaries:
    built = top / "build" / "bin"
    folder = top / "bin"
    folder.mkdir(exist_ok=True)
    for name, target in _TARGETS.items():
        shutil.copy2(built / target, folder / name)
    record = {"version": setting.version, "cuda": setting.cuda, "cflags": setting.cflags}
    record |= {"machine": setting.machine, "cmake_args": setting.cmake_args}
    (folder / "built.json").write_text(json.dumps(record, indent=1) + "\n")
    progress(f"built: {', '.join(str(folder / name) for name in _TARGETS)}")
    return Binaries(folder, folder / SERVER, folder / RPC, folder / BENCH)
