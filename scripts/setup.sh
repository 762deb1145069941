#!/usr/bin/env bash
# Set-up on a fresh Debian machine with only Node/npm: Bun, the npm dependencies from the lockfile
# and — as root — the Debian packages the tests use. Not root: says exactly what to install, and
# goes on (the demo needs none of them). Safe to run again: it installs only what is missing.
# Used by scripts/demo.sh (the README's first command) and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: procps for real processes, curl for the bash reference check,
# msmtp (alerts through the real binary), cron (the real crontab binary), chromium (the dashboard in
# a real browser), prometheus (promtool checks the alert rules), zsh and fish (completion scripts),
# man-db (the installed man page is rendered by man), libarchive-tools, busybox, python3 and pigz
# (the restore corpus: archives other tools wrote).
APT_PACKAGES=(procps curl msmtp cron chromium prometheus zsh fish man-db libarchive-tools busybox python3 pigz strace)

say() { printf 'setup: %s\n' "$*" >&2; }

if ! command -v bun >/dev/null 2>&1; then
  say "installing Bun (npm install -g bun)"
  npm install -g bun >/dev/null
fi
say "bun $(bun --version)"
bun install --frozen-lockfile >/dev/null
say "npm dependencies installed from bun.lock"

# dpkg knows what is installed even when PATH does not lead there
missing=()
for package in "${APT_PACKAGES[@]}"; do
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  else
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  say "Debian packages: all present (${APT_PACKAGES[*]})"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "not installed: ${missing[*]}; the tests that need them are skipped or fail. As root, run:"
  say "  apt-get install -y --no-install-recommends ${missing[*]}"
fi
