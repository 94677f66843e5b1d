"""The agent app's modules (web/js) keep the store's rules (web/js/store.js): one store whose shape is declared in one
place; no module keeps state of its own; every change goes through update(); views render and never load or change
anything; no forced redraws; actions dispatched through tables. Checked on the source: comments, strings and the
text of template literals are blanked first, so only code is read (the expressions inside ${...} stay code)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leadcenter import catalogue
from leadcenter.web.app import WEB

JS = WEB / "js"
MODULES = sorted(JS.glob("*.js"))
STORE = JS / "store.js"
USER_EVENTS = ("click", "submit", "input", "change", "keydown", "keyup", "keypress")
# What a view may not call: loading, changing the store, saying something, scheduling work.
NOT_IN_VIEWS = ("api", "fetch", "update", "say", "later", "setTimeout", "setInterval", "requestAnimationFrame")
MUTATORS = r"set|add|delete|clear|push|pop|shift|unshift|splice|sort|reverse|fill"
IDENTIFIER = r"[A-Za-z_$][\w$]*"
# Before these a slash starts a regular expression, not a division.
REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^") | {""}
REGEX_AFTER_WORDS = {"return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw"}


def code_of(text: str) -> str:
    """The text with comments, string contents, regular expressions and template literal text blanked (same
    length, newlines kept), so that what is left is code."""
    out = list(text)
    stack = ["code"]  # "code" frames (with their open braces) and "template" frames
    braces = [0]
    i, n = 0, len(text)

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    def previous_token(k: int) -> str:
        j = k - 1
        while j >= 0 and out[j] in " \t\n":
            j -= 1
        if j < 0:
            return ""
        if out[j].isalnum() or out[j] in "_$":
            start = j
            while start >= 0 and (out[start].isalnum() or out[start] in "_$"):
                start -= 1
            return "".join(out[start + 1 : j + 1])
        return out[j]

    while i < n:
        c = text[i]
        if stack[-1] == "template":
            if c == "\\":
                blank(i, i + 2)
                i += 2
            elif c == "`":
                stack.pop()
                braces.pop()
                i += 1
            elif text.startswith("${", i):
                stack.append("code")
                braces.append(0)
                i += 2
            else:
                blank(i, i + 1)
                i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif text.startswith("/*", i):
            end = text.index("*/", i) + 2
            blank(i, end)
            i = end
        elif c in "'\"":
            j = i + 1
            while text[j] != c:
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "`":
            stack.append("template")
            braces.append(0)
            i += 1
        elif c == "/" and (previous_token(i) in REGEX_AFTER or previous_token(i) in REGEX_AFTER_WORDS):
            j, in_class = i + 1, False
            while in_class or text[j] != "/":
                if text[j] == "\\":
                    j += 1
                elif text[j] == "[":
                    in_class = True
                elif text[j] == "]":
                    in_class = False
                j += 1
            blank(i + 1, j)
            i = j + 1
        elif c == "{":
            braces[-1] += 1
            i += 1
        elif c == "}":
            if braces[-1] == 0 and len(stack) > 1:  # the end of a template literal's ${...}
                stack.pop()
                braces.pop()
            else:
                braces[-1] -= 1
            i += 1
        else:
            i += 1
    assert stack == ["code"], "unterminated template literal"
    return "".join(out)


def closing(code: str, start: int) -> int:
    """The index just after the bracket that closes the one at ``start``."""
    depth = 0
    for k in range(start, len(code)):
        if code[k] in "([{":
            depth += 1
        elif code[k] in ")]}":
            depth -= 1
            if depth == 0:
                return k + 1
    raise AssertionError(f"unbalanced bracket at {start}")


def top_level_statements(code: str) -> list[tuple[int, str]]:
    """(line number, text) of each statement at the module's top level: a line that starts at depth 0, with the
    lines of its brackets."""
    statements, depth = [], 0
    lines = code.split("\n")
    offset = 0
    for number, line in enumerate(lines, 1):
        if depth == 0 and line.strip():
            statements.append((number, offset))
        for char in line:
            depth += char in "([{"
            depth -= char in ")]}"
        offset += len(line) + 1
    result = []
    for index, (number, start) in enumerate(statements):
        end = statements[index + 1][1] if index + 1 < len(statements) else len(code)
        result.append((number, code[start:end]))
    return result


class Module:
    def __init__(self, path: Path):
        self.path, self.name = path, path.name
        self.text = path.read_text()
        self.code = code_of(self.text)
        self.statements = top_level_statements(self.code)
        self.functions = self._functions()
        self.imports = self._imports()

    def _functions(self) -> dict[str, str]:
        """Each top-level function (declared, or a const arrow function): its text after its name."""
        found = {}
        for _, statement in self.statements:
            declared = re.match(rf"(?:export\s+)?(?:async\s+)?function\s*\*?\s*({IDENTIFIER})", statement)
            arrow = re.match(
                rf"(?:export\s+)?const\s+({IDENTIFIER})\s*=\s*(?:async\s+)?(?:\([^)]*\)|{IDENTIFIER})\s*=>", statement
            )
            if declared or arrow:
                match = declared or arrow
                found[match.group(1)] = statement[match.end(1) :]  # from after its name: its own calls only
        return found

    def _imports(self) -> dict[str, tuple[str, str | None]]:
        """Local name -> (module file, exported name; None for a namespace import)."""
        names = {}
        for match in re.finditer(r"import\s+(.*?)\s+from\s+'\./([\w.]+)'", self.text, re.S):
            what, source = match.group(1), match.group(2)
            if what.startswith("* as "):
                names[what[5:].strip()] = (source, None)
                continue
            for part in what.strip("{} \n").split(","):
                if part.strip():
                    exported, _, local = part.strip().partition(" as ")
                    names[(local or exported).strip()] = (source, exported.strip())
        return names

    def line_of(self, index: int) -> int:
        return self.code.count("\n", 0, index) + 1

    def render_calls(self) -> list[tuple[int, int]]:
        """Where render(...) or renderParts(...) is called: its opening and closing parenthesis (html.js, which
        defines them, left out)."""
        if self.name == "html.js":
            return []
        return [
            (call.end() - 1, closing(self.code, call.end() - 1))
            for call in re.finditer(r"(?<![.\w$])render(?:Parts)?\(", self.code)
        ]


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return {path.name: Module(path) for path in MODULES}


def test_the_scanner_reads_every_module_as_code(modules):
    """The blanking keeps every module's brackets balanced and leaves no string or template text."""
    source = "const a = 'x{'; // y(\nconst r = /['\"`]/g;\nhtml`<p>${f(`in ${g('}')}`)}</p>` / 2;\n"
    code = code_of(source)
    assert len(code) == len(source) and code.count("\n") == source.count("\n")
    assert [text for text in ("x{", "y(", "<p>", "in ", "'}'") if text in code] == []
    assert "f(" in code and "g(" in code and "/ 2" in code
    for module in modules.values():
        assert closing("(" + module.code + ")", 0) == len(module.code) + 2, module.name
    assert "Loading" not in modules["panel.js"].code and "data-action" not in modules["panel.js"].code
    assert "timelineView(s)" in modules["panel.js"].code  # code inside ${...} stays


