#!/usr/bin/env bash
# The test command of the README: installs the test peers (see
# setup-peers.sh), runs every Go test, then each fuzz target for a bounded
# time. FUZZTIME (default 10s per target) bounds the fuzzing; FUZZTIME=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-peers.sh
go vet ./...
go test -count=1 -timeout 25m ./...

fuzztime=${FUZZTIME:-10s}
if [ "$fuzztime" != 0 ]; then
  # Every Fuzz* function, one at a time (go test -fuzz takes one target per run).
  grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
    pkg=./$(dirname "${f#./}")
    for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
      echo "fuzz: $pkg $fn ($fuzztime)"
      if ! out=$(go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
        echo "$out"
        exit 1
      fi
    done
  done
  echo "fuzz: all targets ran without a failure"
fi
