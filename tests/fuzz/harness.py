"""Run one ``schedlab`` command line in a forked child, and judge how it ended.

Each case runs ``schedlab.cli.main`` in a child process forked from the caller (fast: schedlab
is imported once), with stdout and stderr in files, in a folder of its own, under a wall-clock
limit. The outcome says what a user would see: the exit code, the output, a traceback if one
escaped, whether it hung, and which files it left behind.

A case passes (:meth:`Outcome.problems` is empty) when:

- it ended within the limit, without a traceback;
- it exited 0 (the input was good), 1 (a trace was checked and failed: ``check`` only), or 2
  with exactly one line on stderr, ``schedlab: error: ...``;
- it left no temporary file anywhere, and, when it failed, no new file at all.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Outcome", "run_cli", "snapshot"]

#: Exit code of a child whose command raised past ``main``.
TRACEBACK = 97


@dataclass
class Outcome:
    """How one command line ended."""

    argv: list[str]
    code: int | None
    out: str
    err: str
    hung: bool
    seconds: float
    new_files: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)

    @property
    def traceback(self) -> bool:
        return self.code == TRACEBACK or "Traceback (most recent call last)" in self.err

    @property
    def half_written(self) -> list[str]:
        """Temporary files left anywhere, and any new file of a command that failed.

        A sweep whose run failed keeps, by design, the journal of the runs finished before
        (``runs.jsonl``, with ``suite.json``), so that running it again resumes: those are whole
        files, each line a finished run, and are not counted.
        """
        new = self.new_files if self.code not in (0, 1) else []
        if self.argv[:1] == ["sweep"] and " failed: " in self.err:
            new = [p for p in new if not p.endswith(("/", "runs.jsonl", "suite.json"))]
        return self.temp_files + new

    def problems(self, *, ok_codes: Sequence[int] = (0, 2)) -> list[str]:
        """What is wrong with this outcome, empty when it is as a user should see it."""
        found = []
        if self.hung:
            found.append(f"hung (no exit within {self.seconds:.0f} s)")
        if self.traceback:
            found.append("traceback:\n" + self.err[-3000:])
        elif self.code not in ok_codes:
            found.append(f"exit code {self.code}, expected one of {list(ok_codes)}; stderr: {self.err[-1500:]}")
        if self.code == 2 and not self.traceback:
            # Lines end at "\n" only: a path the user gave may hold other characters that
            # str.splitlines() would split at (\x1c-\x1e, \x85, \u2028), on one terminal line.
            lines = [ln for ln in self.err.split("\n") if ln.strip() and not ln.startswith("schedlab: warning:")]
            if len(lines) != 1 or not lines[0].startswith("schedlab: error: "):
                found.append(f"expected one 'schedlab: error:' line on stderr, got {len(lines)}: {self.err[-1500:]!r}")
        if self.half_written:
            found.append(f"left files behind: {self.half_written}")
        return found


def snapshot(folder: Path) -> dict[str, int]:
    """Every file and folder under ``folder``, relative path -> size (folders: -1)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for d in dirnames:
            found[os.path.relpath(os.path.join(dirpath, d), folder) + "/"] = -1
        for f in filenames:
            p = os.path.join(dirpath, f)
            try:
                found[os.path.relpath(p, folder)] = os.lstat(p).st_size
            except OSError:
                pass
    return found


def run_cli(argv: Sequence[str], cwd: Path, *, timeout_s: float = 60.0, stdin: bytes = b"") -> Outcome:
    """Run ``schedlab ARGV`` in ``cwd`` in a forked child; kill it after ``timeout_s``.

    Files of ``cwd`` that exist before the call are the case's inputs; any file that appears
    is reported in :attr:`Outcome.new_files`.
    """
    cwd = Path(cwd)
    logs = cwd.parent / f".{cwd.name}.logs"
    logs.mkdir(exist_ok=True)
    out_path, err_path = logs / "stdout", logs / "stderr"
    before = snapshot(cwd)
    start = time.monotonic()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = TRACEBACK
        try:
            os.setpgid(0, 0)  # its own group, so a hang takes its worker processes down with it
            os.chdir(cwd)
            fd_in = os.open(os.devnull, os.O_RDONLY)
            fd_out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            fd_err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd_in, 0)
            os.dup2(fd_out, 1)
            os.dup2(fd_err, 2)
            sys.stdin = open(0, closefd=False)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            os.environ["COLUMNS"] = "100"
            from schedlab.cli import main

            try:
                main(list(argv))
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                if code == TRACEBACK:
                    code = 1
            except BaseException:  # noqa: BLE001 - the very thing this harness looks for
                traceback.print_exc()
                code = TRACEBACK
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    hung = False
    status = 0
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > timeout_s:
            hung = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.005)
    seconds = time.monotonic() - start
    code = None if hung else (os.waitstatus_to_exitcode(status))
    after = snapshot(cwd)
    new = sorted(p for p in after if p not in before)
    temp = sorted(p for p in after if Path(p.rstrip("/")).name.startswith(".") and p.rstrip("/").endswith(".tmp"))
    temp += sorted(p for p in after if p.endswith(".tmp") and p not in temp)
    return Outcome(
        argv=list(argv),
        code=code,
        out=out_path.read_text(errors="replace"),
        err=err_path.read_text(errors="replace"),
        hung=hung,
        seconds=seconds,
        new_files=new,
        temp_files=temp,
    )
