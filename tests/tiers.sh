#!/usr/bin/env bash
# `make test`: the whole suite as two pytest processes at once, one per CPU: the unit, browser, conformance,
# durability and stories tiers in front, the integration tier beside them, printed when it ends. Both share one
# trained classifier and one demo city (JIESU_TEST_SHARED, tests/conftest.py made_once): trained and seeded once
# per run. One CPU: one process.
# Arguments go to both (`tests/tiers.sh -x`); the exit status fails when either fails.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}
if [ "$(nproc)" -lt 2 ]; then
  exec "$PYTEST" "$@"
fi
shared=$(mktemp -d -t jiesu-tests-XXXXXX)
trap 'rm -rf "$shared"' EXIT
export JIESU_TEST_SHARED=$shared
start=$(date +%s)
# The integration tier alone takes as long as all the others; these of its files go with the others, so that
# both processes end at about the same time (measured: `make test` prints each process's time).
MOVED=(tests/integration/test_simulator.py tests/integration/test_backup.py tests/integration/test_public_pages.py)
ignored=()
for f in "${MOVED[@]}"; do ignored+=("--ignore=$f"); done
( "$PYTEST" -q tests/integration "${ignored[@]}" "$@" > "$shared/integration.log" 2>&1; status=$?
  echo "$(( $(date +%s) - start ))" > "$shared/integration.seconds"; exit $status ) &
integration=$!
others=()
for d in tests/*/; do case "$d" in tests/integration/|tests/__*) ;; *) others+=("${d%/}") ;; esac; done
"$PYTEST" "${others[@]}" "${MOVED[@]}" "$@"
others_status=$?
others_seconds=$(( $(date +%s) - start ))
wait "$integration"
integration_status=$?
echo
echo "================ the integration tier (but ${MOVED[*]}), run alongside ================"
cat "$shared/integration.log"
echo "make test: $(( $(date +%s) - start )) s on $(nproc) CPUs; exit $others_status after $others_seconds s (unit, e2e," \
     "conformance, durability, stories, ${#MOVED[@]} integration files) and $integration_status after" \
     "$(cat "$shared/integration.seconds" 2>/dev/null || echo '?') s (the rest of integration)"
[ "$others_status" -eq 0 ] && [ "$integration_status" -eq 0 ]
