"""The code digest every rule carries as a param (nplab_io.codehash): a script and the
package modules it imports, followed through the imports, and nothing else."""

from __future__ import annotations

import os
import re
import textwrap

import pytest

from nplab_io.codehash import code_digest, code_files


@pytest.fixture()
def tree(tmp_path):
    """Two small packages and a scripts folder."""

    def write(rel, text):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
        return p

    write("pkg/core/__init__.py", "")
    write("pkg/core/a.py", "from ._util import helper\n")
    write("pkg/core/_util.py", "import numpy as np\n")
    write("pkg/core/b.py", "X = 1\n")
    write("pkg/io/__init__.py", "")
    write("pkg/io/jobs.py", "def run():\n    from pkg_io.errors import E\n")
    write("pkg/io/errors.py", "class E(Exception): pass\n")
    write("pkg/io/plugins/__init__.py", "")
    write(
        "pkg/io/plugins/registry.py",
        "import importlib\ndef load(n):\n    return importlib.import_module(f'pkg_io.plugins.{n}')\n",
    )
    write("pkg/io/plugins/one.py", "")
    write("pkg/io/plugins/two.py", "from pkg_core import b\n")
    write("scripts/uses_a.py", "from pkg_core.a import helper\nfrom pkg_io.jobs import run\n")
    write("scripts/uses_b.py", "from pkg_core import b\nimport json\n")
    write("scripts/plugins.py", "from pkg_io.plugins.registry import load\n")
    roots = {"pkg_core": tmp_path / "pkg/core", "pkg_io": tmp_path / "pkg/io"}
    return tmp_path, roots


def _names(paths, base):
    return sorted(os.path.relpath(p, base) for p in paths)


def test_imports_are_followed_transitively(tree):
    base, roots = tree
    files = code_files(base / "scripts/uses_a.py", roots=roots)
    assert _names(files, base) == [
        "pkg/core/__init__.py",
        "pkg/core/_util.py",  # through a relative import in a.py
        "pkg/core/a.py",
        "pkg/io/__init__.py",
        "pkg/io/errors.py",  # imported inside a function of jobs.py
        "pkg/io/jobs.py",
        "scripts/uses_a.py",
    ]
    # `from pkg_core import b` counts b as a module; json (not ours) is ignored
    files = code_files(base / "scripts/uses_b.py", roots=roots)
    assert _names(files, base) == ["pkg/core/__init__.py", "pkg/core/b.py", "scripts/uses_b.py"]


def test_dynamic_imports_pull_in_their_package_unless_named(tree):
    base, roots = tree
    files = _names(code_files(base / "scripts/plugins.py", roots=roots), base)
    assert "pkg/io/plugins/one.py" in files and "pkg/io/plugins/two.py" in files
    assert "pkg/core/b.py" in files  # two.py's own import
    narrow = code_files(
        base / "scripts/plugins.py", roots=roots, dynamic=False, modules=["pkg_io.plugins.one"]
    )
    narrow = _names(narrow, base)
    assert "pkg/io/plugins/one.py" in narrow and "pkg/io/plugins/two.py" not in narrow


def test_digest_changes_with_content_only(tree):
    base, roots = tree
    a = lambda: code_digest(base / "scripts/uses_a.py", roots=roots, base=base)  # noqa: E731
    b = lambda: code_digest(base / "scripts/uses_b.py", roots=roots, base=base)  # noqa: E731
    da, db = a(), b()
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", da) and da != db
    util = base / "pkg/core/_util.py"
    os.utime(util, (1, 1))  # a checkout that only changes modification times
    assert (a(), b()) == (da, db)
    util.write_text("import numpy as np  # edited\n")
    assert a() != da and b() == db  # only the script that imports it (indirectly)
    util.write_text("import numpy as np\n")
    assert a() == da  # identical content again: the same digest


def test_digest_does_not_depend_on_the_checkout_location(tree, tmp_path_factory):
    import shutil

    base, roots = tree
    other = tmp_path_factory.mktemp("elsewhere")
    shutil.copytree(base, other, dirs_exist_ok=True)
    roots2 = {k: other / v.relative_to(base) for k, v in roots.items()}
    assert code_digest(base / "scripts/uses_a.py", roots=roots, base=base) == code_digest(
        other / "scripts/uses_a.py", roots=roots2, base=other
    )


def test_every_rule_outside_the_questions_carries_its_code_digest(repo_root):
    """Each `rule` with a script: in the stage files has `code=script_code("<script>")`,
    naming that same script (question rules are set up in questions.smk)."""
    missing = []
    for smk in sorted((repo_root / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        for m in re.finditer(r"^rule (\w+):\n((?:[ \t].*\n|\n)*)", text, re.M):
            name, body = m.group(1), m.group(2)
            script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w.]+)"', body)
            if script is None or name.startswith("question_") or name == "download":
                continue
            if f'code=script_code("{script.group(1)}"' not in body:
                missing.append(f"{smk.name}: {name}")
    assert missing == []
    data = (repo_root / "workflow" / "rules" / "data.smk").read_text()
    assert "source=download_identity" in data


def test_the_real_scripts_digest(repo_root):
    from nplab_io.codehash import package_roots

    roots = package_roots()
    files = code_files(repo_root / "workflow/scripts/split.py", roots=roots)
    names = {f"{p.parent.name}/{p.name}" for p in files}
    assert {"nplab/preprocess.py", "nplab_io/jobs.py", "nplab_io/atomic.py"} <= names
    assert "nplab/knn.py" not in names
