"""An import-linter contract that import-linter lacks: no import cycle between modules (pyproject.toml).

Its own contracts forbid cycles between sibling packages (``acyclic_siblings``); here packages may import each other
(two domains do), and what is forbidden is a module importing one that imports it back, directly or through others.
Every import counts, including those inside functions and under TYPE_CHECKING: an import moved into a function to
dodge a cycle is still the cycle.
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck
from importlinter.domain.helpers import module_expressions_to_modules


class AcyclicModulesContract(Contract):
    """Configuration: ``containers``, the packages whose modules (all of them, at any depth) must not import each
    other in a cycle."""

    type_name = "acyclic_modules"

    containers = fields.SetField(subfield=fields.ModuleExpressionField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        modules = {module.name for module in module_expressions_to_modules(graph, self.containers, as_packages=True)}  # type: ignore[arg-type]  # the field is filled in by Contract
        imports = {module: graph.find_modules_directly_imported_by(module) & modules for module in modules}
        cycles = []
        for component in strongly_connected(imports):
            first = min(component)
            # The shortest way back to the first module from a module it imports, within the component.
            back = min(
                (
                    graph.find_shortest_chain(importer=imported, imported=first) or ()
                    for imported in imports[first] & component
                ),
                key=lambda chain: (len(chain), chain),
            )
            cycles.append([first, *back])
        return ContractCheck(kept=not cycles, warnings=[], metadata={"cycles": sorted(cycles)})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(" -> ".join(cycle))
            output.new_line()


def strongly_connected(imports: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the sets of two or more modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, pending = work[-1]
            for imported in pending:
                if imported not in index:
                    index[imported] = low[imported] = len(index)
                    stack.append(imported)
                    on_stack.add(imported)
                    work.append((imported, iter(sorted(imports[imported]))))
                    break
                if imported in on_stack:
                    low[module] = min(low[module], index[imported])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found
