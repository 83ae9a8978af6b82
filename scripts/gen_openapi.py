"""Writes Sources/SAServer/OpenAPIDocument.swift from docs/openapi.json (the one source)."""
import json
import os

root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
doc = open(os.path.join(root, "docs", "openapi.json")).read()
json.loads(doc)  # must be valid JSON
assert '"""#' not in doc
with open(os.path.join(root, "Sources", "SAServer", "OpenAPIDocument.swift"), "w") as f:
    f.write("// The OpenAPI document served at /api/openapi.json. docs/openapi.json is the same text;\n"
            "// a test keeps the two identical (edit docs/openapi.json, then run `make openapi`).\n"
            "enum OpenAPIDocument {\n    static let json = #\"\"\"\n" + doc + "\"\"\"#\n}\n")
