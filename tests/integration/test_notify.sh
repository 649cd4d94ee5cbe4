#!/usr/bin/env bash
# Wake-ups instead of polling, on PostgreSQL: a request accepted by one
# daemon wakes the worker that owes the work (LISTEN/NOTIFY), and a
# listener whose session the server ends reconnects and reads everything
# anew. And the connections a daemon keeps stay within the documented
# budget.
. "$(dirname "$0")/lib.sh"

if ! only_on postgresql "notifications are PostgreSQL's LISTEN/NOTIFY; on SQLite the threads poll (250 ms)"; then
	exit 77
fi

start_worker n1 -d --cluster c1@lvm --service-down-time 30 --report-interval 1
start_daemon ctl -d --control-only
M=$(mnt ctl)

# A dead member of c1 with a stuck volume: its cleanup goes to n1.
PAST=$(db_time '-10 minutes')
seed() {
	local v=$1
	sql "INSERT INTO volumes (id, status, attach_status, size, host, deleted, created_at) VALUES
		('$v', 'creating', 'detached', 1, 'n9@lvm', 0, '$PAST');
	INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES
		('Volume', '$v', 'creating', 9, '$PAST', '$PAST');"
}
sql "INSERT INTO services (id, host, \"binary\", topic, report_count, disabled, deleted, cluster_name, created_at, updated_at)
	VALUES (9, 'n9@lvm', 'cinder-volume', 'cinder-volume', 0, 0, 0, 'c1@lvm', '$PAST', '$PAST')"
seed 11111111-1111-4111-8111-111111111111

woken() { grep -c 'a notification from a daemon: looking for work now' "$TEST_ROOT/$1.log"; }
# Idle daemons write nothing that wakes anyone (heartbeats notify nobody):
# no storm of wake-ups as a cluster grows.
sleep 1
idle_n1=$(woken n1) idle_ctl=$(woken ctl)
sleep 3
check "idle for 3 s, nobody is woken" "0 0" "$(($(woken n1) - idle_n1)) $(($(woken ctl) - idle_ctl))"
before=$(woken n1)
echo 'host=n9@lvm' >"$M/cleanup/request"
check "the request ends (wait)" "done" "$(timeout 20 jq -r .state "$M/cleanup/history/1/wait")"
check "n1 cleaned the volume" "error" "$(sql "SELECT status FROM volumes WHERE id = '11111111-1111-4111-8111-111111111111'")"
check "n1 was woken by a notification" "yes" "$([ "$(woken n1)" -gt "$before" ] && echo yes || echo no)"
check "and so was the mount's watch thread of ctl" "yes" "$([ "$(woken ctl)" -gt 0 ] && echo yes || echo no)"

# The server ends every listening session: each daemon reconnects, listens
# again, and a request made after that is served as before.
ended=$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN cinderfs'")
check "the server ended both listeners" "2" "$ended"
wait_until 10 grep -q 'listening again' "$TEST_ROOT/n1.log"
check "n1 listens again" "yes" "$(grep -q 'notifications from other daemons: listening again' "$TEST_ROOT/n1.log" && echo yes || echo no)"
wait_until 10 grep -q 'listening again' "$TEST_ROOT/ctl.log"
check "ctl listens again" "yes" "$(grep -q 'listening again' "$TEST_ROOT/ctl.log" && echo yes || echo no)"
seed 22222222-2222-4222-8222-222222222222
before=$(woken n1)
echo 'host=n9@lvm' >"$M/cleanup/request"
check "a request after the reconnect ends" "done" "$(timeout 20 jq -r .state "$M/cleanup/history/2/wait")"
check "by a notification again" "yes" "$([ "$(woken n1)" -gt "$before" ] && echo yes || echo no)"

# The budget: two daemons, a pool of 4 each plus at most 5 of their own.
conns=$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'cinderfs'")
check "two daemons keep at most 18 connections" "yes" "$([ "$conns" -le 18 ] && echo yes || echo "no: $conns")"
log "figures: connections of a worker and a control-only daemon: $conns"

# A multi-host URI, as a primary/standby pair is given (Patroni,
# pg_auto_failover): the first host refuses connections (a port nobody
# listens on), libpq goes on to the next, and target_session_attrs asks
# for the one that takes writes. The daemon serves, and its write lands.
USER_PART=$(pg_url_part user "$DB")
SERVER=$(pg_url_part server "$DB")
DEAD_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MULTI="postgresql://$USER_PART@127.0.0.1:$DEAD_PORT,$SERVER/$(pg_url_part db "$DB")?target_session_attrs=read-write"
log "multi-host URI: $MULTI"
saved_db=$DB
DB=$MULTI start_daemon pair --control-only
DB=$saved_db
seed 33333333-3333-4333-8333-333333333333
echo 'host=n9@lvm' >"$(mnt pair)/cleanup/request"
check "through a multi-host URI whose first host is down, a request is served" "done" \
	"$(timeout 20 jq -r .state "$(mnt pair)/cleanup/history/3/wait")"

check_logs
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
