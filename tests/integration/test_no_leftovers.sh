#!/usr/bin/env bash
# Runs last: the integration suite left no mount and no temp dir behind.
# It looks only for what the suite makes (the cinderfs-test. prefix; on
# PostgreSQL, the cinderfs_test_ databases on the server it was given).
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: runs as root"; exit 77; fi
tmp=${TMPDIR:-/tmp}
passed=0 failed=0
# none WHAT FOUND: FOUND is empty
none() {
	if [ -z "$2" ]; then
		passed=$((passed + 1)); echo "ok $((passed + failed)) - no test $1 left"
	else
		failed=$((failed + 1)); echo "not ok $((passed + failed)) - $1 left: $2"
	fi
}
none mount "$(awk -v p="$tmp/cinderfs-test." 'index($2, p) == 1 {print $2}' /proc/mounts)"
none directory "$(find "$tmp" -maxdepth 1 -name 'cinderfs-test.*' 2>/dev/null)"
none "loop device" "$(losetup -a 2>/dev/null | grep -F "$tmp/cinderfs-test." || true)"
# A PostgreSQL server a test started of its own runs from its directory.
none "PostgreSQL server" "$(pgrep -a -f -- "-D $tmp/cinderfs-test\." || true)"
if [ "${CINDERFS_TEST_ENGINE:-sqlite}" = postgresql ] && [ -n "${CINDERFS_TEST_PG_URL:-}" ]; then
	none database "$(psql -X -q -At -v ON_ERROR_STOP=1 "$CINDERFS_TEST_PG_URL" \
		-c "SELECT datname FROM pg_database WHERE datname LIKE 'cinderfs\_test\_%'" 2>&1)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
