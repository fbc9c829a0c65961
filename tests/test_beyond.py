"""lectlib.beyond, split by topic into modules, keeps every name importable as
``lectlib.beyond.<name>``, and each public docstring names its chapter and a test that exists.

The models themselves are tested in tests/test_beyond_parallel.py, test_beyond_generation.py,
test_beyond_reservoir.py and test_beyond_hopfield.py."""
import importlib
import inspect
import re
from pathlib import Path

import pytest

import lectlib.beyond as beyond

MODULES = ["parallel", "generation", "arrangements", "reservoir", "hopfield"]
ROOT = Path(__file__).resolve().parents[1]


def public_functions(module):
    return {name: obj for name, obj in vars(module).items()
            if inspect.isfunction(obj) and not name.startswith("_") and obj.__module__ == module.__name__}


def test_every_function_of_the_topic_modules_is_reexported():
    defined = {}
    for name in MODULES:
        defined.update(public_functions(importlib.import_module(f"lectlib.beyond.{name}")))
    assert sorted(beyond.__all__) == sorted(defined)
    for name, function in defined.items():
        assert getattr(beyond, name) is function
    # the names the chapter and earlier users import
    for name in ("mingru", "mingru_init", "mingru_step", "lru", "lru_init", "lru_eigenvalues", "lru_states",
                 "generate", "bidirectional", "encode_decode", "reservoir_init", "leaky_step", "ridge_readout",
                 "hopfield_store", "hopfield_recall"):
        assert callable(getattr(beyond, name))


@pytest.mark.parametrize("name", sorted(beyond.__all__))
def test_docstring_names_chapter_10_and_a_test_that_exists(name):
    doc = inspect.getdoc(getattr(beyond, name))
    assert "Chapter 10" in doc, name
    cited = re.findall(r"(tests/test_beyond\w*\.py)::(\w+)", doc)
    assert cited, f"{name}'s docstring names no test"
    for path, test in cited:
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {test}\(", source, re.M), f"{name} cites {path}::{test}, which does not exist"


def test_chapter_10_links_name_functions_that_exist():
    """Every {py:func} role in chapter 10 points at a real ``lectlib`` function, so the link to the
    API reference (one automodule per module) has a target."""
    text = (ROOT / "chapters" / "10_beyond.md").read_text()
    roles = re.findall(r"\{py:func\}`([^`]+)`", text)
    assert len(roles) >= 15
    for role in roles:
        target = re.search(r"<([^>]+)>", role).group(1) if "<" in role else role
        module_name, _, function_name = target.rpartition(".")
        module = importlib.import_module(module_name)
        assert inspect.isfunction(getattr(module, function_name, None)), f"chapter 10 links {target}, not a function"
        assert target.startswith("lectlib."), target