def test_the_state_shape_is_declared_in_one_place_with_a_comment_per_field(modules):
    store = modules["store.js"]
    start = store.text.index("export const state = {")
    body = store.text[start : closing(store.code, store.code.index("{", start))]
    fields = re.findall(rf"^  ({IDENTIFIER}):", body, re.M)
    assert len(fields) > 20
    uncommented = [line for line in body.splitlines() if re.match(rf"  {IDENTIFIER}:", line) and "//" not in line]
    assert uncommented == []
    # Every field any module reads or writes (the state is `state`, or `s` in updates, views and effects) is one
    # of them.
    used = {
        (module.name, field)
        for module in modules.values()
        for field in re.findall(rf"\b(?:state|s)\.({IDENTIFIER})", module.code)
    }
    assert {(name, field) for name, field in used if field not in fields} == set()


def test_no_module_but_the_store_keeps_state_of_its_own(modules):
    """A module's top level holds imports, functions, classes and constants: no `let` or `var`, no mutable object
    but an UPPER_CASE constant that nothing changes."""
    found = []
    for module in modules.values():
        if module.path == STORE:
            continue
        for number, statement in module.statements:
            declaration = re.match(rf"(?:export\s+)?(let|var|const)\s+({IDENTIFIER})\s*=\s*(.*)", statement, re.S)
            if not declaration:
                assert re.match(r"(import|export|(async\s+)?function|class|\w[\w.]*\()", statement), (
                    f"{module.name}:{number}: {statement.strip()[:60]}"
                )
                continue
            kind, name, value = declaration.groups()
            if kind != "const":
                found.append(f"{module.name}:{number}: {kind} {name}")
            elif name in module.functions or re.match(r"\d|''|\"\"|true\b|false\b|null\b", value.strip()):
                continue
            elif not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                found.append(f"{module.name}:{number}: const {name} holds an object")
            else:
                for other in modules.values():
                    changed = re.search(
                        rf"\b{name}\b(\.{IDENTIFIER}|\[[^\]]*\])+\s*(=[^=>]|\+=|-=|\+\+|--)"
                        rf"|\b{name}(\.{IDENTIFIER})*\.({MUTATORS})\(|Object\.assign\(\s*{name}\b",
                        other.code,
                    )
                    if changed:
                        found.append(f"{other.name}:{other.line_of(changed.start())}: changes the constant {name}")
    assert found == []


