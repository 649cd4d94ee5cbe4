# Shared harness for the integration tests: real daemons on a real SQLite
# file, mounted in a temp dir, driven with the tools operators use.
#
# Everything a test makes lives under one `mktemp -d` (prefix
# cinderfs-test.), and the EXIT trap unmounts and removes it, on success
# and on failure alike. Nothing outside that directory is touched.

set -uo pipefail

: "${CINDERFS:?set CINDERFS to the cinderfs binary (meson test does)}"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: the integration tests mount FUSE filesystems and run as root"
	exit 77
fi
for tool in sqlite3 jq mountpoint fusermount3; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

TEST_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/cinderfs-test.XXXXXX")
DB=$TEST_ROOT/state.db
PASSED=0
FAILED=0
declare -A PIDS=()

log() { printf '# %s\n' "$*"; }

ok() {
	PASSED=$((PASSED + 1))
	printf 'ok %d - %s\n' "$((PASSED + FAILED))" "$1"
}

not_ok() {
	FAILED=$((FAILED + 1))
	printf 'not ok %d - %s\n' "$((PASSED + FAILED))" "$1"
	shift
	for line in "$@"; do printf '#   %s\n' "$line"; done
}

# check DESCRIPTION EXPECTED ACTUAL
check() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "actual:   $3"; fi
}

# check_cmd DESCRIPTION COMMAND...: the command succeeds
check_cmd() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what" "command: $*" "output: $out"; fi
}

# check_fails DESCRIPTION EXPECTED_MESSAGE COMMAND...: fails, saying it
check_fails() {
	local what=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		not_ok "$what" "command succeeded but must fail: $*"
	elif [[ "$out" != *"$want"* ]]; then
		not_ok "$what" "expected a message with: $want" "actual: $out"
	else
		ok "$what"
	fi
}

