"""Validates every document of YAML files against one JSON Schema (Draft 2020-12).

    python3 tests/deploy/validate_with_schema.py SCHEMA.json FILE.yaml...

For custom resources, which kubernetes-validate does not know (it only warns about them). Prints
one line per document and every error with its path; exits 1 if any document is invalid, a file
holds no document, or the YAML does not parse. Uses jsonschema and PyYAML, both installed with
kubernetes-validate.
"""

import json
import sys

import jsonschema
import yaml


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failed = False
    for filename in argv[2:]:
        try:
            with open(filename) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            print("ERROR %s is not valid YAML: %s" % (filename, e))
            failed = True
            continue
        if not docs:
            print("ERROR %s holds no document" % filename)
            failed = True
        for i, doc in enumerate(docs):
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            for e in errors:
                path = ".".join(str(p) for p in e.absolute_path) or "(document)"
                print("ERROR %s document %d: %s: %s" % (filename, i, path, e.message))
            if errors:
                failed = True
            else:
                print("INFO %s document %d passed against %s" % (filename, i, argv[1]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
