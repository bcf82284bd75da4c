"""How many processes an import and a rebuild start by default: the cores this
process may use (its affinity, a container's CPU quota) and, for a rebuild's
forked workers, the memory left for their copies (the host's, a container's
cgroup limit)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from ledger.ingestion.workers import usable_cores
from projections import fanout

_MIB = 1 << 20


class TestHowManyProcesses:
    @pytest.fixture(autouse=True)
    def _memory_unknown(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Counted by cores alone here (`TestMemoryBound`: by memory)."""
        monkeypatch.setattr(fanout, "available_memory", lambda: None)

    def test_one_per_core_while_each_gets_a_few_reps(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(fanout, "usable_cores", lambda: 4)
        assert fanout.rebuild_workers(1_000) == 4
        assert fanout.rebuild_workers(12) == 3  # four reps each at least
        assert fanout.rebuild_workers(7) == 1
        assert fanout.rebuild_workers(1_000, workers=2) == 2

    def test_at_most_four_by_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each worker copies much of the folded log: a large host is not all used."""
        monkeypatch.setattr(fanout, "usable_cores", lambda: 64)
        assert fanout.rebuild_workers(1_000) == 4
        assert fanout.rebuild_workers(1_000, workers=6) == 6  # asked for

    def test_one_core_computes_alone(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(fanout, "usable_cores", lambda: 1)
        assert fanout.rebuild_workers(1_000) == 1
        assert fanout.rebuild_workers(1_000, workers=0) == 1


class TestMemoryBound:
    """A forked worker may come to copy all the rebuilding process holds: by
    default, no more are forked than the memory left has room for, and room for
    only one is none (it would compute what this process can, with a copy more)."""

    @pytest.mark.parametrize(
        ("available_mib", "processes"),
        [(None, 4), (4_096, 4), (1_350, 3), (1_349, 2), (900, 2), (899, 1), (450, 1), (0, 1)],
    )
    def test_the_default_forks_only_what_fits(
        self, monkeypatch: pytest.MonkeyPatch, available_mib: int | None, processes: int
    ) -> None:
        monkeypatch.setattr(fanout, "usable_cores", lambda: 4)
        monkeypatch.setattr(fanout, "resident_memory", lambda: 450 * _MIB)
        available = None if available_mib is None else available_mib * _MIB
        monkeypatch.setattr(fanout, "available_memory", lambda: available)
        assert fanout.rebuild_workers(1_000) == processes

    def test_a_number_asked_for_is_used_as_is(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(fanout, "resident_memory", lambda: 450 * _MIB)
        monkeypatch.setattr(fanout, "available_memory", lambda: 10 * _MIB)
        assert fanout.rebuild_workers(1_000, workers=3) == 3

    @staticmethod
    def _host(tmp_path: Path, available_kib: int) -> Path:
        meminfo = tmp_path / "meminfo"
        meminfo.write_text(
            f"MemTotal:       24000000 kB\nMemFree:  1000 kB\nMemAvailable:   {available_kib} kB\n",
            encoding="ascii",
        )
        return meminfo

    @staticmethod
    def _files(root: Path, files: dict[str, str]) -> Path:
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="ascii")
        return root

    def test_the_host_s_available_memory(self, tmp_path: Path) -> None:
        meminfo = self._host(tmp_path, 2_048_000)
        assert fanout.available_memory(meminfo, tmp_path / "no-cgroup") == 2_048_000 * 1024

    def test_a_cgroup_v2_limit_less_its_droppable_cache(self, tmp_path: Path) -> None:
        """1 GiB limit, 768 MiB used of which 128 MiB inactive page cache: 384 MiB left."""
        cgroup = self._files(
            tmp_path / "cgroup",
            {
                "memory.max": f"{1024 * _MIB}\n",
                "memory.current": f"{768 * _MIB}\n",
                "memory.stat": f"anon 1\nfile 2\ninactive_file {128 * _MIB}\n",
            },
        )
        meminfo = self._host(tmp_path, 2_048_000)
        assert fanout.available_memory(meminfo, cgroup) == 384 * _MIB

    def test_a_cgroup_v2_without_a_limit(self, tmp_path: Path) -> None:
        cgroup = self._files(
            tmp_path / "cgroup", {"memory.max": "max\n", "memory.current": f"{_MIB}\n"}
        )
        assert fanout.available_memory(self._host(tmp_path, 1_000), cgroup) == 1_000 * 1024

    def test_a_cgroup_v1_limit(self, tmp_path: Path) -> None:
        cgroup = self._files(
            tmp_path / "cgroup",
            {
                "memory/memory.limit_in_bytes": f"{512 * _MIB}\n",
                "memory/memory.usage_in_bytes": f"{256 * _MIB}\n",
                "memory/memory.stat": "cache 5\ntotal_inactive_file 0\n",
            },
        )
        assert fanout.available_memory(self._host(tmp_path, 2_048_000), cgroup) == 256 * _MIB
        (cgroup / "memory/memory.limit_in_bytes").write_text("9223372036854771712\n")
        assert fanout.available_memory(self._host(tmp_path, 2_048), cgroup) == 2_048 * 1024

    def test_nothing_to_read_says_so(self, tmp_path: Path) -> None:
        assert fanout.available_memory(tmp_path / "absent", tmp_path / "absent") is None
        assert fanout.resident_memory(tmp_path / "absent") is None
        garbled = tmp_path / "statm"
        garbled.write_text("garbled", encoding="ascii")
        assert fanout.resident_memory(garbled) is None

    def test_this_process_s_resident_set(self, tmp_path: Path) -> None:
        statm = tmp_path / "statm"
        statm.write_text("5000 250 100 1 0 400 0\n", encoding="ascii")
        assert fanout.resident_memory(statm) == 250 * os.sysconf("SC_PAGE_SIZE")
        assert (fanout.resident_memory() or 0) > 10 * _MIB  # this interpreter's own


class TestUsableCores:
    """A container limited to fewer CPUs than its host has forks no more workers."""

    def _pinned(self, monkeypatch: pytest.MonkeyPatch, cores: int) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)

    @pytest.mark.parametrize(
        ("cpu_max", "cores"),
        [
            ("max 100000\n", 8),  # no quota
            ("200000 100000\n", 2),  # cpus: 2
            ("150000 100000\n", 2),  # cpus: 1.5 -> two may run
            ("50000 100000\n", 1),  # half a core
            ("1600000 100000\n", 8),  # a quota above the pinned cores
        ],
    )
    def test_the_cgroup_quota_bounds_the_pinned_cores(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cpu_max: str, cores: int
    ) -> None:
        self._pinned(monkeypatch, 8)
        limit = tmp_path / "cpu.max"
        limit.write_text(cpu_max, encoding="ascii")
        assert usable_cores(limit) == cores

    def test_no_cgroup_file_leaves_the_pinned_cores(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        self._pinned(monkeypatch, 3)
        assert usable_cores(tmp_path / "absent") == 3
        garbled = tmp_path / "cpu.max"
        garbled.write_text("garbled", encoding="ascii")
        assert usable_cores(garbled) == 3


class TestClaims:
    """The forked workers of a rebuild take reps from one shared counter: each
    rep once, each worker's in rep order, and the last one each took is known
    (to name it when that worker dies)."""

    def test_every_rep_taken_once_by_whoever_asks_next(self) -> None:
        reps = [f"rep-{i:02d}" for i in range(7)]
        claims = fanout._Claims(multiprocessing.get_context("fork"), reps, 2)
        first, second = claims.take(0), claims.take(1)
        assert claims.taken_by(0) is None
        taken = [next(first), next(first), next(second), next(first), next(second)]
        assert taken == reps[:5]
        assert claims.taken_by(0) == "rep-03"
        assert claims.taken_by(1) == "rep-04"
        assert list(second) == ["rep-05", "rep-06"]
        assert list(first) == []
        assert claims.taken_by(1) == "rep-06"
