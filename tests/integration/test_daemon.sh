#!/usr/bin/env bash
# The daemon under faults of its own surroundings: a second daemon started
# for a host another one serves; the database file deleted or replaced
# under running daemons (PostgreSQL: the server ends the daemons' sessions,
# or stops and starts again); who may read the file (SQLite only); the
# database's filesystem full. The test makes its own user, group, tmpfs
# (and, on PostgreSQL, a server of its own), and removes them at exit.
. "$(dirname "$0")/lib.sh"
for tool in useradd groupadd runuser; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

DOWN=4
OPTS=(--service-down-time "$DOWN" --report-interval 1)
MAIN_DB=$DB
id_of() { sql "SELECT id FROM services WHERE host = '$1@lvm' AND deleted = 0"; }
instance_of() { sql "SELECT instance FROM worker_instances WHERE service_id = $1"; }

# try_start NAME [OPTIONS...]: a daemon that is expected to refuse to start;
# its exit code in TRY_RC ("running" when it was still up after 10 s).
try_start() {
	local name=$1 pid
	shift
	mkdir -p "$TEST_ROOT/$name"
	"$CINDERFS" -f --db "$DB" "$@" "$TEST_ROOT/$name" 2>"$TEST_ROOT/$name.log" &
	pid=$!
	if wait_until 10 sh -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"; then
		wait "$pid"; TRY_RC=$?
	else
		PIDS[$name]=$pid; TRY_RC=running
	fi
}

# wait_exit NAME SECONDS: wait for a daemon to end on its own; its exit
# code in EXIT_RC ("running" when it did not).
wait_exit() {
	local pid=${PIDS[$1]}
	if wait_until "$2" sh -c "! kill -0 $pid 2>/dev/null || grep -q '^State:.*Z' /proc/$pid/status"; then
		wait "$pid"; EXIT_RC=$?
		unset "PIDS[$1]"
	else
		EXIT_RC=running
	fi
}

###########################################################################
log "one daemon per host"
###########################################################################
start_worker n1 "${OPTS[@]}"
N1=$(id_of n1)
N1_PID=${PIDS[n1]}
INST1=$(instance_of "$N1")
check "the worker records its instance: pid, machine, boot" "$N1_PID $(hostname) $(cat /proc/sys/kernel/random/boot_id)" \
	"$(sql "SELECT pid || ' ' || hostname || ' ' || boot_id FROM worker_instances WHERE service_id = $N1")"
# An operation in flight on n1: the volume it is creating.
V1=f1f1f1f1-0000-4000-8000-000000000001
NOW=$(db_time)
sql "INSERT INTO volumes (id, status, attach_status, size, host, deleted, created_at)
	VALUES ('$V1', 'creating', 'detached', 1, 'n1@lvm', 0, '$NOW');
INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)
	VALUES ('Volume', '$V1', 'creating', $N1, '$NOW', '$NOW');"

try_start n1b --host n1@lvm "${OPTS[@]}"
check "a second daemon for n1@lvm refuses to start, exit 1" "1" "$TRY_RC"
check "naming the other daemon's pid, machine and last heartbeat" "yes" \
	"$(grep -qE "worker n1@lvm \(cinder-volume\) is already served by cinderfs pid $N1_PID on this machine \($(hostname), instance $INST1\), whose last heartbeat was [0-9]+ s ago; stop that daemon first" \
		"$TEST_ROOT/n1b.log" && echo yes || cat "$TEST_ROOT/n1b.log")"
check "it did not mount" "no" "$(mountpoint -q "$TEST_ROOT/n1b" && echo yes || echo no)"
check "n1's row is n1's: same id, same instance" "1 $INST1" \
	"$(sql "SELECT count(*) FROM services WHERE host = 'n1@lvm'") $(instance_of "$N1")"
check "n1's volume in flight is untouched" "creating creating" \
	"$(sql "SELECT v.status || ' ' || w.status FROM volumes v JOIN workers w ON w.resource_id = v.id WHERE v.id = '$V1'")"
