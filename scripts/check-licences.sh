#!/usr/bin/env bash
# No GPL or AGPL licensed runtime dependency (LGPL is allowed): the licences of what `uv sync --no-dev`
# installs, in a throwaway environment (not .venv), read by pip-licenses. `make licences`; pr-validation
# runs it.
set -euo pipefail
uv=${UV:-uv}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# shellcheck disable=SC2086 # UV may be "python3 -m uv"
$uv run --isolated --frozen --no-dev --with pip-licenses==5.5.5 \
  pip-licenses --from=mixed --format=json --output-file "$out" >/dev/null
jq -r '.[] | "\(.Name) \(.Version): \(.License)"' "$out"
copyleft='(^|[^L])GPL|Affero'
if jq -e --arg re "$copyleft" '[.[] | select(.License | test($re; "i"))] | length > 0' "$out" >/dev/null; then
  echo "GPL or AGPL licensed runtime dependency:" >&2
  jq -r --arg re "$copyleft" '.[] | select(.License | test($re; "i")) | "\(.Name): \(.License)"' "$out" >&2
  exit 1
fi
