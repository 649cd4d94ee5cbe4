#!/usr/bin/env bash
# Runs last: the integration suite left no mount and no temp dir behind.
# It looks only for what the suite makes (the cinderfs-test. prefix).
set -u
if [ "$(id -u)" != 0 ]; then echo "SKIP: runs as root"; exit 77; fi
tmp=${TMPDIR:-/tmp}
mounts=$(awk -v p="$tmp/cinderfs-test." 'index($2, p) == 1 {print $2}' /proc/mounts)
dirs=$(find "$tmp" -maxdepth 1 -name 'cinderfs-test.*' 2>/dev/null)
loops=$(losetup -a 2>/dev/null | grep -F "$tmp/cinderfs-test." || true)
passed=0 failed=0
if [ -z "$mounts" ]; then passed=$((passed + 1)); echo "ok 1 - no test mount left"; else failed=$((failed + 1)); echo "not ok 1 - mounts left: $mounts"; fi
if [ -z "$dirs" ]; then passed=$((passed + 1)); echo "ok 2 - no test directory left"; else failed=$((failed + 1)); echo "not ok 2 - directories left: $dirs"; fi
if [ -z "$loops" ]; then passed=$((passed + 1)); echo "ok 3 - no test loop device left"; else failed=$((failed + 1)); echo "not ok 3 - loop devices left: $loops"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