check "n1 still serves" "true" "$(cat "$(mnt n1)/workers/$N1/is_up")"
sleep 1.5
check "and still beats as itself" "$INST1" "$(instance_of "$N1")"

kill -KILL "$N1_PID"; wait "$N1_PID" 2>/dev/null; unset "PIDS[n1]"
T0=$(date +%s%N)
start_worker n1 "${OPTS[@]}"
check "after a SIGKILL, n1 starts again at once (same machine, its process gone)" "yes" \
	"$([ $((($(date +%s%N) - T0) / 1000000000)) -lt "$DOWN" ] && echo yes || echo no)"
check "saying whose place it takes" "yes" \
	"$(grep -q "cinderfs pid $N1_PID (instance $INST1), which served it, is no longer running; taking its place" \
		"$TEST_ROOT/n1.log" && echo yes || cat "$TEST_ROOT/n1.log")"
check "with the same row" "$N1" "$(id_of n1)"
v1_error() { [ "$(sql "SELECT status FROM volumes WHERE id = '$V1'")" = error ]; }
check "and cleans what it left in flight, as at any start" "error" \
	"$(wait_until 5 v1_error; sql "SELECT status FROM volumes WHERE id = '$V1'")"

# A daemon on another machine: its boot differs; its heartbeat fresh, then old.
VER=$(sql "SELECT rpc_current_version FROM services WHERE id = $N1")
NOW=$(db_time)
M2=$(sql "INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, report_count,
		disabled, availability_zone, rpc_current_version, object_current_version)
	VALUES ('$NOW', '$NOW', 0, 'm2@lvm', 'cinder-volume',
		'cinder-volume', 1, 0, 'nova', '$VER', '$VER') RETURNING id")
sql "INSERT INTO worker_instances (service_id, instance, pid, hostname, boot_id, started_at, updated_at)
	VALUES ($M2, '0b0b0b0b-0000-4000-8000-000000000002', 4242,
	'node-b', '0c0c0c0c-0000-4000-8000-000000000003', '$NOW', '$NOW')"
try_start m2 --host m2@lvm "${OPTS[@]}"
check "a daemon for a host served from another machine refuses while its heartbeat is fresh" "1" "$TRY_RC"
check "naming that machine and when it may start" "yes" \
	"$(grep -qE "is already served by cinderfs pid 4242 on machine node-b \(instance 0b0b0b0b-0000-4000-8000-000000000002\), whose last heartbeat was [0-9]+ s ago; stop that daemon first, or, if that machine is gone, start this one once its heartbeat is older than service_down_time \($DOWN s\)" \
		"$TEST_ROOT/m2.log" && echo yes || cat "$TEST_ROOT/m2.log")"
sql "UPDATE services SET updated_at = '$(db_time '-1 minute')' WHERE id = $M2"
start_worker m2 "${OPTS[@]}"
check "once that heartbeat is old, it takes the row over" "$M2" "$(id_of m2)"
check "saying from whom" "yes" \
	"$(grep -q "taking it over from cinderfs pid 4242 on node-b" "$TEST_ROOT/m2.log" && echo yes || echo no)"

# A daemon stopped for longer than service_down_time loses its row to a
# new one; when it runs again, it sees that and stops instead of fighting.
OLD_PID=${PIDS[m2]}
kill -STOP "$OLD_PID"
sleep $((DOWN + 1))
PIDS[m2old]=$OLD_PID
unset "PIDS[m2]"
start_worker m2new --host m2@lvm "${OPTS[@]}"
INST_NEW=$(instance_of "$M2")
kill -CONT "$OLD_PID"
wait_exit m2old 5
check "the stopped daemon, continued, stops with status 1" "1" "$EXIT_RC"
check "saying who took its row" "yes" \
	"$(grep -q "worker $M2 was taken over by cinderfs pid ${PIDS[m2new]} on $(hostname) (instance $INST_NEW)" \
		"$TEST_ROOT/m2.log" && echo yes || tail -5 "$TEST_ROOT/m2.log")"
