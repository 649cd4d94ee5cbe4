# Shared harness for the integration tests: real daemons on a real
# database, mounted in a temp dir, driven with the tools operators use.
#
# The engine is CINDERFS_TEST_ENGINE: sqlite (the default: a file in the
# test's directory) or postgresql (a database of the test's own, made on
# the server whose URL is CINDERFS_TEST_PG_URL: run the test under
# tests/with-postgresql, as `meson test --setup postgresql` does). $DB is
# what every daemon gets as --db, and `sql` runs SQL on it; both engines
# take the same SQL and print the same text.
#
# Everything a test makes lives under one `mktemp -d` (prefix
# cinderfs-test.), and the EXIT trap unmounts and removes it, on success
# and on failure alike; its PostgreSQL databases and servers are dropped
# and stopped. Nothing else is touched.

set -uo pipefail

: "${CINDERFS:?set CINDERFS to the cinderfs binary (meson test does)}"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: the integration tests mount FUSE filesystems and run as root"
	exit 77
fi
ENGINE=${CINDERFS_TEST_ENGINE:-sqlite}
case $ENGINE in
sqlite) DB_TOOLS=(sqlite3) ;;
postgresql)
	DB_TOOLS=(psql)
	: "${CINDERFS_TEST_PG_URL:?CINDERFS_TEST_ENGINE=postgresql needs a server: run the test under tests/with-postgresql (meson test --setup postgresql does)}"
	;;
*) echo "FAIL: CINDERFS_TEST_ENGINE is '$ENGINE': sqlite or postgresql"; exit 1 ;;
esac
for tool in "${DB_TOOLS[@]}" jq mountpoint fusermount3; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

TEST_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/cinderfs-test.XXXXXX")
PASSED=0
FAILED=0
# What failed, said again after the logs at exit: a CI summary that shows
# only the end of the output still names the check and why.
FAILURES=()
declare -A PIDS=()

log() { printf '# %s\n' "$*"; }

ok() {
	PASSED=$((PASSED + 1))
	printf 'ok %d - %s\n' "$((PASSED + FAILED))" "$1"
}

