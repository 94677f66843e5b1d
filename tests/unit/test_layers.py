"""Every domain package is named in each import contract that lists the domains (pyproject.toml): a domain left
out is not checked at all, and import-linter says nothing of a module it was not told about."""

from __future__ import annotations

import tomllib
from pathlib import Path

import leadcenter

ROOT = Path(leadcenter.__file__).parent
# a domain: a package with its own models or services (infrastructure packages such as telephony have neither)
DOMAINS = {
    f"leadcenter.{package.name}"
    for package in ROOT.iterdir()
    if (package / "__init__.py").exists() and ((package / "models.py").exists() or (package / "services.py").exists())
}


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    return {contract["name"]: contract for contract in config["tool"]["importlinter"]["contracts"]}


def test_the_domains_are_found():
    assert {"leadcenter.calls", "leadcenter.reports", "leadcenter.visits"} <= DOMAINS
    assert "leadcenter.telephony" not in DOMAINS


def test_every_domain_is_in_every_contract_that_lists_the_domains():
    listed = {  # the contract (the start of its name): where it lists the domains
        "Infrastructure and the neutral modules": "forbidden_modules",
        "A domain reaches the web layer only": "source_modules",
        "Only the web layer and the composition root": "source_modules",
        "The migrations sit above the models": "source_modules",
    }
    found = contracts()
    for start, field in listed.items():
        (name,) = [name for name in found if name.startswith(start)]
        modules = {module.removesuffix(".*") for module in found[name][field]}
        assert DOMAINS - modules == set(), name