sleep 1.5
check "the new one keeps the row" "$INST_NEW true" \
	"$(instance_of "$M2") $(cat "$(mnt n1)/workers/$M2/is_up")"

###########################################################################
log "the database file replaced or deleted under running daemons"
###########################################################################
if only_on sqlite "the database file replaced or deleted: a PostgreSQL database is no file of the daemon's; the server's own faults follow"; then
	requests() { sqlite3 "$1" "SELECT count(*) FROM cleanup_requests"; }
	# write_refused DESCRIPTION MOUNT: a cleanup written there fails with EIO
	# (the write's own check) or ESTALE (a thread's connection opened after).
	write_refused() {
		local out
		if out=$(bash -c "echo 'host=nobody@lvm' > '$2/cleanup/request'" 2>&1); then
			not_ok "$1" "the write succeeded"
		elif [[ "$out" =~ (Input/output error|Stale file handle) ]]; then
			ok "$1 (${BASH_REMATCH[1]})"
		else
			not_ok "$1" "expected Input/output error or Stale file handle" "actual: $out"
		fi
	}
	# A long report interval: the write below, not the heartbeat, finds it.
	SLOW=(--service-down-time 60 --report-interval 30)

	use_db replaced
	start_worker r1 "${SLOW[@]}"
	check_cmd "a cleanup is accepted before" bash -c "echo 'host=nobody@lvm' > '$(mnt r1)/cleanup/request'"
	sqlite3 "$DB" ".backup '$TEST_ROOT/replaced/copy.db'"
	mv "$TEST_ROOT/replaced/copy.db" "$DB"
	write_refused "a cleanup written after the file was replaced fails" "$(mnt r1)"
	log "cleanup/error: $(cat "$(mnt r1)/cleanup/error" 2>&1)"
	check "the daemon logs why" "yes" \
		"$(grep -q "database file $DB was deleted or replaced while this daemon ran; restart it" \
			"$TEST_ROOT/r1.log" && echo yes || tail -3 "$TEST_ROOT/r1.log")"
	wait_exit r1 5
	check "and stops with status 1 within seconds" "1" "$EXIT_RC"
	check "nothing more was written to either file" "1" "$(requests "$DB")"
	check "the file there now is whole" "ok" "$(sqlite3 "$DB" 'PRAGMA integrity_check')"

	use_db deleted
	start_worker d1 "${SLOW[@]}"
	rm -f "$DB" "$DB-wal" "$DB-shm"
	write_refused "a cleanup written after the file was deleted fails" "$(mnt d1)"
	check "the daemon logs why" "yes" \
		"$(grep -q "database file $DB was deleted or replaced while this daemon ran; restart it" \
			"$TEST_ROOT/d1.log" && echo yes || tail -3 "$TEST_ROOT/d1.log")"
	wait_exit d1 5
	check "and stops with status 1 within seconds" "1" "$EXIT_RC"
	check "it made no new file" "no" "$([ -e "$DB" ] && echo yes || echo no)"

	# Nobody writes: the heartbeat finds it, every report_interval.
	use_db idle
	start_worker i1 "${OPTS[@]}"
	start_daemon ictl --control-only "${OPTS[@]}"
	sqlite3 "$DB" ".backup '$TEST_ROOT/idle/copy.db'"
	mv "$TEST_ROOT/idle/copy.db" "$DB"
	wait_exit i1 5
	check "an idle worker stops with status 1 on its next heartbeat" "1" "$EXIT_RC"
	wait_exit ictl 5
	check "so does a control-only daemon" "1" "$EXIT_RC"
	check "saying why" "yes yes" \
		"$(for n in i1 ictl; do grep -q "was deleted or replaced while this daemon ran; restart it" \
			"$TEST_ROOT/$n.log" && echo yes || echo no; done | xargs)"
	start_worker i1 "${OPTS[@]}"
	check "started again, it serves the file that is there now" "true" \
		"$(cat "$(mnt i1)/workers/$(id_of i1)/is_up")"
	DB=$MAIN_DB
