#!/usr/bin/env python3
"""The crate's public API, one line per item, read from the HTML that rustdoc renders.

    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features
    python3 .ci/public-api.py            # print the listing
    python3 .ci/public-api.py --check    # compare with docs/public-api.txt; exit 1 with a diff
    python3 .ci/public-api.py --write    # update docs/public-api.txt

The listing holds every public item of an --all-features build: modules, types with their public
fields and variants, functions, constants, inherent methods and associated items with their
signatures, and the trait implementations (derived and auto traits included, blanket ones left
out). Item paths are absolute; types inside signatures are shown as rustdoc shows them, crate
items relative to the crate root. Items under #[doc(hidden)] do not render and are not listed:
the crate has none.

The HTML is what `cargo doc` already builds, so CI needs no nightly toolchain and no tool of
its own. Its rendering can change with the toolchain: a new Rust that renders a signature
differently shows as a diff to review and `--write`. Python 3 standard library only.
"""

import argparse
import difflib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LISTING = ROOT / "docs" / "public-api.txt"
VOID = {"br", "img", "meta", "link", "input", "hr", "wbr", "source", "area", "base", "col"}
# The item kinds of rustdoc's file names (`struct.Foo.html`), in all.html.
KINDS = {"struct", "enum", "union", "trait", "fn", "type", "constant", "static", "macro",
         "traitalias", "attr", "derive"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children = []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def walk(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()


class Tree(HTMLParser):
    """A minimal DOM: rustdoc's pages are well formed, so a stack of open elements suffices."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.open = self.root
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.open)
        self.open.children.append(node)
        if tag not in VOID:
            self.open = node

    def handle_startendtag(self, tag, attrs):
        self.open.children.append(Node(tag, attrs, self.open))

    def handle_endtag(self, tag):
        node = self.open
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.open = node.parent

    def handle_data(self, data):
        self.open.children.append(data)


def render(node, crate):
    """The text of a node as rustdoc shows it; links to the crate's own items name their path
    from the crate root (`blocking::HeartbeatClient`), so that mirrored names stay apart."""
    if isinstance(node, str):
        return node
    if node.tag == "br":
        return "\n"
    if node.tag == "summary" and "hideme" in node.classes():
        return ""  # "Show 24 fields", the toggle of a long declaration
    text = "".join(render(child, crate) for child in node.children)
    if node.tag == "a":
        kind_path = (node.attrs.get("title") or "").split(" ")
        if len(kind_path) == 2 and kind_path[1].startswith(crate + "::"):
            path = kind_path[1][len(crate) + 2:]
            if path.rsplit("::", 1)[-1] == text:
                return path
    if node.tag == "div" and "code-attribute" in node.classes():
        return text + "\n"
    if "where" in node.classes():
        return " " + text
    return text


def one_line(text):
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"([(<\[]) ", r"\1", text)
    text = re.sub(r" ([)>\],])", r"\1", text)
    text = re.sub(r",\s*([)>\]}])", r"\1", text)
    text = re.sub(r"([^{])}", r"\1 }", text).replace("  }", " }")
    return text.rstrip(",")


def split_top(body, separators):
    """Splits at separators outside (), [], {} and <> (an arrow's `>` does not close)."""
    parts, depth, current = [], 0, []
    for i, ch in enumerate(body):
        if ch in "([{<":
            depth += 1
        elif ch in ")]}" or (ch == ">" and body[i - 1] != "-"):
            depth -= 1
        if ch in separators and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in (one_line(re.sub(r"//[^\n]*", "", p)) for p in parts) if p]


def outer_body(decl):
    """The declaration split into its head and the body of its outermost braces (or None)."""
    depth = 0
    for i, ch in enumerate(decl):
        if ch in "(<[":
            depth += 1
        elif ch in ")]" or (ch == ">" and decl[i - 1] != "-"):
            depth -= 1
        elif ch == "{" and depth == 0:
            end = decl.rindex("}")
            return decl[:i], decl[i + 1:end]
    return decl, None


def qualify(head, name, path):
    """`pub struct Foo<T>` -> `pub struct vortex_client::Foo<T>`."""
    pattern = r"\b(struct|enum|union|trait|fn|type|const|static|macro_rules!)\s+" + re.escape(name) + r"\b"
    return re.sub(pattern, lambda m: f"{m.group(1)} {path}", one_line(head), count=1)


def declaration_lines(kind, name, path, decl):
    head, body = outer_body(decl)
    lines = [qualify(head, name, path)]
    if body is None:
        lines[0] = lines[0].rstrip(";")
        return lines
    if kind in ("struct", "union"):
        for field in split_top(body, ","):
            if field.startswith("/*"):
                lines[0] += " { " + field + " }"
            else:
                lines.append(re.sub(r"^(pub(?:\([^)]*\))? )?(\w+):", lambda m: f"{m.group(1) or ''}{path}::{m.group(2)}:", field, count=1))
    elif kind == "enum":
        for variant in split_top(body, ","):
            if not variant.startswith("/*"):
                lines.append(f"{path}::{variant}")
    elif kind == "trait":
        for member in split_top(body, ";"):
            lines.append(re.sub(r"\b(fn|type|const)\s+(\w+)", lambda m: f"{m.group(1)} {path}::{m.group(2)}", member, count=1))
    return lines


def self_type(impl_header, crate):
    """`impl<T> HeartbeatBuilder<T>` -> `vortex_client::HeartbeatBuilder<T>`."""
    rest = impl_header[len("impl"):]
    if rest.startswith("<"):
        depth = 0
        for i, ch in enumerate(rest):
            depth += {"<": 1, ">": -1}.get(ch, 0)
            if depth == 0:
                rest = rest[i + 1:]
                break
    rest = re.split(r"\s+where\s+", rest.strip())[0]
    return f"{crate}::{rest}"


def impl_lines(page, crate):
    """Inherent members with their signatures, then trait and auto-trait implementations."""
    lines = []
    for node in page.root.walk():
        list_id = node.attrs.get("id")
        if list_id not in ("implementations-list", "trait-implementations-list",
                           "synthetic-implementations-list"):
            continue
        current = None
        for header in node.walk():
            if header.tag not in ("h3", "h4") or "code-header" not in header.classes():
                continue
            text = one_line(render(header, crate))
            if header.tag == "h3":
                current = text
                if list_id != "implementations-list":
                    lines.append(text)
            elif list_id == "implementations-list" and current:
                owner = self_type(current, crate)
                lines.append(re.sub(r"\b(fn|const|type)\s+(\w+)", lambda m: f"{m.group(1)} {owner}::{m.group(2)}", text, count=1))
            elif current and text.startswith("type "):
                lines.append(f"{current}: {text}")
    return lines


def module_lines(doc, crate, module):
    """The module itself, and re-exports rustdoc shows without inlining them."""
    page = doc / Path(*module.split("::")[1:]) / "index.html"
    lines = [] if module == crate else [f"pub mod {module}"]
    if page.exists():
        for node in Tree(page.read_text()).root.walk():
            # A re-export rustdoc does not inline: `<dt id="reexport.Name"><code>pub use ..`.
            if node.tag == "code" and node.parent.attrs.get("id", "").startswith("reexport"):
                lines.append(f"{module}: {one_line(render(node, crate))}")
    return lines


def listing(doc, crate):
    index = Tree((doc / "all.html").read_text())
    entries, modules = [], {crate}
    for link in index.root.walk():
        href = link.attrs.get("href", "") if link.tag == "a" else ""
        match = re.fullmatch(r"((?:\w+/)*)(\w+)\.(\w+)\.html", href)
        if not match or match.group(2) not in KINDS or link.parent.tag != "li":
            continue
        kind, name = match.group(2), match.group(3)
        parts = [crate] + [p for p in match.group(1).split("/") if p]
        for i in range(2, len(parts) + 1):
            modules.add("::".join(parts[:i]))
        entries.append((kind, name, "::".join(parts + [name]), doc / href))
    out = []
    for module in sorted(modules):
        out += [(module, 0, line) for line in module_lines(doc, crate, module)]
    for kind, name, path, file in entries:
        page = Tree(file.read_text())
        decls = [n for n in page.root.walk() if n.tag == "pre" and "item-decl" in n.classes()]
        if not decls:
            sys.exit(f"public-api: no declaration in {file}; has rustdoc's HTML changed?")
        for order, line in enumerate(declaration_lines(kind, name, path, render(decls[0], crate))):
            out.append((path, 1 if order == 0 else 2, line))
        if kind in ("struct", "enum", "union"):
            out += [(path, 3 if line.startswith("impl") else 2, line)
                    for line in impl_lines(page, crate)
                    if not line.startswith("impl StructuralPartialEq")]
    seen, lines = set(), []
    for key in sorted(out):
        if key[2] not in seen:
            seen.add(key[2])
            lines.append(key[2])
    return lines


def doc_dir():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    crate = meta["packages"][0]["name"].replace("-", "_")
    return Path(meta["target_directory"]) / "doc" / crate, crate


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="fail with a diff when docs/public-api.txt differs")
    action.add_argument("--write", action="store_true", help="write docs/public-api.txt")
    parser.add_argument("--doc-dir", type=Path, help="rustdoc's output for the crate (default: from cargo metadata)")
    args = parser.parse_args()
    doc, crate = doc_dir() if args.doc_dir is None else (args.doc_dir, args.doc_dir.name)
    if not (doc / "all.html").exists():
        sys.exit(f"public-api: {doc}/all.html is missing: run "
                 "RUSTDOCFLAGS=\"-D warnings\" cargo doc --no-deps --all-features first")
    header = ["# The public API of the crate with --all-features, one line per item.",
              "# Generated by .ci/public-api.py from rustdoc's HTML; checked by .ci/run. Do not edit:",
              "# after an intended change, run `cargo doc --no-deps --all-features` and",
              "# `python3 .ci/public-api.py --write`, and review the diff with the change."]
    text = "\n".join(header + listing(doc, crate)) + "\n"
    if args.write:
        LISTING.write_text(text)
    elif args.check:
        committed = LISTING.read_text() if LISTING.exists() else ""
        if committed != text:
            sys.stdout.writelines(difflib.unified_diff(
                committed.splitlines(keepends=True), text.splitlines(keepends=True),
                "docs/public-api.txt (committed)", "public API (this build)"))
            print("\nThe public API differs from docs/public-api.txt. If the change is intended, run\n"
                  "  python3 .ci/public-api.py --write\n"
                  "after `cargo doc --no-deps --all-features`, and commit the listing with the change.")
            return 1
        print(f"public API unchanged ({len(text.splitlines()) - len(header)} lines)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