def test_every_change_to_the_state_goes_through_update(modules):
    """Outside the store, the state is read, never assigned or changed in place (updates change it through their
    argument)."""
    found = []
    for module in modules.values():
        if module.path == STORE:
            continue
        for change in re.finditer(
            rf"\bstate(\.{IDENTIFIER}|\[[^\]]*\])+\s*(=[^=>]|\+=|-=|\+\+|--)"
            rf"|\bstate(\.{IDENTIFIER})*\.({MUTATORS})\(|Object\.assign\(\s*state\b",
            module.code,
        ):
            found.append(f"{module.name}:{module.line_of(change.start())}: {change.group(0)}")
    assert found == []


def subscriber_ranges(module: Module) -> list[tuple[int, int]]:
    """Where the module's subscribers are: the arguments of subscribe(...), and the top-level functions it names."""
    ranges = []
    for call in re.finditer(r"\bsubscribe\(", module.code):
        start = call.end() - 1
        ranges.append((start, closing(module.code, start)))
        named = re.match(rf"\(\s*({IDENTIFIER})\s*\)", module.code[start:])
        if named and named.group(1) in module.functions:
            body = module.functions[named.group(1)]
            at = module.code.index(body)
            ranges.append((at, at + len(body)))
    return ranges


def test_no_forced_redraws(modules):
    """Areas are redrawn by the store's subscribers only: render() is called in subscribers, and no update is
    empty (an update that changes nothing only to redraw)."""
    found = []
    for module in modules.values():
        inside = subscriber_ranges(module)
        for start, _ in module.render_calls():
            if not any(low <= start < high for low, high in inside):
                found.append(f"{module.name}:{module.line_of(start)}: render outside a subscriber")
        for empty in re.finditer(r"\bupdate\(\s*\(\s*\w*\s*\)\s*=>\s*(\{\s*\}|null|undefined)\s*[,)]", module.code):
            found.append(f"{module.name}:{module.line_of(empty.start())}: an empty update")
    assert found == []


