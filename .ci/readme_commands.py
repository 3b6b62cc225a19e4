"""README.md's quick start, read from README.md itself, so CI runs exactly what a new user reads.

The "## Three commands" section holds one ```bash block with three commands (install, upscale, test), each under
a comment line. ``python .ci/readme_commands.py install|upscale|test`` prints one of them; ``check-upscale`` checks,
in the folder where the upscale command ran, that its output exists at the model's scale × the input size;
``python`` prints the README's Python API example. tests/test_readme.py checks that .ci/run uses this script.

``doc_commands()`` finds every ``oftsr-edge`` command in the user-facing documents (:data:`DOCS`: the README, docs/,
the model cards, benchmarks/README.md), in code spans (a span may wrap over lines) and in fenced bash blocks (with
``\\`` continuations); tests/test_docs_commands.py checks each one against the CLI. ``cited_paths()`` finds the
repository paths those documents cite.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
NAMES = ("install", "upscale", "test")


def section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if match is None:
        raise SystemExit(f"README.md has no '## {title}' section")
    return match.group(1)


def commands(text: str | None = None) -> dict[str, str]:
    """{install, upscale, test} -> the command line, in the README's order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    block = re.search(r"```bash\n(.*?)```", section(text, "Three commands"), re.S)
    if block is None:
        raise SystemExit("README.md's '## Three commands' has no ```bash block")
    lines = [line.strip() for line in block.group(1).splitlines()]
    found = [line for line in lines if line and not line.startswith("#")]
    if len(found) != len(NAMES):
        raise SystemExit(f"README.md's quick start has {len(found)} commands, expected {len(NAMES)}: {found}")
    return dict(zip(NAMES, found))


def python_example(text: str | None = None) -> str:
    text = README.read_text(encoding="utf-8") if text is None else text
    block = re.search(r"```python\n(.*?)```", text, re.S)
    if block is None:
        raise SystemExit("README.md has no ```python block")
    return block.group(1)


def upscale_paths(command: str) -> tuple[Path, Path]:
    """(input, output) of ``oftsr-edge upscale INPUT -o OUTPUT ...``."""
    words = shlex.split(command)
    if words[:2] != ["oftsr-edge", "upscale"] or "-o" not in words:
        raise SystemExit(f"not an 'oftsr-edge upscale INPUT -o OUTPUT' command: {command}")
    return Path(words[2]), Path(words[words.index("-o") + 1])


def check_upscale(command: str, folder: Path, scale: int = 4) -> str:
    """One line saying what the upscale command made; SystemExit when it made nothing right."""
    from PIL import Image

    source, target = (folder / p for p in upscale_paths(command))
    if not target.is_file():
        raise SystemExit(f"the README's upscale command wrote no {target}")
    with Image.open(source) as lr, Image.open(target) as hr:
        if hr.size != (lr.width * scale, lr.height * scale):
            raise SystemExit(f"{target} is {hr.size}, expected {scale} x {lr.size}")
        return f"{target.name}: {lr.width}x{lr.height} -> {hr.width}x{hr.height}"


ROOT = README.parent
#: the documents a user reads, as globs under the repository root
DOCS = ("README.md", "docs/*.md", "docs/models/*.md", "benchmarks/README.md")


def doc_files() -> list[Path]:
    return sorted({p for pattern in DOCS for p in ROOT.glob(pattern)})


def _fenced(text: str) -> tuple[str, list[tuple[int, str]]]:
    """(text without fenced blocks, [(line, command)] of the bash blocks' oftsr-edge lines)."""
    found = []
    for match in re.finditer(r"```(\w*)\n(.*?)```", text, re.S):
        first = text.count("\n", 0, match.start(2)) + 1
        joined, start = "", first
        for offset, line in enumerate(match.group(2).splitlines()):
            line = line.split(" # ")[0].rstrip() if not line.lstrip().startswith("#") else ""
            if not joined:
                start = first + offset
            joined += line.rstrip("\\").strip() + " "
            if line.endswith("\\"):
                continue
            if match.group(1) in ("bash", "sh", "") and joined.strip().startswith("oftsr-edge "):
                found.append((start, joined.strip()))
            joined = ""
    return re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S), found


def doc_commands(files: list[Path] | None = None) -> list[tuple[str, int, str]]:
    """[(document, line, command)] for every ``oftsr-edge ...`` command in the documents."""
    out = []
    for path in doc_files() if files is None else files:
        text = path.read_text(encoding="utf-8")
        rest, fenced = _fenced(text)
        spans = []
        for match in re.finditer(r"`([^`]+)`", rest):
            body = " ".join(match.group(1).split()).replace("\\|", "|")
            if body.startswith("oftsr-edge "):
                spans.append((rest.count("\n", 0, match.start()) + 1, body))
        name = str(path.relative_to(ROOT))
        out += [(name, line, command) for line, command in sorted(fenced + spans)]
    return out


#: a repository path as the documents cite it (inside backticks or a markdown link)
_CITED = re.compile(r"(?:`|\]\()((?:docs|benchmarks|examples|oftsr_edge|tests|training-runs|\.ci)/[A-Za-z0-9_./-]+"
                    r"\.[a-z]{2,5})\b")


def cited_paths(files: list[Path] | None = None) -> list[tuple[str, str]]:
    """[(document, path)] of every repository file the documents cite (a path with an extension), relative to the
    repository root (a link in docs/models/ is resolved from its own folder)."""
    out = []
    for path in doc_files() if files is None else files:
        for match in _CITED.finditer(path.read_text(encoding="utf-8")):
            out.append((str(path.relative_to(ROOT)), match.group(1).rstrip(".")))
    return out


def main(argv: list[str]) -> None:
    what = argv[0] if argv else ""
    if what in NAMES:
        print(commands()[what])
    elif what == "check-upscale":
        print(check_upscale(commands()["upscale"], Path.cwd()))
    elif what == "python":
        print(python_example(), end="")
    else:
        raise SystemExit(f"usage: readme_commands.py {'|'.join(NAMES)}|check-upscale|python")


if __name__ == "__main__":
    main(sys.argv[1:])
