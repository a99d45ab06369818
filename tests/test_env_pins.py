"""pyproject.toml and envs/nplab.yaml pin the same versions."""

import tomllib

import yaml


def _pins(lines):
    out = {}
    for line in lines:
        name, sep, version = line.partition("==")
        assert sep, f"not pinned exactly: {line!r}"
        out[name.strip().lower()] = version.strip()
    return out


def test_conda_env_carries_the_pyproject_pins(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    wanted = _pins(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((repo_root / "envs" / "nplab.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == wanted
    py = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    lo = project["requires-python"].split(",")[0].lstrip(">=")
    assert py.split("=")[1].startswith(lo)


def test_installed_versions_match_the_pins(repo_root):
    from importlib.metadata import version

    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    for name, pinned in _pins(project["dependencies"]).items():
        assert version(name) == pinned, f"{name}: installed {version(name)}, pinned {pinned}"
