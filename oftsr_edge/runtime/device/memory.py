"""How much memory this process can have now: free RAM (MemAvailable, a cgroup's headroom, an address-space
limit: the smallest) and free VRAM of a CUDA device; None when it cannot be read. The tiling's budget
(:mod:`oftsr_edge.runtime.tiling.memory_plan`) is read from these."""

from __future__ import annotations

from pathlib import Path


def _meminfo_available(root: Path) -> int | None:
    try:
        for line in (root / "proc" / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_headroom(root: Path) -> int | None:
    """``memory.max − memory.current`` of this process's cgroup (v2), when it has a limit."""
    try:
        limit = (root / "sys" / "fs" / "cgroup" / "memory.max").read_text().strip()
        used = (root / "sys" / "fs" / "cgroup" / "memory.current").read_text().strip()
    except OSError:
        return None
    if limit == "max" or not limit.isdigit() or not used.isdigit():
        return None
    return max(0, int(limit) - int(used))


def _address_space_headroom(root: Path) -> int | None:
    """What ``ulimit -v`` (RLIMIT_AS) still allows this process to map: the limit minus ``VmSize``."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return None
    if limit == resource.RLIM_INFINITY or root != Path("/"):
        return None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(0, limit - int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return None


def available_ram_bytes(root: Path = Path("/")) -> int | None:
    """RAM that can be used now without swapping: ``MemAvailable``, capped by a cgroup limit and by what an
    address-space limit (``ulimit -v``) leaves; None if unknown."""
    values = [v for v in (_meminfo_available(root), _cgroup_headroom(root), _address_space_headroom(root))
              if v is not None]  # fmt: skip
    if not values:
        try:
            import os

            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    return min(values)


def free_vram_bytes(device: int = 0) -> int | None:
    """Free memory of CUDA ``device`` (``cudaMemGetInfo`` through cuda-python), or None without one."""
    from oftsr_edge.runtime.backends.tensorrt.cuda_probe import import_cudart

    cudart = import_cudart()
    if cudart is None:
        return None
    try:
        (err,) = cudart.cudaSetDevice(device)[:1]
        err, free, _total = cudart.cudaMemGetInfo()
        return int(free) if int(err) == 0 else None
    except Exception:  # a broken driver reads as "unknown", never as a crash
        return None


#: Budget used when the free memory cannot be read at all.
