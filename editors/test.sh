#!/usr/bin/env bash
# Tests the editor support: the VS Code grammar (always) and the Vim syntax (when vim is
# installed). Needs node 20+ and npm; CI calls it from .ci/run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

echo "== editors: VS Code grammar (vscode-tmgrammar-test)"
(
  cd vscode
  npm ci --no-audit --no-fund
  # A malformed assertion line can make the runner's parser backtrack for ages; the
  # pretest lint catches known shapes, the timeout catches the rest.
  timeout 600 npm test
)

echo "== editors: Vim syntax"
if command -v vim >/dev/null 2>&1; then
  vim/test/run.sh
else
  echo "SKIPPED: vim is not installed, so editors/vim/syntax/tfe.vim was not tested"
fi
