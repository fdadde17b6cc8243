#!/usr/bin/env bash
# The portal benchmark (bench/portal/README.md): builds the release binaries,
# installs wrk if it is missing, and measures each scale.
#
#   bench/portal/run.sh                      # 10000 and 1000000 customers
#   bench/portal/run.sh 10000                # one scale
#   bench/portal/run.sh 10000 -- --duration 10 --repeats 1
#
# Seeded data directories are kept in $BENCH_PORTAL_DATA (default
# ${CARGO_TARGET_DIR:-target}/bench-portal/N/) and reused when they hold N
# customers; seeding 1,000,000 takes about ten minutes and 15 GB of disk.
set -euo pipefail
cd "$(dirname "$0")/../.."

scales=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; extra=("$@"); break ;;
    *) scales+=("$1"); shift ;;
  esac
done
if [ ${#scales[@]} -eq 0 ]; then
  scales=(10000 1000000)
fi

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found: installing it (apt-get)"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y wrk
  else
    sudo apt-get update -qq && sudo apt-get install -y wrk
  fi
fi

target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p carfin -p carfin-bench-portal

data="${BENCH_PORTAL_DATA:-$target/bench-portal}"
mkdir -p "$data"
"$target/release/carfin-bench-portal" \
  --carfin "$target/release/carfin" \
  --data-root "$data" \
  --wrk "$(command -v wrk)" \
  ${extra[@]+"${extra[@]}"} \
  "${scales[@]}" 2>&1 | tee "$data/last-run.txt"