fi

###########################################################################
log "the server ends the daemons' sessions, stops, and starts again under running daemons"
###########################################################################
# pg_write DESCRIPTION MOUNT: a cleanup written there is accepted.
pg_write() { check_cmd "$1" bash -c "echo 'host=nobody@lvm' > '$2/cleanup/request'"; }
running() { for n in "$@"; do kill -0 "${PIDS[$n]}" 2>/dev/null && echo yes || echo no; done | xargs; }
if only_on postgresql "the PostgreSQL server's faults (sessions ended, server stopped): the SQLite file's are above"; then
	pg_server_start pg
	use_db gone "${PG_SERVER_URL[pg]}"
	start_worker g1 "${OPTS[@]}"
	start_daemon gctl --control-only "${OPTS[@]}"
	G1=$(id_of g1)
	pg_write "a cleanup is accepted before" "$(mnt gctl)"

	ended=$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name <> 'cinderfs-test'")
	check "the server ended the daemons' sessions (pg_terminate_backend)" "yes" \
		"$([ "$ended" -ge 2 ] && echo yes || echo "no: $ended")"
	pg_write "a cleanup written right after is accepted: the daemon connects again" "$(mnt gctl)"
	pg_write "and through the worker's mount" "$(mnt g1)"
	sleep 2
	check "both daemons still run" "yes yes" "$(running g1 gctl)"
	check "the worker is up" "true" "$(cat "$(mnt gctl)/workers/$G1/is_up")"
	check "each accepted cleanup is recorded once" "3" "$(sql "SELECT count(*) FROM cleanup_requests")"

	pg_server_stop pg fast
	if out=$(bash -c "echo 'host=nobody@lvm' > '$(mnt gctl)/cleanup/request'" 2>&1); then
		not_ok "a cleanup written while the server is stopped fails" "the write succeeded"
	elif [[ "$out" =~ (Input/output error) ]]; then
		ok "a cleanup written while the server is stopped fails (${BASH_REMATCH[1]}, never ENOTCONN: the mount is alive)"
	else
		not_ok "a cleanup written while the server is stopped fails" \
			"expected Input/output error" "actual: $out"
	fi
	errfile=$(cat "$(mnt gctl)/cleanup/error" 2>&1)
	log "cleanup/error: $errfile"
	check "cleanup/error says the database cannot be reached" "yes" \
		"$(grep -qiE 'database.*(cannot be reached|connect|Connection refused)' <<<"$errfile" && echo yes || echo "no: $errfile")"
	check "the daemon logs why, naming the database" "yes" \
		"$(grep -qF "cannot connect to database $DB: connection to server at \"127.0.0.1\", port $(pg_url_part server "$DB" | sed 's/.*://') failed: Connection refused" \
			"$TEST_ROOT/gctl.log" && echo yes || tail -3 "$TEST_ROOT/gctl.log")"
	sleep 2 # heartbeats fail meanwhile, and must not take the daemons down
	check "both daemons still run while the server is stopped" "yes yes" "$(running g1 gctl)"
	check "the worker logs that its heartbeat failed" "yes" \
		"$(grep -q "heartbeat of worker $G1 failed" "$TEST_ROOT/g1.log" && echo yes || tail -3 "$TEST_ROOT/g1.log")"
	pg_server_start pg
	pg_write "once the server is back, a cleanup is accepted without a restart" "$(mnt gctl)"
	check "cleanup/error is empty again" "" "$(cat "$(mnt gctl)/cleanup/error")"
	check "the worker's heartbeat lands again" "yes" \
		"$(wait_until 5 grep -q 'landed again' "$TEST_ROOT/g1.log" && echo yes || tail -3 "$TEST_ROOT/g1.log")"
	check "and it reads up" "true" "$(cat "$(mnt gctl)/workers/$G1/is_up")"
	check "the refused cleanup was not recorded" "4" "$(sql "SELECT count(*) FROM cleanup_requests")"
	check "the database passes its integrity check" "ok" "$(db_integrity)"
	stop_daemon g1 TERM
	check "the worker stops cleanly afterwards" "0" "$STOP_RC"
	stop_daemon gctl TERM
	check "so does the control-only daemon" "0" "$STOP_RC"
	DB=$MAIN_DB
