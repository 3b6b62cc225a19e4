"""No module but oftsr_edge/contract.py spells a tensor name or the metadata key: an :mod:`ast` scan of the package
and the tests, with the rules in :func:`test_no_module_but_the_contract_spells_a_tensor_name_or_the_metadata_key`.

tests/test_contract.py is the one file exempt: it pins the wire strings themselves. This file needs no exemption
(its cases live inside one string).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from oftsr_edge import contract

REPO = Path(__file__).resolve().parents[1]
EXEMPT = {REPO / "oftsr_edge" / "contract.py", REPO / "tests" / "test_contract.py"}
TENSOR_NAMES = frozenset((*contract.TWO_TIME_INPUT_NAMES, *contract.TWO_TIME_OUTPUT_NAMES))  # format 1 is a subset
CONTRACT_STRINGS = TENSOR_NAMES | {contract.METADATA_KEY}
# calls whose string arguments are graph tensor names (ONNX Runtime, TensorRT, torch.onnx, onnx.helper)
IO_CALLS = frozenset({
    "run", "make_tensor_value_info", "make_node", "bind_ortvalue_input", "bind_ortvalue_output", "bind_input",
    "bind_output", "get_tensor_shape", "get_tensor_dtype", "get_tensor_mode", "get_tensor_profile_shape",
    "set_input_shape", "set_tensor_address", "set_shape", "get_binding_index",
})  # fmt: skip
IO_KEYWORDS = frozenset({"input_names", "output_names", "dynamic_axes", "dynamic_shapes"})
# what a subscripted or compared object is called when the string is a tensor name: feeds[...], node.input, ...
TENSOR_CONTAINER = re.compile(r"feed|shape|profile|binding|buffer|axes|dims|tensor|names")
NAME_LIKE = re.compile(r"name|^inputs?$|^outputs?$")
# Uses of the same strings that are not the ONNX contract, each with its reason (a stale entry fails the test).
ALLOWED = {
    ("oftsr_edge/train/checkpoint.py", "oftsr_edge"): "the safetensors checkpoint's own metadata key",
}


def _chain(node: ast.AST) -> list[str]:
    """Identifiers along ``a.b[c]("d").e``: names, attributes, called functions and constant string indices/args."""
    found: list[str] = []
    while True:
        if isinstance(node, ast.Name):
            return [*found, node.id]
        if isinstance(node, ast.Attribute):
            found.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                found.append(node.slice.value)
            node = node.value
        elif isinstance(node, ast.Call):
            found += [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            node = node.func
        else:
            return found


def _all_names(node: ast.AST) -> bool:
    elts = getattr(node, "elts", None)
    return bool(elts) and all(isinstance(e, ast.Constant) and e.value in TENSOR_NAMES for e in elts)


def _flagged(node: ast.Constant, parent: ast.AST, grand: ast.AST | None) -> bool:
    """Is this string constant used as a tensor name or as the metadata key? (the rules of the docstring below)"""
    value = node.value
    key = value == contract.METADATA_KEY
    if isinstance(parent, ast.Assign) and parent.value is node:
        targets = [t for t in parent.targets if isinstance(t, (ast.Name, ast.Attribute))]
        upper = [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
        # rule 1: a constant that re-spells the contract (PACKAGE = "oftsr_edge" is the package, not the key)
        if any(not key or "KEY" in name or "META" in name for name in upper):
            return True
        return key and any(isinstance(t, ast.Attribute) and t.attr == "key" for t in targets)
    if isinstance(parent, (ast.List, ast.Tuple, ast.Set)):
        if isinstance(grand, ast.Assign) and key:  # entry.key, entry.value = KEY, text
            targets = [e for t in grand.targets for e in getattr(t, "elts", [t])]
            return any(isinstance(t, ast.Attribute) and t.attr == "key" for t in targets)
        if _all_names(parent):
            return True  # rule 2: a collection made only of tensor names
        if isinstance(grand, ast.Call):
            return _io_call(grand)
        return False
    if isinstance(parent, ast.Dict):
        if node not in parent.keys:
            return False
        return key or sum(isinstance(k, ast.Constant) and k.value in TENSOR_NAMES for k in parent.keys) >= 2
    if isinstance(parent, ast.Subscript) and parent.slice is node:
        return key or any(TENSOR_CONTAINER.search(s) for s in _chain(parent.value))  # rule 3
    if isinstance(parent, ast.Call):
        func = parent.func
        lookup = isinstance(func, ast.Attribute) and func.attr in ("get", "pop", "setdefault")
        if lookup and parent.args[:1] == [node]:
            return key or any(TENSOR_CONTAINER.search(s) for s in _chain(func.value))  # rule 3
        return not key and _io_call(parent)
    if isinstance(parent, ast.keyword):
        return not key and parent.arg in IO_KEYWORDS  # rule 4
    if isinstance(parent, ast.Compare):
        if key:
            return True
        others = [parent.left, *parent.comparators]
        return any(NAME_LIKE.search(s) for o in others if o is not node for s in _chain(o))  # rule 5
    return False


def _io_call(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in IO_CALLS  # rule 4


def scan_source(text: str) -> list[tuple[int, str]]:
    """(line, string) for each contract string the rules flag in ``text``."""
    tree = ast.parse(text)
    parents: dict[ast.AST, ast.AST] = {}
    for outer in ast.walk(tree):
        for inner in ast.iter_child_nodes(outer):
            parents[inner] = outer
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in CONTRACT_STRINGS:
            parent = parents.get(node)
            if parent is not None and _flagged(node, parent, parents.get(parent)):
                hits.append((node.lineno, node.value))
    return sorted(hits)


# case k sits on line k + 1 of the snippet
SCANNER_CASES = """
LR_NAME = "lr"; META = "oftsr_edge"                # 1 flagged x2: constants re-spelling the contract
feed = {"lr": a, "noise": b, "t": c}               # 2 flagged x3: a feed dict
session.run(["hr"], feed)                          # 3 flagged: a name list / an I/O call
x = feeds["noise"]; y = self.shapes["t"]           # 4 flagged x2: subscripts of tensor containers
binding.bind_ortvalue_output("hr", out)            # 5 flagged: I/O call
torch.onnx.export(m, a, input_names=["lr"])        # 6 flagged: I/O keyword
if "t" in node.input or value.name == "hr": pass   # 7 flagged x2: compared with graph names
meta = props["oftsr_edge"]                         # 8 flagged: metadata key
entry.key, entry.value = "oftsr_edge", text        # 9 flagged: metadata key
props.get("oftsr_edge")                            # 10 flagged
click.option("--t", "t", type=float)               # 11 not: a CLI option
row = {"t": 0.3, "psnr": 30.0}                     # 12 not: a JSON record with one such key
logs["lr"]; kw.pop("lr"); data["t"]                # 13 not: learning rate, JSON
header = ["method", "t", "PSNR"]                   # 14 not: table columns
name.startswith("oftsr_edge"); PACKAGE = "oftsr_edge"  # 15 not: the package name
"""
SCANNER_EXPECTED = [
    (2, "lr"), (2, "oftsr_edge"), (3, "lr"), (3, "noise"), (3, "t"), (4, "hr"), (5, "noise"), (5, "t"),
    (6, "hr"), (7, "lr"), (8, "hr"), (8, "t"), (9, "oftsr_edge"), (10, "oftsr_edge"), (11, "oftsr_edge"),
]  # fmt: skip


def test_the_scanner_flags_contract_uses_and_nothing_else() -> None:
    assert scan_source(SCANNER_CASES) == SCANNER_EXPECTED


def test_no_module_but_the_contract_spells_a_tensor_name_or_the_metadata_key() -> None:
    """Scan oftsr_edge/**/*.py and tests/**/*.py (all but the EXEMPT files) with :mod:`ast`.

    A string constant equal to a tensor name (lr, noise, t, hr) or the metadata key (oftsr_edge) is a contract use
    when it is: (1) assigned to an UPPER_CASE constant (a second definition; for the key, one named *KEY*/*META*,
    since ``PACKAGE = "oftsr_edge"`` is the package name); (2) in a list/tuple/set made only of
    tensor names, or a key of a dict with two or more tensor-name keys (feeds, shape tables, name lists); (3) a
    subscript or ``.get``/``.pop`` key on something named like feeds/shapes/profiles/bindings/axes/names; (4) an
    argument of an ONNX Runtime / TensorRT / torch.onnx / onnx.helper I/O call (``run``, ``bind_*``,
    ``set_input_shape``, ``make_tensor_value_info``, ...) or of ``input_names=``/``output_names=``/
    ``dynamic_axes=``/``dynamic_shapes=``; (5) compared with a graph name (``value.name == ...``,
    ``... in node.input``). The metadata key counts as a dict key, subscript, ``.get`` key, comparison or
    ``entry.key`` value anywhere. Other uses of the same words (a click option named t, a learning rate "lr" in
    training logs, a "t" column in a report) are not the contract and are not flagged; a real use outside those
    shapes would slip through, which the scanner's own test case list documents.
    The scanner must find every contract string in contract.py itself, so it cannot pass by seeing nothing.
    """
    contract_hits = {value for _, value in scan_source((REPO / "oftsr_edge" / "contract.py").read_text())}
    assert contract_hits == CONTRACT_STRINGS
    files = [*(REPO / "oftsr_edge").rglob("*.py"), *(REPO / "tests").rglob("*.py")]
    offenders, allowed_seen = [], set()
    for path in sorted(files):
        if path.resolve() in EXEMPT:
            continue
        rel = path.relative_to(REPO).as_posix()
        for line, value in scan_source(path.read_text(encoding="utf-8")):
            if (rel, value) in ALLOWED:
                allowed_seen.add((rel, value))
            else:
                offenders.append(f"{rel}:{line}: {value!r}")
    assert not offenders, "use oftsr_edge.contract's constants instead of:\n" + "\n".join(offenders)
    assert allowed_seen == set(ALLOWED), f"stale ALLOWED entries: {set(ALLOWED) - allowed_seen}"
