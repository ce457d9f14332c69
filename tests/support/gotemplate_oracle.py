"""Go's own text/template as an oracle: build the little Go program in go_oracle/ and run cases through it.

    oracle = GoOracle.build(tmp_dir)        # None when no Go toolchain is installed
    oracle.run([("{{.a}}", {"a": 1})])      # [{"output": "1"}] or [{"output": ..., "error": ...}]

`python -m support.gotemplate_oracle CASES.json GOLDEN.json` (from tests/) turns a
list of [template, data] (or a golden file's cases) into the golden file the unit
tests read, so they need no Go toolchain:
    python -m support.gotemplate_oracle data/gotemplate/go_cases.json data/gotemplate/go_cases.json
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "go_oracle", "main.go")


class GoOracle:
    def __init__(self, binary: str) -> None:
        self.binary = binary

    @classmethod
    def build(cls, out_dir: str) -> GoOracle | None:
        go = shutil.which("go")
        if go is None:
            return None
        binary = os.path.join(out_dir, "gotemplate-oracle")
        env = dict(os.environ, GO111MODULE="off", GOCACHE=os.path.join(out_dir, "gocache"), GOFLAGS="")
        subprocess.run([go, "build", "-o", binary, SOURCE], env=env, check=True, capture_output=True, timeout=300)
        return cls(binary)

    def run(self, cases: list[tuple[str, object]]) -> list[dict]:
        payload = json.dumps([{"template": t, "data": d} for t, d in cases])
        done = subprocess.run([self.binary], input=payload, capture_output=True, text=True, check=True, timeout=60)
        return json.loads(done.stdout)

    def version(self) -> str:
        return subprocess.run(["go", "version"], capture_output=True, text=True, check=True).stdout.strip()


def main(argv: list[str]) -> int:
    cases_path, golden_path = argv
    with open(cases_path) as f:
        loaded = json.load(f)
    # A list of [template, data], or a golden file to regenerate.
    if isinstance(loaded, dict):
        cases = [(c["template"], c["data"]) for c in loaded["cases"]]
    else:
        cases = [(c[0], c[1]) for c in loaded]
    build_dir = os.path.join(os.path.dirname(os.path.abspath(golden_path)), ".oracle-build")
    os.makedirs(build_dir, exist_ok=True)
    oracle = GoOracle.build(build_dir)
    if oracle is None:
        sys.stderr.write("no Go toolchain (go) on PATH\n")
        return 1
    results = oracle.run(cases)
    shutil.rmtree(build_dir)
    pairs = zip(cases, results, strict=True)
    lines = [json.dumps({"template": t, "data": d, **r}, ensure_ascii=False) for (t, d), r in pairs]
    with open(golden_path, "w") as f:
        # One case a line, so that a diff of the golden file shows which cases changed.
        f.write(f'{{"generator": {json.dumps(f"tests/support/go_oracle/main.go built with {oracle.version()}")},\n')
        f.write(' "cases": [\n  ' + ",\n  ".join(lines) + "\n]}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
