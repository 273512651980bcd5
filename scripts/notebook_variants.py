#!/usr/bin/env python3
"""Oracle: the Dockerfile variant ids of the 2023-09-08 analysis notebook.

Usage: python3 scripts/notebook_variants.py ROOT

Finds ROOT/airbyte-integrations/connectors/**/metadata.yaml (skipping paths that
contain "-scaffold-", hidden directories, node_modules and target) and, for every
connector directory holding a Dockerfile, prints "<technical-name>\t<variant-id>"
sorted by name. The technical name is the directory name. metadata.yaml is not read.

get_dockerfile_variant() is the notebook's function, kept verbatim (quirks
included: str.replace of whole lines over the whole text, column-0-only comment and
label matching, no BOM stripping). Only the signature changed (no Connector object)
and the encoding is pinned to UTF-8, the notebook's locale default. read_text()
opens in universal-newline mode, so CRLF reads as LF. Standard library only.
"""
import hashlib
import os
import sys
from pathlib import Path

SKIPPED_DIRS = {"node_modules", "target"}


def get_dockerfile_variant(technical_name, code_directory):
    dockerfile = Path(code_directory / "Dockerfile").read_text(encoding="utf-8")
    dockerfile = dockerfile.replace(technical_name, "connector-technical-name")
    dockerfile = dockerfile.replace(technical_name.replace("-", "_"), "connector_technical_name")
    for line in dockerfile.splitlines():
        # Remove dockerfile comments
        if line.startswith("#"):
            dockerfile = dockerfile.replace(line, "")
        # Remove connnector version label
        if line.startswith("LABEL io.airbyte.version"):
            dockerfile = dockerfile.replace(line, "")
    # Remove empty lines
    dockerfile = "\n".join([line for line in dockerfile.split("\n") if line.strip() != ""])
    # Remove extra spaces
    dockerfile = "\n".join([line.strip() for line in dockerfile.split("\n")])
    return hashlib.sha256(dockerfile.encode()).hexdigest()[:7]


def connector_directories(root):
    connectors = Path(root) / "airbyte-integrations" / "connectors"
    for dirpath, dirnames, filenames in os.walk(connectors):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS]
        if "metadata.yaml" in filenames and "-scaffold-" not in os.path.relpath(dirpath, connectors):
            yield Path(dirpath)


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} ROOT")
    if not (Path(argv[1]) / "airbyte-integrations" / "connectors").is_dir():
        sys.exit(f"{argv[1]}: no airbyte-integrations/connectors directory")
    rows = sorted(
        (d.name, get_dockerfile_variant(d.name, d))
        for d in connector_directories(argv[1])
        if (d / "Dockerfile").is_file()
    )
    for name, variant in rows:
        print(f"{name}\t{variant}")


if __name__ == "__main__":
    main(sys.argv)
