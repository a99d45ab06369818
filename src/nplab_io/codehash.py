"""A digest of the code a workflow job runs: its script plus every module of ``nplab`` and
``nplab_io`` that script imports, directly or through other modules.

The workflow gives every rule this digest as a param (``code=script_code("split.py")`` in
``workflow/rules/common.smk``), so Snakemake's params trigger reruns exactly the jobs whose
code changed (and, as always, what reads their outputs); the scripts' modification times
are ignored (``--rerun-triggers`` without ``code`` in ``profiles/``), so a checkout that
restores identical content reruns nothing.

The imports are read from the source, not executed: ``import a.b``,
``from a.b import c`` (``a.b.c`` counts if it is a module), relative imports, and imports
inside functions all count. A module that imports by name at run time
(``importlib.import_module``, ``__import__``) pulls in every module of its own package
directory, unless the caller passes ``dynamic=False`` and names those modules itself.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from functools import cache
from pathlib import Path

__all__ = ["PACKAGES", "package_roots", "code_files", "code_digest"]

#: The packages whose modules count as the jobs' code (third-party code is pinned).
PACKAGES = ("nplab", "nplab_io")


def package_roots(packages=PACKAGES) -> dict[str, Path]:
    """``{package: directory}`` of the packages as the jobs will import them."""
    out = {}
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"{name}: package not found (is the project installed?)")
        out[name] = Path(list(spec.submodule_search_locations)[0]).resolve()
    return out


_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)"
    r"|import[ \t]+([^\n#;]+))",
    re.M,
)
_DYNAMIC = re.compile(r"\b(?:import_module|__import__)\s*\(")


def _first_words(text: str) -> tuple[str, ...]:
    """``a as b, c`` / ``(a,\n b)`` -> ("a", "c")."""
    out = []
    for part in text.strip().strip("()").replace("\\", " ").split(","):
        words = part.split()
        if words:
            out.append(words[0])
    return tuple(out)


@cache
def _parse(path: Path, mtime_ns: int, size: int) -> tuple[tuple[tuple[int, str, tuple], ...], bool]:
    """(imports, dynamic) of one file: imports as (level, module, names).

    A line-based scan of the import statements (at any indentation, so imports inside
    functions count), several times faster than walking the syntax tree; an import-like
    line inside a docstring counts too, which can only add a dependency.
    """
    del mtime_ns, size  # cache key only
    text = path.read_text(encoding="utf-8", errors="replace")
    imports = []
    for m in _IMPORT.finditer(text):
        if m.group(4) is not None:
            imports += [(0, name, ()) for name in _first_words(m.group(4))]
        else:
            imports.append((len(m.group(1)), m.group(2), _first_words(m.group(3))))
    return tuple(imports), bool(_DYNAMIC.search(text))


def _imports_of(path: Path):
    st = path.stat()
    return _parse(path, st.st_mtime_ns, st.st_size)


def _module_file(dotted: str, roots: dict[str, Path]) -> Path | None:
    root = roots.get(dotted.split(".")[0])
    if root is None:
        return None
    return _find_module(dotted, str(root))


@cache
def _find_module(dotted: str, root: str) -> Path | None:
    base = Path(root).joinpath(*dotted.split(".")[1:])
    for cand in (base / "__init__.py", base.with_suffix(".py")):
        if cand.is_file():
            return cand.resolve()
    return None


def _module_name(path: Path, roots: dict[str, Path]) -> tuple[str, bool] | None:
    """(dotted module name, is a package __init__) of a file under one of the roots."""
    for name, root in roots.items():
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        parts = [name, *rel.with_suffix("").parts]
        if parts[-1] == "__init__":
            return ".".join(parts[:-1]), True
        return ".".join(parts), False
    return None


def _with_parents(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def code_files(script, *, modules=(), dynamic: bool = True, roots=None) -> list[Path]:
    """The script and every package module it needs, sorted (see the module doc).

    ``modules``: extra dotted module names the script loads in a way the source does not
    show. ``roots``: ``{package: directory}`` (default: :func:`package_roots`).
    """
    roots = package_roots() if roots is None else {k: Path(v) for k, v in roots.items()}
    script = Path(script).resolve()
    seen: set[Path] = set()
    todo: list[Path] = [script]
    for m in modules:
        for d in _with_parents(m):
            f = _module_file(d, roots)
            if f is None and d == m:
                raise ImportError(f"{m}: not a module of {', '.join(roots)}")
            if f is not None:
                todo.append(f)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        imports, is_dynamic = _imports_of(path)
        named = _module_name(path, roots)
        if is_dynamic and dynamic and named is not None:
            todo += sorted(path.parent.glob("*.py"))
        for level, mod, names in imports:
            if level:
                if named is None:
                    # a relative import in a script: a sibling file of the script
                    base_dir = path.parent
                    for n in [mod] if mod else list(names):
                        cand = base_dir / (n.split(".")[0] + ".py")
                        if cand.is_file():
                            todo.append(cand.resolve())
                    continue
                pkg_parts = named[0].split(".")
                if not named[1]:
                    pkg_parts = pkg_parts[:-1]
                if level > 1:
                    pkg_parts = pkg_parts[: len(pkg_parts) - (level - 1)]
                mod = ".".join([*pkg_parts, mod] if mod else pkg_parts)
            elif named is None and mod.split(".")[0] not in roots:
                cand = path.parent / (mod.split(".")[0] + ".py")
                if cand.is_file():  # a helper module next to the script
                    todo.append(cand.resolve())
                    continue
            candidates = _with_parents(mod) + [f"{mod}.{n}" for n in names if n != "*"]
            for d in candidates:
                f = _module_file(d, roots)
                if f is not None:
                    todo.append(f)
    return sorted(seen)


def _label(path: Path, roots: dict[str, Path], base: Path | None) -> str:
    for name, root in roots.items():
        try:
            return str(Path(name) / path.relative_to(root))
        except ValueError:
            pass
    if base is not None:
        try:
            return str(path.relative_to(base))
        except ValueError:
            pass
    return path.name


def code_digest(
    script, *, modules=(), files=(), dynamic: bool = True, roots=None, base=None
) -> str:
    """``sha256:<16 hex>`` over the script, the modules it needs (:func:`code_files`) and
    ``files`` (templates or other files the job reads that are not declared inputs),
    each labelled by its path relative to its package (or to ``base``), so the digest does
    not depend on where the tree is checked out."""
    roots = package_roots() if roots is None else {k: Path(v) for k, v in roots.items()}
    base = None if base is None else Path(base).resolve()
    paths = code_files(script, modules=modules, dynamic=dynamic, roots=roots)
    paths += [Path(f).resolve() for f in files]
    h = hashlib.sha256()
    for label, path in sorted((_label(p, roots, base), p) for p in set(paths)):
        h.update(f"{label}\0{_file_sha256(path)}\0".encode())
    return "sha256:" + h.hexdigest()[:16]


def _file_sha256(path: Path) -> str:
    st = path.stat()
    return _sha256_of(path, st.st_mtime_ns, st.st_size)


@cache
def _sha256_of(path: Path, mtime_ns: int, size: int) -> str:
    del mtime_ns, size  # cache key only
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _main() -> None:  # pragma: no cover - a debugging aid
    import sys

    for script in sys.argv[1:]:
        print(code_digest(script), script)
        for f in code_files(script):
            print("   ", os.path.relpath(f))


if __name__ == "__main__":  # pragma: no cover
    _main()
