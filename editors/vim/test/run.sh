#!/usr/bin/env bash
# Checks editors/vim/syntax/tfe.vim (and ftdetect) with a headless vim: see check.vim.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"   # editors/
vim_bin="${VIM_BIN:-vim}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
"$vim_bin" -Nu NONE -i NONE -es \
  --cmd "let g:tfe_root = '$root' | let g:tfe_out = '$out'" \
  -S "$here/check.vim" </dev/null || status=$?
if [ ! -s "$out" ]; then
  echo "vim: the check script wrote nothing (exit $status)" >&2
  exit 1
fi
cat "$out"
exit "$status"