def test_views_never_load_or_change_anything(modules):
    """Every function a render(...) reaches, across modules (through the names it mentions: called or passed on),
    calls none of api, fetch, update, say, later, timers: loading is done by actions and effects, into the
    store."""

    def resolve(module: Module, name: str, member: str | None) -> tuple[str, str] | None:
        if member is None and name in module.functions:
            return module.name, name
        if name in module.imports:
            source, exported = module.imports[name]
            exported = exported if exported is not None else member
            if exported and exported in modules[source].functions:
                return source, exported
        return None

    def mentioned(module: Module, text: str) -> set[tuple[str, str]]:
        names = set()
        for match in re.finditer(rf"(?<![.\w$])({IDENTIFIER})(?:\.({IDENTIFIER}))?", text):
            target = resolve(module, match.group(1), match.group(2)) or resolve(module, match.group(1), None)
            if target:
                names.add(target)
        return names

    roots = set()
    for module in modules.values():
        for start, end in module.render_calls():
            roots |= mentioned(module, module.code[start:end].split(",", 1)[-1])  # what is rendered
    assert {
        ("panel.js", "view"),
        ("inbox.js", "view"),
        ("contact.js", "view"),
        ("classification.js", "view"),
        ("main.js", "companyChoice"),
        ("main.js", "invitations"),
    } <= roots
    reached, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        module = modules[name[0]]
        todo.extend(mentioned(module, module.functions[name[1]]) - reached)
    assert {
        ("panel.js", "timelineView"),
        ("conversations.js", "conversationView"),
        ("conversations.js", "message"),
        ("profile.js", "profileForm"),
        ("search.js", "results"),
        ("html.js", "icon"),
    } <= reached
    found = []
    for module_name, function in sorted(reached):
        body = modules[module_name].functions[function]
        for call in re.finditer(rf"(?<![.\w$])({'|'.join(NOT_IN_VIEWS)})\(", body):
            found.append(f"{module_name}:{function} calls {call.group(1)}")
    assert found == []


def test_actions_are_tables_with_one_delegated_listener_per_kind_of_event(modules):
    """User events are listened to only through actions.js's listen(), with a table declared at the module's top
    level ({name: handler}); no module compares action names."""
    found = []
    for module in modules.values():
        for listener in re.finditer(rf"addEventListener\(\s*'({'|'.join(USER_EVENTS)})'", module.text):
            if module.name != "actions.js":
                found.append(
                    f"{module.name}:{module.line_of(listener.start())}: {listener.group(1)} listened to directly"
                )
        tables = {
            name
            for _, statement in module.statements
            if (name := (re.match(r"const\s+([A-Z][A-Z0-9_]*)\s*=\s*\{", statement) or [None, None])[1])
        }
        for call in re.finditer(rf"\blisten\(([^,]+),\s*'[^']*',\s*({IDENTIFIER})", module.code):
            if call.group(2) not in tables:
                found.append(f"{module.name}:{module.line_of(call.start())}: listen without a table")
        for chain in re.finditer(r"\baction\s*===|\.action\s*===|\bcase\s+'", module.code):
            found.append(f"{module.name}:{module.line_of(chain.start())}: compares action names")
    assert found == []
    # Each area listens on its root once per kind of event.
    for name in ("inbox.js", "panel.js", "contact.js", "classification.js"):
        kinds = re.findall(r"\blisten\(root,\s*'(\w+)'", modules[name].text)
        assert kinds and len(kinds) == len(set(kinds)), name


def test_events_are_applied_through_one_table(modules):
    """events.js applies each event through its entry in APPLY, one per event of the catalogue the app follows,
    from the resource the event carries: nothing is read again over REST but the inbox on a (re)load."""
    events = modules["events.js"]
    table = events.text[events.text.index("const APPLY = {") :]
    table = table[: closing(events.code[events.code.index("const APPLY = {") :], table.index("{"))]
    names = re.findall(r"^  '([a-z_]+\.[a-z_]+)':", table, re.M)
    assert len(names) == len(set(names))
    public = {event.name for event in catalogue.EVENTS if event.public}
    assert set(names) <= public, set(names) - public
    assert {
        "interaction.created",
        "interaction.updated",
        "interaction.declined",
        "message.received",
        "message.queued",
        "message.sent",
        "message.delivered",
        "message.failed",
        "lead.updated",
        "lead.merged",
        "agent.status_changed",
        "agent.presence_changed",
        "agent.updated",
        "queue.updated",
    } <= set(names)
    # REST reads happen in reload() only (the first connect, a reset, my going offline or coming back).
    reads = [m.start() for m in re.finditer(r"\bapi\(", events.code)]
    reload = events.code.index("async function reload()")
    reload_end = reload + closing(events.code[reload:], events.code[reload:].index("{"))
    assert reads and all(reload < at < reload_end for at in reads)
    # The app keeps no copy of the server's inbox rule: the events say where an interaction goes.
    assert "sectionByRule" not in modules["store.js"].code
