"""The docs stay true: README.md and docs/**/*.md are read as a user would use them.

- Blocks marked to run (```sh run, ```python run) run, in page order, in one scratch folder per
  page: python blocks as written, shell blocks line by line, each a `keras-gen` command (run
  in-process, with tiny settings: see `tiny`) or a `curl` against the server a `keras-gen serve`
  line started (a real `keras-gen serve` process on free ports).
- Every `keras-gen` line of a shell or indented block parses with the real command line, and every
  `--set KEY=VALUE` of `keras-gen train MODEL` names an option of MODEL.
- ```python from=PATH blocks are excerpts of PATH, verbatim; ```python file=PATH blocks are the
  files of docs/adding-a-model.md (tests/test_readme_model.py runs those).
- Local links and pictures point at files (and headings) that exist; `docs/make_figures.py`'s
  commands are the ones the pages say made their pictures, and its pictures are small.
- The README's tables list every command and every registered model, and every registered family
  has its page, docs/models/FAMILY.md, linked from the README; its two commands (`make demo`,
  `make test`) are the Makefile's, and `.ci/run` runs the test one.

Every page is read (a new page needs no edit here). Runnable blocks are few and tiny, as the
suite's time is counted: a page runs the commands that only running can check (request flags,
data names, the server's answers); the rest of its lines are parsed.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
SHELLS = ("sh", "bash", "shell", "console")
PICTURE_LIMIT = 300_000  # bytes: docs pictures are small
SERVER_START_SECONDS = 120


@dataclass
class Block:
    page: Path
    line: int
    language: str
    info: str  # what follows the language: "run", "file=PATH", "from=PATH"
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    return [Block(page, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2).strip(), m.group(3))
            for m in FENCE.finditer(text)]


def command_lines(text: str) -> list[str]:
    """Shell lines with `\\` continuations joined; blank and comment-only lines dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip() and not current.strip().startswith("#"):
            lines.append(current.strip())
        current = ""
    return lines


def indented_keras_gen_lines(page: Path) -> list[str]:
    """`keras-gen` lines of indented (4-space) code blocks, outside fenced blocks."""
    text = FENCE.sub("", page.read_text())
    indented = "\n".join(line[4:] if line.startswith("    ") else "" for line in text.splitlines())
    return [line for line in command_lines(indented) if line.startswith("keras-gen ")]


def argv_of(line: str) -> list[str]:
    return shlex.split(line, comments=True)


# -- every documented command parses -------------------------------------------------------------

def documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in PAGES:
        for block in blocks(page):
            if block.language in SHELLS:
                found += [(block.where, argv_of(line)) for line in command_lines(block.text)
                          if line.startswith("keras-gen ")]
        found += [(str(page.relative_to(REPO)), argv_of(line)) for line in indented_keras_gen_lines(page)]
    return found


def test_every_documented_keras_gen_line_parses_and_sets_real_options():
    from keras_gen import registry
    from keras_gen.cli import build_parser

    commands = documented_commands()
    assert len(commands) > 40
    parser = build_parser()
    for where, argv in commands:
        assert argv[0] == "keras-gen"
        try:
            args, extra = parser.parse_known_args(argv[1:])
        except SystemExit:
            pytest.fail(f"{where}: `{shlex.join(argv)}` does not parse")
        # sample and query take the model's request inputs as flags (--label, --steps, ...)
        assert not extra or getattr(args, "takes_request_flags", False), f"{where}: unknown flags {extra}"
        if args.command == "train" and args.model != "classifier":
            spec = registry.get(args.model)
            for setting in args.set:
                key = setting.split("=", 1)[0]
                assert key in spec.option_fields, f"{where}: {args.model} has no option {key!r}"


def test_the_readmes_two_commands_are_make_targets_and_ci_runs_the_test_one():
    """The front door's two commands (set up and run the demo; set up and pass the tests) are the
    Makefile's targets, and CI runs the same test command a reader types."""
    readme = (REPO / "README.md").read_text()
    quick_start = readme[readme.index("## Quick start"):readme.index("\n## ", readme.index("## Quick start") + 1)]
    commands = re.findall(r"^    (make \w+)", quick_start, re.M)
    assert commands == ["make demo", "make test"], commands
    makefile = (REPO / "Makefile").read_text()
    for command in commands:
        assert re.search(rf"^{command.split()[1]}:", makefile, re.M), f"the Makefile has no target for `{command}`"
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert ci[-1] == "make test", f".ci/run does not end with the README's test command: {ci[-1]!r}"


