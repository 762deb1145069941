#!/usr/bin/env bash
# Quick start on a fresh machine with only Node/npm: installs Bun and the dependencies, then runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v bun >/dev/null 2>&1 || npm install -g bun
bun install --frozen-lockfile
exec bun scripts/demo.ts "$@"
