#!/usr/bin/env bash
# Quick start on a fresh machine with only Node/npm: set up (Bun, dependencies, Debian packages when
# root), then the demo. It exits when done and leaves nothing running; --keep leaves it running.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec bun scripts/demo.ts "$@"
