#!/usr/bin/env python3
"""Keeps the docs honest where a script can tell: facts the docs repeat are read from the code.

    python3 .ci/docs-check.py                          # the sources
    python3 .ci/docs-check.py --rendered target/doc    # also the pages `cargo doc` rendered

Checks:
- the default feature: README.md, docs/*.md and src/lib.rs call no other feature "the default",
  and their feature tables mark only Cargo.toml's default with "yes";
- links in doc comments (src/): no relative link to a file (`](docs/x.md)`, `](../README.md)`),
  which leads nowhere on docs.rs; repository files are linked with absolute URLs;
- the crate front page names the tracing subscriber the SDK needs to be heard;
- the README's list of blocking-client methods is exactly the public methods of
  `blocking::HeartbeatClient` (src/blocking/mod.rs);
- with --rendered: every relative link on the crate's rendered pages leads to a file that
  exists (links into other crates' docs are left to docs.rs), and none leads to a .md file.

Exits 1 with one line per finding. Python 3 standard library only.
"""

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
CRATE = "vortex_client"


def default_features(cargo_toml):
    """The `default = [...]` list of the [features] table."""
    match = re.search(r"^\[features\]\s*$(.*?)^\[", cargo_toml, re.M | re.S)
    table = match.group(1) if match else ""
    default = re.search(r"^default\s*=\s*\[(.*?)\]", table, re.M | re.S)
    names = re.findall(r'"([^"]+)"', default.group(1)) if default else []
    features = re.findall(r"^([A-Za-z0-9_-]+)\s*=", table, re.M)
    return set(names), set(features) - {"default"}


def check_default_feature(findings):
    defaults, features = default_features((ROOT / "Cargo.toml").read_text())
    files = [ROOT / "README.md", ROOT / "src" / "lib.rs", *sorted((ROOT / "docs").glob("*.md"))]
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{n}"
            # "`rustls-ring`, the default" / "`rustls-ring` (the default)" / "default: `x`"
            for name in re.findall(r"`([A-Za-z0-9_-]+)`,?\s*\(?the default\b", line) + re.findall(
                r"\bdefault(?: feature)?:\s*`([A-Za-z0-9_-]+)`", line
            ):
                if name in features and name not in defaults:
                    findings.append(f"{where}: calls `{name}` the default; Cargo.toml's is {sorted(defaults)}")
            # a feature table row: | `name` | yes | ...
            row = re.match(r"^(?://!\s*)?\|\s*`([A-Za-z0-9_-]+)`\s*\|\s*(yes|no)\s*\|", line)
            if row and row.group(1) in features:
                says_default = row.group(2) == "yes"
                if says_default != (row.group(1) in defaults):
                    findings.append(f"{where}: the feature table marks `{row.group(1)}` default={row.group(2)}")


RELATIVE_FILE_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:)(?!#)([^)\s]*\.md(?:#[^)]*)?|docs/[^)]*|\.\.?/[^)]*)\)")


def check_doc_comment_links(findings):
    for path in sorted((ROOT / "src").rglob("*.rs")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            text = line.strip()
            if not (text.startswith("///") or text.startswith("//!") or text.startswith("#[doc")):
                continue
            for target in RELATIVE_FILE_LINK.findall(text):
                findings.append(
                    f"{path.relative_to(ROOT)}:{n}: relative link ({target}) breaks on docs.rs; "
                    "use https://github.com/vortex-config/vortex-client/blob/main/..."
                )


def check_front_page(findings):
    if "tracing_subscriber::fmt::init()" not in (ROOT / "src" / "lib.rs").read_text():
        findings.append("src/lib.rs: the crate docs do not show tracing_subscriber::fmt::init()")


def check_blocking_list(findings):
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Blocking client\s*\n\n(.*?)\n\n", readme, re.M | re.S)
    if not section:
        findings.append("README.md: no '## Blocking client' section with a list of methods")
        return
    listed = set(re.findall(r"`([a-z_]+)\([^`]*\)`", section.group(1)))
    code = (ROOT / "src" / "blocking" / "mod.rs").read_text()
    block = re.search(r"^impl HeartbeatClient \{$(.*?)^\}$", code, re.M | re.S)
    methods = set(re.findall(r"^    pub fn ([a-z_]+)", block.group(1) if block else "", re.M))
    for name in sorted(listed - methods):
        findings.append(f"README.md: the blocking client has no method {name}()")
    for name in sorted(methods - listed):
        findings.append(f"README.md: the blocking-client list leaves out {name}()")


HREF = re.compile(r'\bhref="([^"]+)"')


def check_rendered(doc_root, findings):
    crate_dir = doc_root / CRATE
    if not crate_dir.is_dir():
        findings.append(f"{crate_dir}: not found (run cargo doc first)")
        return
    for page in sorted(crate_dir.rglob("*.html")):
        text = page.read_text(errors="replace")
        # Blanket implementations render other crates' docs (tracing's, say) with their links.
        text = text.split('id="blanket-implementations"')[0]
        for href in set(HREF.findall(text)):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path or "${" in href:
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            where = page.relative_to(doc_root)
            if target.suffix == ".md":
                findings.append(f"{where}: link to {href}, a markdown file that docs.rs does not serve")
                continue
            try:
                inside = target.relative_to(doc_root.resolve())
            except ValueError:
                findings.append(f"{where}: link to {href} leaves the documentation")
                continue
            top = inside.parts[0] if inside.parts else ""
            own = top in (CRATE, "src", "static.files", "search.desc", "trait.impl", "type.impl")
            if (own or "." in top) and not target.exists():
                findings.append(f"{where}: dead link to {href}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rendered", type=Path, help="the doc directory cargo doc wrote")
    args = parser.parse_args()
    findings = []
    check_default_feature(findings)
    check_doc_comment_links(findings)
    check_front_page(findings)
    check_blocking_list(findings)
    if args.rendered:
        check_rendered(args.rendered, findings)
    for finding in findings:
        print(finding)
    if findings:
        sys.exit(1)
    print("docs-check: ok")


if __name__ == "__main__":
    main()