not_ok() {
	FAILED=$((FAILED + 1))
	printf 'not ok %d - %s\n' "$((PASSED + FAILED))" "$1"
	FAILURES+=("not ok $((PASSED + FAILED)) - $1")
	shift
	for line in "$@"; do
		printf '#   %s\n' "$line"
		FAILURES+=("  $line")
	done
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

# sql STATEMENTS...: run SQL on $DB; rows print unaligned, one a line,
# columns separated by '|', NULL as nothing, on both engines (psql runs
# each argument's statements as one transaction). Only SQL both engines
# take: times as literals from db_time, no PRAGMA, no sqlite_master.
sql() {
	if [ "$ENGINE" = sqlite ]; then
		sqlite3 -cmd '.timeout 5000' "$DB" "$@"
	else
		local stmt args=()
		for stmt; do args+=(-c "$stmt"); done
		pg_sql "$DB" "${args[@]}"
	fi
}

# db_time [WHEN]: the UTC time WHEN ('now' by default; '-1 hour', '-50
# minutes', as date -d takes them) as the daemon writes times
# ('2026-11-25 18:41:54.123456'), for SQL to take as a literal.
db_time() { date -u -d "${1:-now}" +'%Y-%m-%d %H:%M:%S.%6N'; }

# ms_between EARLIER LATER: milliseconds from one db_time-shaped time to
# the other; nothing (and false) when either is not a time.
ms_between() {
	local a b
	[ -n "$1" ] && [ -n "$2" ] && a=$(date -u -d "$1" +%s%N 2>/dev/null) &&
		b=$(date -u -d "$2" +%s%N 2>/dev/null) || return 1
	echo $(((b - a) / 1000000))
}

# seq_uuid PREFIX: SQL for the UUID PREFIX-0000-4000-8000-<i in 12 digits>,
# i a row of a WITH RECURSIVE n(i) (printf() is SQLite's, lpad() PG's).
seq_uuid() { printf "'%s-0000-4000-8000-' || substr(CAST(1000000000000 + i AS TEXT), 2)" "$1"; }

# db_connection: $DB as the config file's [database] connection.
db_connection() {
	if [ "$ENGINE" = sqlite ]; then printf 'sqlite:///%s\n' "$DB"; else printf '%s\n' "$DB"; fi
}

# only_on ENGINE WHAT: true on that engine; on the other, says which checks
# are skipped there and why (WHAT), and is false.
only_on() {
	[ "$ENGINE" = "$1" ] && return 0
	log "SKIP on $ENGINE: $2"
	return 1
}

# db_integrity: "ok" when the database is whole, else what is wrong.
# SQLite: PRAGMA integrity_check. PostgreSQL: amcheck (a superuser adds it
# to the test's database): every table's heap, and every B-tree index
# against its table (heapallindexed).
db_integrity() {
	if [ "$ENGINE" = sqlite ]; then
		sql 'PRAGMA integrity_check'
		return
	fi
	local su
	su=$(pg_superuser "$DB")
	[ -n "$su" ] || { echo "no superuser of $(pg_url_part server "$DB") may connect: amcheck needs one"; return 1; }
	pg_sql "$(pg_url "$DB" "$su" "$(pg_url_part db "$DB")")" -c 'CREATE EXTENSION IF NOT EXISTS amcheck' -c "DO \$\$
		DECLARE r record;
		BEGIN
			FOR r IN SELECT c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
				JOIN pg_am a ON a.oid = c.relam
				WHERE a.amname = 'btree' AND c.relpersistence = 'p' AND i.indisvalid AND i.indisready
			LOOP
				PERFORM bt_index_check(r.oid, true);
			END LOOP;
		END \$\$" -c "SELECT COALESCE(string_agg(c.relname || ' block ' || v.blkno || ': ' || v.msg, '; '), 'ok')
		FROM pg_class c CROSS JOIN LATERAL verify_heapam(c.oid) v
		WHERE c.relkind = 'r' AND c.relpersistence = 'p'" 2>&1
}

# start_daemon NAME [OPTIONS...]: a daemon in the foreground, mounted at
# $TEST_ROOT/NAME, its stderr in $TEST_ROOT/NAME.log.
start_daemon() {
	local name=$1
	shift
	mkdir -p "$TEST_ROOT/$name"
	"$CINDERFS" -f --db "$DB" "$@" "$TEST_ROOT/$name" 2>"$TEST_ROOT/$name.log" &
	PIDS[$name]=$!
	# The log's "serving" line, not just mountpoint: a stale mount left at
	# the same place is a mountpoint too. One that exited says so at once.
	serving_or_gone() {
		grep -q "serving .* at $TEST_ROOT/$1" "$TEST_ROOT/$1.log" ||
			! kill -0 "${PIDS[$1]}" 2>/dev/null || grep -q '^State:.*Z' "/proc/${PIDS[$1]}/status"
	}
	if ! wait_until 10 serving_or_gone "$name" ||
	   ! grep -q "serving .* at $TEST_ROOT/$name" "$TEST_ROOT/$name.log" ||
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

# cleanup/request's spec, its converge note aside: while the request's
# jobs run (or it would reach a row) its read has a "# cinderfs: " line
# more (test_converge.sh tests that line).
request_spec() { grep -v '^# cinderfs: ' "$1"; }

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

# listen_port: a TCP port for a server of the run's own, outside the
# kernel's ephemeral range (ip_local_port_range), where nothing listens
# now. A port in that range can be taken, while its server is down (a
# restart), as the local end of any outgoing connection, a database
# client's, say: the server then cannot listen on it again until that
# connection ends.
listen_port() {
	local lo hi base span port
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	if [ $((65535 - hi)) -ge 1000 ]; then
		base=$((hi + 1)) span=$((65535 - hi))
	elif [ "$lo" -gt 21000 ]; then
		base=20000 span=$((lo - 20000))
	else
		base=40000 span=20000 # no room outside it: any port, as before
	fi
	for _ in $(seq 1 50); do
		port=$((base + RANDOM % span))
		ss -Htln "sport = :$port" | grep -q . || break
	done
	echo "$port"
}

# start_tgtd: a tgtd of this run's own: its own control port (its socket
# /var/run/tgtd/socket.$TGT_CONTROL_PORT, removed again at exit) and an
# iSCSI portal on loopback ($ISCSI_PORT, outside the ephemeral range, so
# that a restart finds it free). A system tgtd is never touched.
start_tgtd() {
	: "${TGT_CONTROL_PORT:=$((10000 + RANDOM % 20000))}" # tgtd takes at most 32767
	: "${ISCSI_PORT:=$(listen_port)}"
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

###########################################################################
# PostgreSQL
###########################################################################
PG_BIN=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
declare -A PG_SERVER_PORT=()

# pg_sql URL ARGS...: psql on URL, printing as sql does. Its sessions are
# named cinderfs-test (application_name), so that they can be told from
# the daemons'.
pg_sql() {
	local url=$1
	shift
	PGAPPNAME=cinderfs-test PGCONNECT_TIMEOUT=10 PGOPTIONS='-c client_min_messages=warning' \
		psql -X -q -At -F'|' -v ON_ERROR_STOP=1 "$url" "$@"
}

# pg_url_part PART URL: user, server (host:port), db or params (?...) of
# a postgresql:// URL.
pg_url_part() {
	[[ $2 =~ ^postgres(ql)?://(([^@/]*)@)?([^/?]*)(/([^?]*))?(\?.*)?$ ]] ||
		{ echo "not a postgresql:// URL: $2" >&2; return 1; }
	case $1 in
	user) printf '%s\n' "${BASH_REMATCH[3]%%:*}" ;;
	server) printf '%s\n' "${BASH_REMATCH[4]}" ;;
	db) printf '%s\n' "${BASH_REMATCH[6]}" ;;
	params) printf '%s\n' "${BASH_REMATCH[7]}" ;;
	esac
}

# pg_url BASE USER DATABASE: BASE's server, as USER, database DATABASE.
pg_url() {
	local server params
	server=$(pg_url_part server "$1") && params=$(pg_url_part params "$1") || return 1
	printf 'postgresql://%s@%s/%s%s\n' "$2" "$server" "$3" "$params"
}

# pg_superuser URL: a superuser of URL's server that may connect (trust):
# postgres, or URL's own user; nothing when there is none.
pg_superuser() {
	local who
	for who in postgres "$(pg_url_part user "$1")"; do
		if [ "$(pg_sql "$(pg_url "$1" "$who" "$(pg_url_part db "$1")")" \
			-c 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user' 2>/dev/null)" = t ]; then
			echo "$who"
			return 0
		fi
	done
}

# use_db NAME [SERVER_URL]: daemons started from here on, and sql, use a
# new, empty database of their own: $TEST_ROOT/NAME/state.db, or database
# cinderfs_test_<run>_NAME on the PostgreSQL server of SERVER_URL
# (CINDERFS_TEST_PG_URL by default), owned by that URL's user and dropped
# at exit.
use_db() {
	if [ "$ENGINE" = sqlite ]; then
		mkdir -p "$TEST_ROOT/$1"
		DB=$TEST_ROOT/$1/state.db
		return 0
	fi
	local base=${2:-$CINDERFS_TEST_PG_URL} name owner admin su
	name=cinderfs_test_$(basename "$TEST_ROOT" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z' | tail -c 6)_$$_$1
	owner=$(pg_url_part user "$base")
	su=$(pg_superuser "$base")
	admin=$(pg_url "$base" "${su:-$owner}" "$(pg_url_part db "$base")")
	if ! pg_sql "$admin" -c "CREATE DATABASE \"$name\" OWNER \"$owner\""; then
		echo "FAIL: cannot create database $name on $(pg_url_part server "$base")"
		exit 1
	fi
	# A private server's databases go with it.
	[ "$base" != "$CINDERFS_TEST_PG_URL" ] || on_exit pg_drop_db "$admin" "$name"
	DB=$(pg_url "$base" "$owner" "$name")
}
pg_drop_db() { pg_sql "$1" -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)"; }

# pg_server_start NAME: a PostgreSQL server of the test's own, in
# $TEST_ROOT/NAME: made on the first call (initdb as postgres, trust on
# 127.0.0.1 only, role and database cinderfs as tests/with-postgresql
# makes them, a free port), started again on later calls when it is
# stopped, on the same port. Its URL is PG_SERVER_URL[NAME]; it is stopped at exit.
declare -A PG_SERVER_URL=()
pg_server_start() {
	local name=$1 dir=$TEST_ROOT/$1 port try
	if [ -z "${PG_SERVER_PORT[$name]:-}" ]; then
		command -v runuser >/dev/null || { echo "FAIL: runuser is not installed"; exit 1; }
		chmod o+x "$TEST_ROOT" # the server runs as postgres
		mkdir -p "$dir"
		chown postgres: "$dir"
		chmod 700 "$dir"
		ln -sf "$dir/server.log" "$TEST_ROOT/$name.log"
		# As tests/with-postgresql makes its server: ICU's en-US where
		# there is ICU, room for every daemon's pool of connections.
		if ! runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync \
			-E UTF8 --locale=C.UTF-8 --locale-provider=icu --icu-locale=en-US >"$dir/initdb.log" 2>&1 &&
		   ! { rm -rf "$dir/data"; runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres \
			-A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; }; then
			echo "FAIL: initdb of $name"; cat "$dir/initdb.log"; exit 1
		fi
		printf '%s\n' 'max_connections = 300' "log_line_prefix = '%m [%p] %q%u@%d '" |
			runuser -u postgres -- tee -a "$dir/data/postgresql.conf" >/dev/null
		on_exit pg_server_stop "$name" immediate
		for try in 1 2 3 4 5; do
			port=$(listen_port)
			PG_SERVER_PORT[$name]=$port
			pg_ctl_start "$name" && break
			PG_SERVER_PORT[$name]=
		done
		[ -n "${PG_SERVER_PORT[$name]}" ] || { echo "FAIL: $name did not start"; cat "$dir/server.log"; exit 1; }
		PG_SERVER_URL[$name]=postgresql://cinderfs@127.0.0.1:${PG_SERVER_PORT[$name]}/cinderfs
		pg_sql "postgresql://postgres@127.0.0.1:${PG_SERVER_PORT[$name]}/postgres" \
			-c 'CREATE ROLE cinderfs LOGIN' -c 'CREATE DATABASE cinderfs OWNER cinderfs' ||
			{ echo "FAIL: cannot make role cinderfs on $name"; exit 1; }
	elif ! runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null; then
		pg_ctl_start "$name" || { echo "FAIL: $name did not start again"; tail -20 "$dir/server.log"; exit 1; }
	fi
}
pg_ctl_start() {
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TEST_ROOT/$1/data" -l "$TEST_ROOT/$1/server.log" -w -t 30 \
		-o "-p ${PG_SERVER_PORT[$1]} -k $TEST_ROOT/$1 -c listen_addresses=127.0.0.1" start >/dev/null
}

# pg_server_stop NAME [MODE]: stop it (pg_ctl's mode: fast by default).
pg_server_stop() {
	[ -e "$TEST_ROOT/$1/data/postmaster.pid" ] || return 0
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TEST_ROOT/$1/data" -m "${2:-fast}" -w -t 30 stop >/dev/null
}

# db_in_tx PID: whether the daemon PID has a transaction open on $DB
# (SQLite: holds the write lock; PostgreSQL: any of its sessions, found by
# their client ports, is inside a transaction).
db_in_tx() {
	if [ "$ENGINE" = sqlite ]; then
		! sqlite3 -cmd '.timeout 300' "$DB" "BEGIN IMMEDIATE; ROLLBACK;" >/dev/null 2>&1
		return
	fi
	local ports
	ports=$(ss -Htnp state established "dport = :$(pg_url_part server "$DB" | sed 's/.*://')" |
		grep -F "pid=$1," | awk '{ n = split($3, a, ":"); print a[n] }' | paste -sd, -)
	[ -n "$ports" ] || return 1
	[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE client_port IN ($ports) AND xact_start IS NOT NULL")" != 0 ]
}

# make_test_users TAG: a group GROUP (the daemon's --admin-group), a member
# of it USER_ADMIN and a user outside it USER_PLAIN, named after TAG and
# this run (never a name the machine had), removed on exit; the run's
# directory is made reachable to them (the mountpoints are in it). `as USER
# CMD...` runs CMD as one of them.
make_test_users() {
	local suffix
	suffix=$(basename "$TEST_ROOT" | tr -dc 'a-z0-9' | tail -c 8)
	GROUP=cfs$1$suffix
	USER_ADMIN=cfs$1${suffix}a
	USER_PLAIN=cfs$1${suffix}p
	groupadd "$GROUP"
	on_exit groupdel "$GROUP"
	useradd -M -N -s /usr/sbin/nologin -G "$GROUP" "$USER_ADMIN"
	on_exit userdel "$USER_ADMIN"
	useradd -M -N -s /usr/sbin/nologin "$USER_PLAIN"
	on_exit userdel "$USER_PLAIN"
	chmod 755 "$TEST_ROOT"
}
as() { local who=$1; shift; runuser -u "$who" -- "$@"; }

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
	if [ "$FAILED" -ne 0 ]; then
		echo "# failed in $(basename "$0"):"
		printf '#   %s\n' "${FAILURES[@]}" | cut -c1-400
	fi
	echo "$PASSED passed, $FAILED failed"
	if [ "$FAILED" -ne 0 ]; then exit 1; fi
	exit "$status"
}
trap cleanup EXIT
# A test stopped from outside (meson's timeout sends SIGTERM) still cleans up.
trap 'exit 143' TERM INT

# The test's database.
if [ "$ENGINE" = sqlite ]; then
	DB=$TEST_ROOT/state.db
else
	use_db main
fi
