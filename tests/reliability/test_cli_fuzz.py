"""The CLI fuzz test: random values for every option of ``oftsr-edge upscale`` end in success or one error line,
never a traceback, never an unhandled exception, never a partial file.

Values are drawn per option kind (integers of any size and sign, floats with NaN/Inf, text with separators, NUL and
odd unicode, the documented words) plus foreign options (Real-ESRGAN's ``-t``, ``--ext``). Inputs are two fixed
tiny images; the output is a name under the test's folder (from a safe alphabet, with image, odd and folder
endings), so a fuzzed value can never write outside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.cli import run_main
from tests.reliability.conftest import partial_files, photo

INTS = st.one_of(st.integers(-3, 70), st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2**31, 2**63, 2**64]))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 0.5, 1.0, -0.0, 1e-300]))
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
NUMBERISH = st.one_of(INTS.map(str), FLOATS.map(str), TEXT, st.sampled_from(["auto", "random", "", "1e3", "0x10"]))

#: option -> strategy of its value (None: a flag)
OPTIONS = {
    "--t": NUMBERISH,
    "--solver-steps": NUMBERISH,
    "--seed": NUMBERISH,
    "--scale": NUMBERISH,
    "--backend": st.one_of(st.sampled_from(["auto", "ort", "ort-cpu", "ort-cuda", "ort-trt", "trt", "openvino"]), TEXT),
    "--device": NUMBERISH,
    "--tile": NUMBERISH,
    "--overlap": NUMBERISH,
    "--memory-budget": NUMBERISH,
    "--batch-size": st.one_of(st.integers(-2, 9).map(str), TEXT),
    "--threads": NUMBERISH,
    "--suffix": st.one_of(TEXT, st.text("_x4.-/\\\0 é", max_size=300)),
    "--max-pixels": NUMBERISH,
    "--format": st.one_of(st.sampled_from(["auto", "png", "jpg", "webp", "tif", "bmp", "PNG", "gif", "jpeg"]), TEXT),
    "--png-compression": NUMBERISH,
    "--quality": NUMBERISH,
    "--codec": TEXT,
    "--crf": NUMBERISH,
    "--overwrite": None,
    "--recursive": None,
    "--quiet": None,
    "-t": NUMBERISH,
    "--ext": TEXT,
}
OUTPUT_NAMES = st.tuples(st.text("abc_-. ", min_size=1, max_size=10),
                         st.sampled_from(["", ".png", ".jpg", ".gif", ".png/", "/", ".webp", ".bmp", ".x"]))  # fmt: skip


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], str]:
    chosen = draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=5, unique=True))
    args: list[str] = []
    for name in chosen:
        args.append(name)
        if OPTIONS[name] is not None:
            args.append(draw(OPTIONS[name]))
    stem, ending = draw(OUTPUT_NAMES)
    inputs = draw(st.sampled_from(["one", "two", "folder"]))
    return args, f"{stem.strip() or 'o'}{ending}", inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz_in")
    photo(root / "pics" / "a.png", seed=1)
    photo(root / "pics" / "b.jpg", seed=2, quality=90)
    return root


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])  # fmt: skip
@given(case=command_lines())
def test_random_option_values_end_in_success_or_one_error_line(
    case: tuple[list[str], str, str], inputs: Path, model: Path, capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    options, output, which = case
    work = tmp_path_factory.mktemp("fuzz_out")
    sources = {"one": [inputs / "pics" / "a.png"], "two": [inputs / "pics" / "a.png", inputs / "pics" / "b.jpg"],
               "folder": [inputs / "pics"]}[which]  # fmt: skip
    args = ["upscale", *map(str, sources), "-o", str(work) + "/" + output, "--model", str(model), *options]
    try:
        result = run_main(capsys, *args)
    except BaseException as exc:  # noqa: BLE001 - anything but SystemExit escaping main is the bug we look for
        pytest.fail(f"{type(exc).__name__}: {exc} escaped main for {args!r}")
    said = (args, result.code, result.out, result.err)
    assert "Traceback" not in result.err + result.out, said
    if result.code == 0:
        assert "upscaled" in result.out or "nothing to do" in result.out, said
    else:
        assert result.code in (2, 1), said
        errors = [line for line in result.err.splitlines() if line.startswith("oftsr-edge: error:")]
        others = [line for line in result.err.splitlines()
                  if line.strip() and not line.startswith(("oftsr-edge: error:", "oftsr-edge: warning:"))]  # fmt: skip
        assert errors and not others, said
        if not any("image(s) failed" in line for line in errors):
            assert len(errors) == 1, said
    assert partial_files(work) == [], said
    assert sorted(p.name for p in (inputs / "pics").iterdir()) == ["a.png", "b.jpg"], said  # inputs untouched
