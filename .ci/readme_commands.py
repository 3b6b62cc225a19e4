"""README.md's quick start, read from README.md itself, so CI runs exactly what a new user reads.

The "## Three commands" section holds one ```bash block with three commands (install, upscale, test), each under
a comment line. ``python .ci/readme_commands.py install|upscale|test`` prints one of them; ``check-upscale`` checks,
in the folder where the upscale command ran, that its output exists at the model's scale × the input size;
``python`` prints the README's Python API example. tests/test_readme.py checks that .ci/run uses this script.
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