fi

###########################################################################
log "the database is root's and the admin group's"
###########################################################################
if only_on sqlite "the database file's owner, group and mode: PostgreSQL's files are the server's (its own user, a 0700 data directory), and who may connect is its roles' and pg_hba.conf's"; then
	suffix=$(basename "$TEST_ROOT" | tr -dc 'a-z0-9' | tail -c 8)
	GROUP=cfdadm$suffix
	USER_PLAIN=cfdusr$suffix
	groupadd "$GROUP"
	on_exit groupdel "$GROUP"
	useradd -M -N -s /usr/sbin/nologin "$USER_PLAIN"
	on_exit userdel "$USER_PLAIN"
	chmod 755 "$TEST_ROOT" # only the files' own modes keep the user out
	use_db perms
	chmod 755 "$TEST_ROOT/perms"
	OLD_UMASK=$(umask)
	umask 077
	start_worker p1 --admin-group "$GROUP" "${OPTS[@]}"
	umask "$OLD_UMASK"
	sql "INSERT INTO volumes (id, status, attach_status, size, deleted, created_at, provider_auth)
		VALUES ('a1a1a1a1-0000-4000-8000-000000000001', 'available', 'detached', 1, 0, '$(db_time)',
		'CHAP user secret-of-the-test')"
	check "a new database is mode 0640, root's and the admin group's, whatever the umask" \
		"root $GROUP -rw-r-----" "$(stat -c '%U %G %A' "$DB")"
	check "so are its -wal and -shm" "root $GROUP -rw-r----- root $GROUP -rw-r-----" \
		"$(stat -c '%U %G %A' "$DB-wal" "$DB-shm" | xargs)"
	out=$(runuser -u "$USER_PLAIN" -- sqlite3 "$DB" "SELECT provider_auth FROM volumes" 2>&1)
	check "another user cannot read it with sqlite3" "refused" \
		"$([[ $out != *secret-of-the-test* && $out == *"unable to open database"* ]] && echo refused || echo "$out")"
	check_fails "nor read its bytes" "Permission denied" runuser -u "$USER_PLAIN" -- cat "$DB" "$DB-wal"
	stop_daemon p1 TERM

	use_db open
	chmod 755 "$TEST_ROOT/open"
	sqlite3 "$DB" "PRAGMA journal_mode=WAL" >/dev/null
	chmod 0660 "$DB"
	start_worker o1 "${OPTS[@]}"
	check "an existing database more open than that is named in a warning, with its mode" "yes" \
		"$(grep -q "WARNING: database file $DB has mode 0660: its group may write it; it holds CHAP secrets" \
			"$TEST_ROOT/o1.log" && echo yes || cat "$TEST_ROOT/o1.log")"
	check "and left as it is" "-rw-rw----" "$(stat -c %A "$DB")"
	stop_daemon o1 TERM
	chmod 0604 "$DB"
	start_worker o1 "${OPTS[@]}"
	check "any bit for others is too" "yes" \
		"$(grep -q "WARNING: database file $DB has mode 0604: any user may use it" \
			"$TEST_ROOT/o1.log" && echo yes || cat "$TEST_ROOT/o1.log")"
	stop_daemon o1 TERM
	DB=$MAIN_DB
fi

###########################################################################
log "the database's filesystem full"
###########################################################################
# SQLite: the file on a small tmpfs. PostgreSQL: the test's own server,
# with the database's tables in a tablespace on that tmpfs (its catalogs
# and WAL stay on the server's disk, as a full disk for data only).
FULL=$TEST_ROOT/full
mkdir -p "$FULL"
if [ "$ENGINE" = sqlite ]; then
	mount -t tmpfs -o size=2m,mode=0755 cinderfs-test-full "$FULL" || { echo "FAIL: cannot mount a tmpfs"; exit 1; }
	on_exit umount -l "$FULL"
	DB=$FULL/state.db
	FULL_WORDS="database or disk is full"
	TRIES=20