# wait_until SECONDS COMMAND...: poll every 50 ms; 0 when it held in time
wait_until() {
	local deadline=$(($(date +%s%N) + ${1%.*} * 1000000000)) 
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# elapsed_ms COMMAND...: run until it holds (up to 5 s), print how long it took
elapsed_ms() {
	local start=$(date +%s%N)
	wait_until 5 "$@" || { echo timeout; return; }
	echo $((($(date +%s%N) - start) / 1000000))
}

sql() { sqlite3 -cmd '.timeout 5000' "$DB" "$@"; }

# start_daemon NAME [OPTIONS...]: a daemon in the foreground, mounted at
# $TEST_ROOT/NAME, its stderr in $TEST_ROOT/NAME.log.
start_daemon() {
	local name=$1
	shift
	mkdir -p "$TEST_ROOT/$name"
	"$CINDERFS" -f --db "$DB" "$@" "$TEST_ROOT/$name" 2>"$TEST_ROOT/$name.log" &
	PIDS[$name]=$!
	# The log's "serving" line, not just mountpoint: a stale mount left at
	# the same place is a mountpoint too.
	if ! wait_until 10 grep -q "serving .* at $TEST_ROOT/$name" "$TEST_ROOT/$name.log" ||
	   ! wait_until 5 mountpoint -q "$TEST_ROOT/$name"; then
		echo "FAIL: $name did not mount; its log:"
		cat "$TEST_ROOT/$name.log"
		exit 1
	fi
}

# start_worker NAME [OPTIONS...]: a worker with host NAME@lvm.
start_worker() {
	local name=$1
	shift
	start_daemon "$name" --host "$name@lvm" "$@"
}

# stop_daemon NAME SIGNAL: send the signal, wait up to 10 s for the exit,
# and leave the exit code in STOP_RC ("hung" after a SIGKILL when it did
# not end). Not in $(...): wait works only in the shell that started it.
stop_daemon() {
	local pid=${PIDS[$1]}
	kill "-$2" "$pid"
	if wait_until 10 sh -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"; then
		wait "$pid"; STOP_RC=$?
	else
		kill -KILL "$pid"; wait "$pid"; STOP_RC=hung
	fi
	unset "PIDS[$1]"
}

# Commands run at exit, last registered first: what a test set up outside
# its directory (a loop device, a volume group) is taken down again.
CLEANUP_HOOKS=()
on_exit() { CLEANUP_HOOKS=("$*" "${CLEANUP_HOOKS[@]}"); }

# make_vg SIZE_MB: a loop device over a file in TEST_ROOT, and on it a
# volume group of this run's own (VG), with an LVM configuration of its own
# (LVM_SYSTEM_DIR, exported): activation off (this kernel may have no
# device-mapper), only our loop device visible, no backups, locks in
# TEST_ROOT. Nothing of the host's LVM is touched.
make_vg() {
	local img=$TEST_ROOT/vg.img
	truncate -s "${1}M" "$img"
	LOOP=$(losetup -f --show "$img") || { echo "FAIL: no loop device"; exit 1; }
	on_exit losetup -d "$LOOP"
	VG=cinderfs-test-$(basename "$TEST_ROOT" | tr -dc 'a-zA-Z0-9')
	export LVM_SYSTEM_DIR=$TEST_ROOT/lvm
	mkdir -p "$LVM_SYSTEM_DIR" "$TEST_ROOT/lvm-lock"
	cat >"$LVM_SYSTEM_DIR/lvm.conf" <<CONF
global {
    activation = 0
    use_lvmlockd = 0
    locking_dir = "$TEST_ROOT/lvm-lock"
}
devices {
    obtain_device_list_from_udev = 0
    global_filter = [ "a|^$LOOP\$|", "r|.*|" ]
    use_devicesfile = 0
}
activation {
    udev_sync = 0
    udev_rules = 0
    monitoring = 0
}
backup {
    backup = 0
    archive = 0
}
CONF
	export LVM_SUPPRESS_FD_WARNINGS=1
	pvcreate -q "$LOOP" >/dev/null 2>&1 || { echo "FAIL: pvcreate $LOOP"; exit 1; }
	on_exit pvremove -qq -f "$LOOP"
	vgcreate -q "$VG" "$LOOP" >/dev/null 2>&1 || { echo "FAIL: vgcreate $VG"; exit 1; }
	on_exit vgremove -qq -f "$VG"
}

# start_tgtd: a tgtd of this run's own: its own control port (its socket
# /var/run/tgtd/socket.$TGT_CONTROL_PORT, removed again at exit) and an
# iSCSI portal on loopback ($ISCSI_PORT). A system tgtd is never touched.
start_tgtd() {
	: "${TGT_CONTROL_PORT:=$((10000 + RANDOM % 20000))}" # tgtd takes at most 32767
	: "${ISCSI_PORT:=$((40000 + RANDOM % 20000))}"
	export TGT_CONTROL_PORT ISCSI_PORT
	tgtd -f -C "$TGT_CONTROL_PORT" --iscsi "portal=127.0.0.1:$ISCSI_PORT" \
		>>"$TEST_ROOT/tgtd.out" 2>&1 &
	TGTD_PID=$!
	if ! wait_until 10 tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode target --op show; then
		echo "FAIL: tgtd did not start"; cat "$TEST_ROOT/tgtd.out"; exit 1
	fi
	if [ -z "${TGTD_HOOKED:-}" ]; then
		TGTD_HOOKED=1
		on_exit stop_tgtd
	fi
}

# tgtd ignores SIGTERM: it stops when asked through its control socket
# (refused while it serves targets), else it is killed.
stop_tgtd() {
	[ -n "${TGTD_PID:-}" ] || return 0
	tgtadm -C "$TGT_CONTROL_PORT" --lld iscsi --mode system --op delete >/dev/null 2>&1
	if ! wait_until 3 sh -c "! kill -0 $TGTD_PID 2>/dev/null"; then
		kill -KILL "$TGTD_PID" 2>/dev/null
	fi
	wait "$TGTD_PID" 2>/dev/null
	TGTD_PID=
	rm -f "/var/run/tgtd/socket.$TGT_CONTROL_PORT" "/var/run/tgtd/socket.$TGT_CONTROL_PORT.lock"
}

mnt() { printf '%s/%s' "$TEST_ROOT" "$1"; }

# A sanitizer or UBSan report in any daemon's log fails the test.
check_logs() {
	local f
	for f in "$TEST_ROOT"/*.log; do
		[ -e "$f" ] || continue
		if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f"; then
			not_ok "no sanitizer report in $(basename "$f")" "$(grep -m5 -E 'Sanitizer|runtime error' "$f")"
		fi
	done
}

cleanup() {
	local status=$? name m
	for name in "${!PIDS[@]}"; do
		# CONT too: a test may have left one stopped (SIGSTOP).
		kill -TERM "${PIDS[$name]}" 2>/dev/null
		kill -CONT "${PIDS[$name]}" 2>/dev/null
	done
	for name in "${!PIDS[@]}"; do
		wait "${PIDS[$name]}" 2>/dev/null
	done
	check_logs
	for hook in "${CLEANUP_HOOKS[@]}"; do
		$hook >/dev/null 2>&1 || echo "# cleanup: '$hook' failed"
	done
	# Whatever is still mounted under our directory (a daemon that did not
	# get to unmount) is detached: only our own mounts, found by prefix.
	while read -r _ m _; do
		case "$m" in "$TEST_ROOT"/*) umount -l "$m" 2>/dev/null ;; esac
	done </proc/mounts
	if [ "$FAILED" -ne 0 ] || [ "$status" -ne 0 ]; then
		for f in "$TEST_ROOT"/*.log; do
			[ -e "$f" ] || continue
			echo "# --- $(basename "$f")"
			sed 's/^/#   /' "$f" | tail -40
		done
	fi
	rm -rf "$TEST_ROOT"
	echo "$PASSED passed, $FAILED failed"
	if [ "$FAILED" -ne 0 ]; then exit 1; fi
	exit "$status"
}
trap cleanup EXIT
# A test stopped from outside (meson's timeout sends SIGTERM) still cleans up.
trap 'exit 143' TERM INT
