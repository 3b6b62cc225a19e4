"""The rules of tests/conftest.py in a scratch project: under OFTSR_STRICT_SKIPS=1 only GPU/TensorRT skips pass,
and opt-in tests without their files are deselected with one line saying how to enable them."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = (Path(__file__).resolve().parent / "conftest.py").read_text()
TESTS = '''
import pytest

def test_plain():
    pytest.skip("no photos here")

@pytest.mark.gpu
def test_on_a_gpu():
    pytest.skip("needs a CUDA GPU")

@pytest.mark.opt_in("fulldata")
def test_set14():
    pass
'''


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_rules=TESTS)
    pytester.makeini("[pytest]\nmarkers =\n    gpu: x\n    tensorrt: x\n")
    for name in ("OFTSR_STRICT_SKIPS", "OFTSR_DATA"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def test_strict_mode_fails_a_skip_that_is_not_for_a_device(project: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.setenv("OFTSR_STRICT_SKIPS", "1")
    result = project.runpytest_subprocess("-q")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 test(s) skipped without needing a GPU or TensorRT*",
                                 "*test_rules.py::test_plain: Skipped: no photos here"])  # fmt: skip
    assert "test_on_a_gpu:" not in result.stdout.str()


def test_without_strict_mode_skips_are_reported_not_failed(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-q")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(skipped=2, deselected=1)
    result.stdout.fnmatch_lines(["opt-in tests not run: 1 (fulldata: need benchmark photos (Set5/Set14): set OFTSR_DATA=*"])


def test_a_wrong_data_folder_is_a_usage_error(project: pytest.Pytester, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OFTSR_DATA", str(tmp_path / "nowhere"))
    result = project.runpytest_subprocess("-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*OFTSR_DATA=*nowhere has no val/ folder*"])


EXTRA_TESTS = '''
import pytest

def test_needs_an_extra():
    pytest.importorskip("oftsr_no_such_extra_module")

def test_claims_an_importable_module():
    pytest.skip("could not import 'json': pretending")

def test_needs_a_base_dependency():
    pytest.skip("could not import 'numpy': a base dependency is never optional")
'''


@pytest.mark.parametrize("mode", ["1", "base"])
def test_base_mode_lets_a_really_missing_extra_skip_and_nothing_else(project: pytest.Pytester, monkeypatch,
                                                                     mode: str) -> None:  # fmt: skip
    project.makepyfile(test_extra=EXTRA_TESTS)
    monkeypatch.setenv("OFTSR_STRICT_SKIPS", mode)
    result = project.runpytest_subprocess("-q", "test_extra.py")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "test_claims_an_importable_module:" in out and "test_needs_a_base_dependency:" in out
    assert ("test_needs_an_extra:" in out) == (mode == "1")
    result.stdout.fnmatch_lines([f"*OFTSR_STRICT_SKIPS={mode}: {3 if mode == '1' else 2} test(s) skipped*"])


def test_base_mode_passes_when_only_missing_extras_skip(project: pytest.Pytester, monkeypatch) -> None:
    project.makepyfile(test_extra="import pytest\n\ndef test_x():\n    pytest.importorskip('oftsr_no_such_extra')\n")
    monkeypatch.setenv("OFTSR_STRICT_SKIPS", "base")
    result = project.runpytest_subprocess("-q", "test_extra.py")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(skipped=1)


def test_an_unknown_strict_mode_is_a_usage_error(project: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.setenv("OFTSR_STRICT_SKIPS", "yes")
    result = project.runpytest_subprocess("-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*OFTSR_STRICT_SKIPS='yes'*use 1*or base*"])