def test_the_command_table_lists_every_command():
    from keras_gen.cli import COMMANDS

    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Command line"):readme.index("## Models")]
    for command in COMMANDS:
        name = command.__name__.rsplit(".", 1)[-1]
        assert f"| `keras-gen {name}" in table, f"README's command table lacks `keras-gen {name}`"


def test_the_models_table_lists_every_registered_model():
    from keras_gen import registry

    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Models"):readme.index("## Serving")]
    for name in registry.names():
        spec = registry.get(name)
        if spec.family not in ("test", "evaluation"):
            assert f"| `{name}` |" in table, f"README's model table lacks {name}"


# -- excerpts, links and pictures ----------------------------------------------------------------

def test_excerpts_are_verbatim_from_their_files():
    excerpts = [b for page in PAGES for b in blocks(page) if b.info.startswith("from=")]
    assert excerpts
    for block in excerpts:
        source = REPO / block.info.removeprefix("from=")
        assert block.text in source.read_text(), f"{block.where}: the excerpt is not in {source.relative_to(REPO)}"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def test_local_links_and_pictures_exist():
    link = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
    referenced = set()
    for page in PAGES:
        for target in link.findall(FENCE.sub("", page.read_text())):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            assert resolved.exists(), f"{page.relative_to(REPO)}: link to missing {target}"
            referenced.add(resolved)
            if anchor and resolved.suffix == ".md":
                assert anchor in anchors(resolved), f"{page.relative_to(REPO)}: no heading #{anchor} in {path or 'itself'}"
    pictures = sorted((REPO / "docs" / "images").glob("*.png"))
    for picture in pictures:
        assert picture.resolve() in referenced, f"{picture.relative_to(REPO)} is shown on no page"
        assert picture.stat().st_size < PICTURE_LIMIT, f"{picture.relative_to(REPO)} is larger than {PICTURE_LIMIT} bytes"


def test_every_family_has_a_page_linked_from_the_readme():
    """One page a registered family, docs/models/FAMILY.md, which the README links to (a new
    family's page joins the README's list of families and its models join the model table)."""
    from keras_gen import registry

    readme = (REPO / "README.md").read_text()
    families = {registry.get(name).family for name in registry.names()} - {"test", "evaluation"}
    assert families
    for family in sorted(families):
        page = f"docs/models/{family}.md"
        assert (REPO / page).is_file(), f"the {family} family has no page: write {page}"
        assert f"]({page})" in readme, f"README.md does not link {page}"


def _make_figures():
    sys.path.insert(0, str(REPO / "docs"))
    try:
        import make_figures
    finally:
        sys.path.remove(str(REPO / "docs"))
    return make_figures


def test_each_page_of_make_figures_shows_its_pictures_and_says_how_they_were_made():
    make_figures = _make_figures()
    assert make_figures.FIGURES
    for family in make_figures.FIGURES:
        page = make_figures.page(family)
        text = (REPO / page).read_text()
        assert f"python docs/make_figures.py {family}" in text, f"{page} does not say how its pictures were made"
        for line in make_figures.command_lines(family):
            assert line in text, f"{page} does not show the command that made its pictures: {line}"
        for target in make_figures.pictures(family):
            shown = f"images/{Path(target).name}"
            assert shown in text, f"{page} does not show {target}"


# -- runnable blocks -----------------------------------------------------------------------------

RUNNABLE_PAGES = [page for page in PAGES if any(b.info == "run" for b in blocks(page))]


def _set(argv: list[str], flag: str, value) -> None:
    """`flag value` in argv: replaced where given, else appended."""
    if flag in argv:
        argv[argv.index(flag) + 1] = str(value)
    else:
        argv += [flag, str(value)]


def _cap(argv: list[str], flag: str, most: int) -> None:
    if flag in argv:
        argv[argv.index(flag) + 1] = str(min(int(argv[argv.index(flag) + 1]), most))


