#!/usr/bin/env bash
# Hosts whose clocks disagree still agree on who is up, on PostgreSQL: each
# daemon writes and judges heartbeats on the database server's clock. Two
# daemons run with their clocks 90 s ahead and 90 s behind (libfaketime's
# faketime), with service_down_time 10 s: on their own clocks each would
# read the others as down (or a dead one as up).
. "$(dirname "$0")/lib.sh"

if ! only_on postgresql "one SQLite file is on one machine, whose daemons share its one clock: a skewed clock is a cluster across machines, on PostgreSQL"; then
	exit 77
fi
# libfaketime, preloaded into the daemon itself (the faketime command runs
# its program as a child: a kill of the pid the test knows would miss it).
LIBFAKETIME=$(dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketime\.so\.1$')
[ -n "$LIBFAKETIME" ] || { echo "FAIL: libfaketime is not installed (apt-get install faketime)"; exit 1; }

# A copy of the daemon's command with its real-time clock moved: start_daemon
# runs $CINDERFS. Monotonic intervals are not moved. Sanitizer builds: the
# preloaded library comes before the ASan runtime, which is fine here.
skewed() {
	local wrapper=$TEST_ROOT/cinderfs$1
	cat >"$wrapper" <<SH
#!/bin/sh
export LD_PRELOAD="$LIBFAKETIME" FAKETIME="$1" FAKETIME_DONT_FAKE_MONOTONIC=1
export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0"
exec "$REAL_CINDERFS" "\$@"
SH
	chmod +x "$wrapper"
	printf '%s' "$wrapper"
}
REAL_CINDERFS=$CINDERFS

OPTS=(--cluster c1@lvm --service-down-time 10 --report-interval 1)
start_worker ontime "${OPTS[@]}"
CINDERFS=$(skewed +90s) start_worker ahead "${OPTS[@]}"
CINDERFS=$(skewed -90s) start_worker behind "${OPTS[@]}"
CINDERFS=$REAL_CINDERFS

id_of() { sql "SELECT id FROM services WHERE host = '$1@lvm' AND deleted = 0"; }
ONTIME=$(id_of ontime) AHEAD=$(id_of ahead) BEHIND=$(id_of behind)
log "workers: ontime $ONTIME, ahead $AHEAD (+90 s), behind $BEHIND (-90 s)"

check "the daemon ahead measured the database's clock" "yes" \
	"$(grep -qE "its clock is -(89|90|91)\.[0-9]+ s from this host's" "$TEST_ROOT/ahead.log" && echo yes || echo no)"
check "the daemon behind measured it too" "yes" \
	"$(grep -qE "its clock is \+(89|90|91)\.[0-9]+ s from this host's" "$TEST_ROOT/behind.log" && echo yes || echo no)"

# Every beat is stamped on the server's clock: none from 90 s away.
sleep 3
spread=$(sql "SELECT CAST(EXTRACT(EPOCH FROM (MAX(CAST(updated_at AS timestamp)) - MIN(CAST(updated_at AS timestamp)))) AS INTEGER) FROM services WHERE deleted = 0")
check "the three heartbeats are within 2 s of each other in the database" "yes" \
	"$([ "${spread:-99}" -le 2 ] && echo yes || echo "no: ${spread} s apart")"

# Each mount reads every worker up, over more than service_down_time.
all_up() {
	local m id
	for m in ontime ahead behind; do
		for id in "$ONTIME" "$AHEAD" "$BEHIND"; do
			[ "$(cat "$(mnt "$m")/workers/$id/is_up")" = true ] || { echo "$m reads worker $id as down"; return; }
		done
	done
	echo yes
}
result=yes
for _ in $(seq 12); do
	r=$(all_up)
	[ "$r" = yes ] || { result=$r; break; }
	sleep 1
done
check "every mount reads every worker as up for 12 s (service_down_time 10 s)" "yes" "$result"
for m in ontime ahead behind; do
	check "$m's stuck/ is empty" "" "$(ls -A "$(mnt "$m")/stuck/volume")$(ls -A "$(mnt "$m")/stuck/snapshot")"
	check "$m reads cluster c1@lvm with no host down" "0" "$(cat "$(mnt "$m")/clusters/c1@lvm/num_down_hosts")"
done

# And a worker that dies is seen down by the others on time, whatever their
# clocks: ahead stops; ontime and behind see it down after
# service_down_time, not 90 s early or late.
stopped_at=$(date +%s%N)
stop_daemon ahead KILL
check "the daemon ahead is still read up right after it died" "true" "$(cat "$(mnt behind)/workers/$AHEAD/is_up")"
down_for() { [ "$(cat "$(mnt "$1")/workers/$AHEAD/is_up")" = false ]; }
wait_until 20 down_for behind
seen_ms=$(( ($(date +%s%N) - stopped_at) / 1000000 ))
check "the daemon behind sees it down within service_down_time + 2 s, not earlier than 8 s" "yes" \
	"$([ "$seen_ms" -ge 8000 ] && [ "$seen_ms" -le 12500 ] && echo yes || echo "no: ${seen_ms} ms")"
check "and so does the daemon on time" "false" "$(cat "$(mnt ontime)/workers/$AHEAD/is_up")"
log "figures: death seen by a daemon 90 s behind after ${seen_ms} ms (service_down_time 10 s)"

check_logs
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
