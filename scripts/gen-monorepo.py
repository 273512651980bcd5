#!/usr/bin/env python3
"""Generates an Airbyte-shaped monorepo for benchmarks.

Usage: scripts/gen-monorepo.py OUT N [--seed S] [--variants K]

OUT/airbyte-integrations/connectors/<name>/ gets metadata.yaml, a Dockerfile drawn from
24 templates (3 notebook variants, each in 8 formatting/ordering flavours, so that variant
counts stay realistic), setup.py, main.py and a package directory, like a real connector.
With --variants K, the Dockerfiles fall into exactly K variants instead (for benchmarks that
need one image per variant). Deterministic for a given N and seed. Standard library only.
"""
import random
import sys
from pathlib import Path

V1 = """FROM python:3.9-slim
# Bash is installed for more convenient debugging.
RUN apt-get update && apt-get install -y bash && rm -rf /var/lib/apt/lists/*
WORKDIR /airbyte/integration_code
COPY {snake} ./{snake}
COPY main.py ./
COPY setup.py ./
RUN pip install .
ENV AIRBYTE_ENTRYPOINT "python /airbyte/integration_code/main.py"
ENTRYPOINT ["python", "/airbyte/integration_code/main.py"]
LABEL io.airbyte.version={version}
LABEL io.airbyte.name=airbyte/{name}
"""

V2 = """FROM python:3.9.11-alpine3.15 as base
# build and load all requirements
FROM base as builder
WORKDIR /airbyte/integration_code
# upgrade pip to the latest version
RUN apk --no-cache upgrade \\
    && pip install --upgrade pip \\
    && apk --no-cache add tzdata build-base
COPY setup.py ./
RUN pip install --prefix=/install .
FROM base
WORKDIR /airbyte/integration_code
COPY --from=builder /install /usr/local
COPY --from=builder /usr/share/zoneinfo/Etc/UTC /etc/localtime
RUN echo "Etc/UTC" > /etc/timezone
RUN apk --no-cache add bash
COPY main.py ./
COPY {snake} ./{snake}
ENV AIRBYTE_ENTRYPOINT "python /airbyte/integration_code/main.py"
ENTRYPOINT ["python", "/airbyte/integration_code/main.py"]
LABEL io.airbyte.version={version}
LABEL io.airbyte.name=airbyte/{name}
"""

V3 = """FROM python:3.9-slim
RUN apt-get update && apt-get install -y bash && rm -rf /var/lib/apt/lists/*
WORKDIR /airbyte/integration_code
COPY setup.py ./
RUN pip install .
COPY {snake} ./{snake}
COPY main.py ./
ENV AIRBYTE_ENTRYPOINT "python /airbyte/integration_code/main.py"
ENTRYPOINT ["python", "/airbyte/integration_code/main.py"]
LABEL io.airbyte.version={version}
LABEL io.airbyte.name=airbyte/{name}
"""

BASES = ["python:3.9-slim", "python:3.9.11-slim", "python:3.10-slim", "python:3.11-slim"]


def flavour(text, k):
    """Formatting and small real differences, so that both normalizers have work to do."""
    if k & 1:
        text = text.replace("\n", "\n\n")
    if k & 2:
        text = "\n".join(("  " + l) if l.startswith("COPY") else l for l in text.split("\n"))
    if k & 4:
        text = text.replace("python:3.9-slim", BASES[k % len(BASES)])
    return text


METADATA = """data:
  allowedHosts:
    hosts:
      - api.{name}.com
  connectorSubtype: api
  connectorType: source
  definitionId: {uuid}
  dockerImageTag: {version}
  dockerRepository: airbyte/{name}
  documentationUrl: https://docs.airbyte.com/integrations/sources/{short}
  githubIssueLabel: {name}
  icon: {short}.svg
  license: MIT
  name: {title}
  registries:
    cloud:
      enabled: true
    oss:
      enabled: true
  releaseStage: {stage}
  supportLevel: {level}
  tags:
    - language:python
{build}metadataSpecVersion: "1.0"
"""


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: gen-monorepo.py OUT N [--seed S]")
    out, n = Path(argv[1]), int(argv[2])
    options = dict(zip(argv[3::2], argv[4::2]))
    seed = int(options.get("--seed", 1))
    variants = int(options["--variants"]) if "--variants" in options else None
    rng = random.Random(seed)
    root = out / "airbyte-integrations" / "connectors"
    root.mkdir(parents=True, exist_ok=True)
    templates = [V1, V2, V3]
    for i in range(n):
        short = f"bench{i:05d}"
        name = f"source-{short}"
        snake = name.replace("-", "_")
        version = f"{rng.randint(0, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}"
        d = root / name
        (d / snake).mkdir(parents=True, exist_ok=True)
        migrated = rng.random() < 0.2
        build = ""
        if migrated:
            build = ("  connectorBuildOptions:\n    baseImage: docker.io/airbyte/python-connector-base:1.1.0"
                     "@sha256:bd98f6505c6764b1b5f99d3aedc23dfc9e9af631a62533f60eb32b1d3dbab20c\n")
        (d / "metadata.yaml").write_text(METADATA.format(
            name=name, short=short, version=version, uuid=f"{i:08x}-0000-4000-8000-{i:012x}",
            title=short.title(), stage=rng.choice(["generally_available", "beta", "alpha"]),
            level=rng.choice(["certified", "community", "community"]), build=build))
        if variants is not None:
            k = i % variants
            text = templates[k % 3].format(name=name, snake=snake, version=version)
            (d / "Dockerfile").write_text(text + f"LABEL build.flavor={k}\n")
        elif not migrated:
            template = templates[rng.randrange(3)]
            text = template.format(name=name, snake=snake, version=version)
            (d / "Dockerfile").write_text(flavour(text, rng.randrange(8)))
        (d / "setup.py").write_text(f"from setuptools import setup\nsetup(name='{name}')\n")
        (d / "main.py").write_text(f"from {snake} import run\nrun()\n")
        (d / snake / "__init__.py").write_text("")
        (d / snake / "source.py").write_text("class Source:\n    pass\n")


if __name__ == "__main__":
    main(sys.argv)