def tiny(argv: list[str]) -> list[str]:
    """The command with tiny settings: a run of 1 epoch of 2 steps of 8 images with the model's
    `harness_options` (the shared harness's tiny networks, over the page's own options; a resumed
    run gets one more epoch), at most 8 samples and 3 sampler steps, 150 samples for an evaluation
    (FID needs more than the 128 features), 32 px and 2 steps for the optimisation tools on the
    offline VGG weights. Everything else runs as written."""
    from keras_gen import registry

    argv = list(argv)
    command = argv[0]
    if command == "train" and "--resume" in argv:
        _set(argv, "--epochs", 2)
    elif command == "train":
        for flag, value in (("--epochs", 1), ("--steps-per-epoch", 2), ("--batch-size", 8)):
            _set(argv, flag, value)
        if argv[1] != "classifier":
            for key, value in registry.get(argv[1]).model_class.harness_options.items():
                argv += ["--set", f"{key}={value}"]  # the last --set of a key wins
    elif command == "sample":
        _cap(argv, "--n", 8)
        _cap(argv, "--steps", 3)
    elif command == "evaluate":
        _set(argv, "--n", 150)
    elif command in ("stylize", "texture", "invert"):
        _set(argv, "--size", 32)
        _set(argv, "--steps", 2)
        if not (command == "stylize" and "--model" in argv):
            _set(argv, "--vgg-weights", "hed")
    return argv


class Server:
    """`keras-gen serve ...` as written, in its own process, on ports the kernel picks (`--port 0
    --grpc-port 0`, read back from its log: no window in which another process could take them);
    `local(text)` points the documented ports at it."""

    def __init__(self, argv: list[str], cwd: Path):  # argv: ["serve", EXPORTS, ...]
        from keras_gen.cli import build_parser
        from tests.serving.live_server import bound_ports

        args = build_parser().parse_args(["serve", *argv[1:]])
        argv = list(argv)
        _set(argv, "--port", 0)
        _set(argv, "--grpc-port", 0)
        _set(argv, "--host", "127.0.0.1")
        self.log = cwd / "serve.log"
        self.process = subprocess.Popen([sys.executable, "-m", "keras_gen.cli", *argv], cwd=cwd,
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            rest, grpc = bound_ports(self.log.read_text())
            if rest and grpc:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{rest}/readyz", timeout=5) as answer:
                        if answer.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"`keras-gen {shlex.join(argv)}` did not get ready:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)
        self.documented = {f"localhost:{args.port}": f"127.0.0.1:{rest}",
                           f"localhost:{args.grpc_port}": f"127.0.0.1:{grpc}"}

    def local(self, text: str) -> str:
        for documented, actual in self.documented.items():
            text = text.replace(documented, actual)
        return text

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: drain, then exit
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def curl(argv: list[str]) -> dict:
    """`curl [-d BODY] URL` as curl does it: a POST of the body when given, else a GET; 200 expected."""
    body, url = None, None
    rest = argv[1:]
    while rest:
        item = rest.pop(0)
        if item in ("-d", "--data"):
            body = rest.pop(0).encode()
        elif item.startswith("-"):
            raise AssertionError(f"curl option {item} is not run by tests/test_docs.py")
        else:
            url = item
    url = url if "://" in url else f"http://{url}"
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as err:
        raise AssertionError(f"{err.code} {err.read()[:500]!r}") from None


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_pages_runnable_blocks_run(page, tmp_path, monkeypatch, digits_classifier_cache):
    from keras_gen.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_GEN_CACHE", str(digits_classifier_cache))  # the session's digits classifier
    server = None
    try:
        for block in [b for b in blocks(page) if b.info == "run"]:
            if block.language == "python":
                exec(compile(block.text, block.where, "exec"), {"__name__": "__docs__"})
                continue
            assert block.language in SHELLS, f"{block.where}: only sh and python blocks run"
            for line in command_lines(block.text):
                argv = argv_of(server.local(line) if server else line)
                if argv[0] == "keras-gen" and argv[1] == "serve":
                    assert server is None, f"{block.where}: one server a page"
                    server = Server(argv[1:], tmp_path)
                elif argv[0] == "keras-gen":
                    code = main(tiny(argv[1:]))
                    assert code == 0, f"{block.where}: `{line}` exited with {code}"
                elif argv[0] == "curl":
                    assert server is not None, f"{block.where}: curl before any `keras-gen serve`"
                    try:
                        curl(argv)
                    except AssertionError as err:
                        pytest.fail(f"{block.where}: `{line}`: {err}")
                else:
                    pytest.fail(f"{block.where}: a run block holds keras-gen and curl lines only, not `{line}`")
    finally:
        if server is not None:
            server.stop()