else
	pg_server_start pg
	mount -t tmpfs -o "size=4m,mode=0700,uid=$(id -u postgres),gid=$(id -g postgres)" cinderfs-test-full "$FULL" ||
		{ echo "FAIL: cannot mount a tmpfs"; exit 1; }
	on_exit umount -l "$FULL"
	pg_sql "$(pg_url "${PG_SERVER_URL[pg]}" postgres cinderfs)" \
		-c "CREATE TABLESPACE cinderfs_full OWNER cinderfs LOCATION '$FULL'" ||
		{ echo "FAIL: cannot make a tablespace on $FULL"; exit 1; }
	use_db full "${PG_SERVER_URL[pg]}"
	sql "ALTER DATABASE $(pg_url_part db "$DB") SET default_tablespace = cinderfs_full"
	FULL_WORDS="No space left on device"
	# A row goes into a table's last page while it has room: more
	# requests fit before one needs a new page.
	TRIES=200
fi
start_worker f1 "${OPTS[@]}"
C=$(mnt f1)
check_cmd "a cleanup is accepted while there is room" bash -c "echo 'host=nobody@lvm' > '$C/cleanup/request'"
before=$(sql "SELECT count(*) FROM cleanup_requests")
# Fill it to the last block.
dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null
log "free: $(df --output=avail -B1 "$FULL" | tail -1) bytes"
# Accepted requests may still fit in the WAL's pages; one of a few must
# fail, and each that fails fails whole.
refused=""
for i in $(seq 1 "$TRIES"); do
	if ! out=$(bash -c "echo 'host=nobody$i@lvm' > '$C/cleanup/request'" 2>&1); then
		refused=$out
		break
	fi
done
log "refused with: $refused (after $((i - 1)) accepted)"
check "a cleanup written to a full database fails with ENOSPC" "yes" \
	"$([[ $refused == *"No space left on device"* ]] && echo yes || echo "no: $refused")"
check "cleanup/error says why" "yes" \
	"$(grep -q "$FULL_WORDS" "$C/cleanup/error" && echo yes || cat "$C/cleanup/error")"
accepted=$(sql "SELECT count(*) FROM cleanup_requests")
check "nothing of the refused one was written" "$((before + i - 1))" "$accepted"
check "no request without its jobs or result" "0" \
	"$(sql "SELECT count(*) FROM cleanup_requests r WHERE r.result_size = 0 OR NOT EXISTS \
		(SELECT 1 FROM cleanup_results p WHERE p.request_id = r.id)")"
check "the daemon still runs" "yes" "$(kill -0 "${PIDS[f1]}" 2>/dev/null && echo yes || echo no)"
sleep 2 # heartbeats fail meanwhile, and must not take the daemon down
check "still, after its heartbeats failed" "yes" "$(kill -0 "${PIDS[f1]}" 2>/dev/null && echo yes || echo no)"
rm -f "$FULL/filler"
check_cmd "once there is room again, a cleanup is accepted without a restart" \
	bash -c "echo 'host=nobody@lvm' > '$C/cleanup/request'"
check "and recorded" "$((accepted + 1))" "$(sql "SELECT count(*) FROM cleanup_requests")"
check "cleanup/error is empty again" "" "$(cat "$C/cleanup/error")"
check "the database passes its integrity check" "ok" "$(db_integrity)"
check "no 'cannot rollback' in the log" "0" "$(grep -c 'cannot rollback' "$TEST_ROOT/f1.log")"
check "no I/O error in the log" "0" "$(grep -c 'disk I/O error' "$TEST_ROOT/f1.log")"
stop_daemon f1 TERM
check "it stops cleanly afterwards" "0" "$STOP_RC"
DB=$MAIN_DB
