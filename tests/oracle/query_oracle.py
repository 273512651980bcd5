"""What airbyte-ci answers: for each query and each metadata.yaml text, whether
`bool(simple_eval(query, names={"data": yaml.safe_load(text)["data"]}))` holds, with any
exception meaning no match (and the exception's class name kept for diagnostics).

stdin: {"docs": [text, ...], "queries": [query, ...], "mode": "bool" | "str"}
stdout: {"syntax_error": [bool], "results": [[true | false | "ExceptionName"] per doc] per query}
(with "mode": "str", each result is ["str", str(value)] instead of a bool)
"""

import ast
import json
import sys
import warnings

import yaml
from simpleeval import simple_eval

warnings.simplefilter("ignore")
request = json.load(sys.stdin)


def load(text):
    try:
        return ("ok", yaml.safe_load(text)["data"])
    except Exception as e:  # noqa: BLE001 - airbyte-ci's except clause
        return ("error", type(e).__name__)


docs = [load(t) for t in request["docs"]]
syntax_error = []
results = []
for query in request["queries"]:
    try:
        ast.parse(query.strip())
        syntax_error.append(False)
    except SyntaxError:
        syntax_error.append(True)
    row = []
    for status, data in docs:
        if status == "error":
            row.append("MetadataNotLoaded")
            continue
        try:
            value = simple_eval(query, names={"data": data})
            row.append(["str", str(value)] if request.get("mode") == "str" else bool(value))
        except Exception as e:  # noqa: BLE001
            row.append(type(e).__name__)
    results.append(row)
json.dump({"syntax_error": syntax_error, "results": results}, sys.stdout)
