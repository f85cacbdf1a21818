#!/usr/bin/env bash
# The kit issue's copy census: `duplicates` over the tools' sources (generated
# decoders left out), over the tests, and over bench/, each on its own, so
# the counts compare with the targets (src ≤ 6, tests ≤ 10 pairs that are not
# boilerplate). Usage: scripts/duplicates-census.sh [src|tests|bench] [--all]
# (--all keeps the boilerplate rows). Needs the `duplicates` command.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-src}
keep='!/ boilerplate/'
[[ ${2:-} == --all ]] && keep='1'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy() { # copy DIR as NAME, generated files left out (links would be skipped)
  mkdir -p "$tmp/$2"
  (cd "$1" && find . -type f ! -name '*.gen.ts' ! -path '*/node_modules/*' | cpio -pdm --quiet "$tmp/$2")
}
case $which in
  src) for d in packages/*/src; do copy "$d" "$(basename "$(dirname "$d")")"; done ;;
  tests) for d in packages/*/test test; do copy "$d" "$(echo "$d" | tr / _)"; done ;;
  bench) copy bench bench ;;
  *) echo "usage: $0 [src|tests|bench] [--all]" >&2; exit 2 ;;
esac
# the first line (the counts) always; then the rows not marked boilerplate
duplicates --repo "$tmp" --most 100 --seconds 120 | awk "NR == 1 || $keep"
