"""Writes Sources/SAServer/OpenAPIDocument.swift from docs/openapi.json and
Sources/SAServer/WebAssets.swift from web/ (the one sources of both)."""
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

types = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
entries = []
for name in sorted(os.listdir(os.path.join(root, "web"))):
    ext = os.path.splitext(name)[1]
    if ext not in types:
        continue
    body = open(os.path.join(root, "web", name)).read()
    assert '"""#' not in body
    entries.append(f'        "{name}": Asset(contentType: "{types[ext]}", body: #"""\n{body}"""#),\n')
with open(os.path.join(root, "Sources", "SAServer", "WebAssets.swift"), "w") as f:
    f.write("// The web UI, served by sa-serve. Generated from web/ by `make openapi`; a test keeps them identical.\n"
            "enum WebAssets {\n    struct Asset {\n        let contentType: String\n        let body: String\n    }\n\n"
            "    static let files: [String: Asset] = [\n" + "".join(entries) + "    ]\n}\n")
