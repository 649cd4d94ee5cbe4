# Hosts of one cluster on this one machine, for the tests of a cluster
# that spans machines: each host is a network namespace and a mount
# namespace of its own, reaching the root namespace through a veth pair;
# a PostgreSQL server of the test's own listens on the root ends. Sourced
# after lib.sh (its check, on_exit, PIDS, TEST_ROOT, wait_until).
#
# Everything made here has this run's own names: namespaces
# cinderfs-mh-<run>-<host>, links cfmh<run><i>r/h, addresses in a 10.X.Y.0/24
# nothing on this machine uses, a server directory of its own. It is all
# taken down at exit (hosts_teardown, registered at the first host),
# whatever the test's end. Nothing else is touched.

for tool in ip nsenter unshare tgtd tgtadm runuser ss; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done
MH_PG_BIN=${PG_BIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
for tool in initdb pg_ctl postgres psql; do
	[ -x "$MH_PG_BIN/$tool" ] || { echo "FAIL: $MH_PG_BIN/$tool not found (install postgresql-15)"; exit 1; }
done

RUN=$(tr -dc 'a-z0-9' </dev/urandom | head -c 5)
HOSTS=()
declare -A HOST_NS=() HOST_IDX=() HOST_ADDR=() HOST_GW=() HOST_LINK=() HOST_ANCHOR=()
declare -A HOST_TGT_PORT=() HOST_TGTD=() HOST_LVM=()

# hosts_pick_net: NET=10.X.Y, a /24 that no address and no route of this
# machine's root namespace falls in (every table).
hosts_pick_net() {
	local try x y
	for try in $(seq 1 100); do
		x=$((16 + RANDOM % 224))
		y=$((RANDOM % 256))
		[ -z "$(ip -4 -o addr show to "10.$x.$y.0/24")" ] || continue
		[ -z "$(ip -4 route show table all root "10.$x.$y.0/24")" ] || continue
		NET=10.$x.$y
		return 0
	done
	echo "FAIL: no free 10.X.Y.0/24 in 100 tries"
	exit 1
}

# host_add NAME: host NAME, the I-th: its namespace, its veth pair
# ($NET.(4I+1) the root end, where the server listens for it, $NET.(4I+2)
# its own), and an anchor process that holds its mount namespace (private
# propagation: its mounts stay its own).
host_add() {
	local name=$1 i=$((${#HOSTS[@]} + 1)) ns link
	[ -n "${NET:-}" ] || hosts_pick_net
	if [ ${#HOSTS[@]} -eq 0 ]; then on_exit hosts_teardown; fi
	ns=cinderfs-mh-$RUN-$name
	link=cfmh$RUN$i
	HOSTS+=("$name")
	HOST_IDX[$name]=$i
	HOST_NS[$name]=$ns
	HOST_LINK[$name]=${link}r
	HOST_GW[$name]=$NET.$((4 * i + 1))
	HOST_ADDR[$name]=$NET.$((4 * i + 2))
	if ip netns list | grep -q "^$ns\b" || ip link show "${link}r" >/dev/null 2>&1; then
		echo "FAIL: $ns or ${link}r exists already"; exit 1
	fi
	ip netns add "$ns" || { echo "FAIL: ip netns add $ns"; exit 1; }
	ip link add "${link}r" type veth peer name "${link}h" netns "$ns" &&
		ip addr add "${HOST_GW[$name]}/30" dev "${link}r" &&
		ip link set "${link}r" up &&
		ip -n "$ns" addr add "${HOST_ADDR[$name]}/30" dev "${link}h" &&
		ip -n "$ns" link set "${link}h" up &&
		ip -n "$ns" link set lo up || { echo "FAIL: the veth pair of $name"; exit 1; }
	# Another run may have picked the same /24 between our look and now.
	if [ "$(ip -4 -o addr show to "$NET.0/24" | grep -vc " cfmh$RUN")" != 0 ]; then
		echo "FAIL: $NET.0/24 was taken meanwhile"; exit 1
	fi
	ip netns exec "$ns" unshare -m --propagation private sleep infinity &
	HOST_ANCHOR[$name]=$!
	wait_until 5 sh -c "[ \"\$(readlink /proc/${HOST_ANCHOR[$name]}/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ] &&
		[ \"\$(readlink /proc/${HOST_ANCHOR[$name]}/ns/mnt)\" != \"\$(readlink /proc/self/ns/mnt)\" ]" ||
		{ echo "FAIL: the namespaces of $name"; exit 1; }
}

# on_host NAME COMMAND...: run it on host NAME (its network and mounts).
on_host() {
	local name=$1
	shift
	nsenter -t "${HOST_ANCHOR[$name]}" -m -n -- "$@"
}

# host_cut NAME / host_join NAME: its link down / up, in the root
# namespace (a switch port): its packets are dropped, nothing tells it.
host_cut() { ip link set "${HOST_LINK[$1]}" down; }
host_join() { ip link set "${HOST_LINK[$1]}" up; }

# host_lvm NAME: an LVM configuration of the host's own ($TEST_ROOT/
# lvm-NAME), as on a machine of its own: make_vg's, with a lock
# directory of its own, so that nothing but cinderfs's lock serializes
# the hosts' commands on the shared volume group.
host_lvm() {
	local dir=$TEST_ROOT/lvm-$1
	mkdir -p "$dir" "$TEST_ROOT/lvm-lock-$1"
	sed "s|locking_dir = .*|locking_dir = \"$TEST_ROOT/lvm-lock-$1\"|" "$LVM_SYSTEM_DIR/lvm.conf" \
		>"$dir/lvm.conf"
	HOST_LVM[$1]=$dir
}

# host_tgtd NAME: a tgtd of the host's own, on its network: its own
# control port (socket /var/run/tgtd/socket.PORT), its portal on the
# host's address.
host_tgtd() {
	local name=$1 port
	for _ in $(seq 1 50); do
		port=$((10000 + RANDOM % 20000)) # tgtd takes at most 32767
		[ -e "/var/run/tgtd/socket.$port" ] || break
	done
	HOST_TGT_PORT[$name]=$port
	# nsenter itself, not on_host: $! is then tgtd's own pid (nsenter
	# execs it), which SIGSTOP and SIGCONT must reach.
	nsenter -t "${HOST_ANCHOR[$name]}" -m -n -- tgtd -f -C "$port" \
		--iscsi "portal=${HOST_ADDR[$name]}:3260" >>"$TEST_ROOT/tgtd-$name.out" 2>&1 &
	HOST_TGTD[$name]=$!
	if ! wait_until 10 on_host "$name" tgtadm -C "$port" --lld iscsi --mode target --op show; then
		echo "FAIL: the tgtd of $name did not start"; cat "$TEST_ROOT/tgtd-$name.out"; exit 1
	fi
}

# host_targets NAME: the IQNs its tgtd serves, one a line.
host_targets() {
	on_host "$1" tgtadm -C "${HOST_TGT_PORT[$1]}" --lld iscsi --mode target --op show |
		sed -n 's/^Target [0-9]*: //p'
}

# host_start NAME OPTIONS...: its daemon, worker NAME@lvm, mounted at
# $TEST_ROOT/NAME in its own mount namespace, connected to the server
# through its link, its stderr in $TEST_ROOT/NAME.log.
host_start() {
	local name=$1
	shift
	mkdir -p "$TEST_ROOT/$name"
	nsenter -t "${HOST_ANCHOR[$name]}" -m -n -- "$CINDERFS" -f --db "$(mh_pg_url "$name")" \
		--host "$name@lvm" "$@" "$TEST_ROOT/$name" 2>>"$TEST_ROOT/$name.log" &
	PIDS[$name]=$!
	if ! wait_until 20 grep -q "serving .* at $TEST_ROOT/$name" "$TEST_ROOT/$name.log" ||
	   ! wait_until 5 on_host "$name" mountpoint -q "$TEST_ROOT/$name"; then
		echo "FAIL: $name did not mount; its log:"
		cat "$TEST_ROOT/$name.log"
		exit 1
	fi
}

# Before lib.sh's cleanup, whatever the test's end: every link up, every
# tgtd running again, the test's lock holder gone, then each daemon
# stopped (SIGTERM, SIGKILL after 10 s: a daemon cut off in the middle of
# a call may take long to end). $? is kept for lib.sh's cleanup.
hosts_unfreeze() {
	local name
	# What the server's sessions were doing at the end, for the log dump.
	[ -z "${MH_PG_PORT:-}" ] || mh_psql -c "SELECT a.pid, a.client_addr, a.application_name, a.state,
		a.wait_event_type, a.wait_event, a.xact_start, l.locktype, l.classid, l.objid, l.granted,
		left(a.query, 120) FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid AND
		l.locktype = 'advisory' WHERE a.datname = 'cinderfs' ORDER BY a.pid" \
		>"$TEST_ROOT/pg_sessions.log" 2>&1
	for name in "${HOSTS[@]}"; do
		ip link set "${HOST_LINK[$name]}" up 2>/dev/null
		[ -z "${HOST_TGTD[$name]:-}" ] || kill -CONT "${HOST_TGTD[$name]}" 2>/dev/null
	done
	[ -z "${MH_PG_PORT:-}" ] || mh_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'cinderfs-test-holder'" >/dev/null 2>&1
	# All at once: the whole cleanup must fit in meson's grace after a
	# timeout.
	for name in "${HOSTS[@]}"; do
		[ -z "${PIDS[$name]:-}" ] || kill -TERM "${PIDS[$name]}" 2>/dev/null
	done
	for name in "${HOSTS[@]}"; do
		[ -n "${PIDS[$name]:-}" ] || continue
		wait_until 10 sh -c "! kill -0 ${PIDS[$name]} 2>/dev/null || grep -q '^State:.*Z' /proc/${PIDS[$name]}/status" ||
			kill -KILL "${PIDS[$name]}" 2>/dev/null
		wait "${PIDS[$name]}" 2>/dev/null
		unset "PIDS[$name]"
	done
}
trap 'mh_rc=$?; hosts_unfreeze; (exit $mh_rc); cleanup' EXIT

# The hosts, then the server: daemons are stopped by lib.sh before any
# hook runs.
hosts_teardown() {
	local name
	for name in "${HOSTS[@]}"; do
		if [ -n "${HOST_TGTD[$name]:-}" ]; then
			# Ours, serving nothing anyone needs: no graceful stop (which
			# tgtd refuses while it serves targets).
			kill -KILL "${HOST_TGTD[$name]}" 2>/dev/null
			wait "${HOST_TGTD[$name]}" 2>/dev/null
			rm -f "/var/run/tgtd/socket.${HOST_TGT_PORT[$name]}" \
				"/var/run/tgtd/socket.${HOST_TGT_PORT[$name]}.lock"
		fi
	done
	for name in "${HOSTS[@]}"; do
		kill "${HOST_ANCHOR[$name]}" 2>/dev/null
		wait "${HOST_ANCHOR[$name]}" 2>/dev/null
		ip link del "${HOST_LINK[$name]}" 2>/dev/null
		ip netns del "${HOST_NS[$name]}" 2>/dev/null
	done
	return 0
}

###########################################################################
# The server
###########################################################################
# mh_pg_start: a PostgreSQL server of this run's own (initdb in a directory
# of its own, run as postgres), listening on every host's root end and on
# a socket in its directory, a free port; role and database cinderfs,
# trusted from the hosts' /24 and the socket only. Host ends must exist
# (host_add first). Its log is copied to $TEST_ROOT/postgresql.log at exit.
mh_pg_start() {
	local addrs="" name port
	MH_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cinderfs-mhpg.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
	on_exit mh_pg_teardown
	mkdir -p "$MH_PG_DIR/sock"
	chown -R postgres: "$MH_PG_DIR"
	chmod 700 "$MH_PG_DIR"
	if ! runuser -u postgres -- "$MH_PG_BIN/initdb" -D "$MH_PG_DIR/data" -U postgres -A trust -E UTF8 \
		--locale=C.UTF-8 >"$MH_PG_DIR/initdb.log" 2>&1; then
		echo "FAIL: initdb"; cat "$MH_PG_DIR/initdb.log"; exit 1
	fi
	for name in "${HOSTS[@]}"; do addrs="$addrs${addrs:+,}${HOST_GW[$name]}"; done
	runuser -u postgres -- tee "$MH_PG_DIR/data/pg_hba.conf" >/dev/null <<EOF
local all all trust
host all all $NET.0/24 trust
EOF
	runuser -u postgres -- tee -a "$MH_PG_DIR/data/postgresql.conf" >/dev/null <<EOF
# tests/integration/lib_hosts.sh
listen_addresses = '$addrs'
unix_socket_directories = '$MH_PG_DIR/sock'
max_connections = 300
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d %h '
log_connections = on
log_disconnections = on
log_lock_waits = on
deadlock_timeout = 1s
EOF
	for _ in $(seq 1 20); do
		port=$(listen_port)
		MH_PG_PORT=$port
		if mh_pg_ctl start; then
			break
		fi
		MH_PG_PORT=
	done
	[ -n "${MH_PG_PORT:-}" ] || { echo "FAIL: the server did not start"; tail -20 "$MH_PG_DIR/server.log"; exit 1; }
	psql -X -q -h "$MH_PG_DIR/sock" -p "$MH_PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c 'CREATE ROLE cinderfs LOGIN' -c 'CREATE DATABASE cinderfs OWNER cinderfs' ||
		{ echo "FAIL: cannot make role and database cinderfs"; exit 1; }
}

# mh_pg_ctl ACTION [ARGS...]: pg_ctl on the server (start, stop, restart).
mh_pg_ctl() {
	local action=$1
	shift
	runuser -u postgres -- "$MH_PG_BIN/pg_ctl" -D "$MH_PG_DIR/data" -l "$MH_PG_DIR/server.log" -w -t 60 \
		-o "-p $MH_PG_PORT" "$action" "$@" >>"$MH_PG_DIR/pg_ctl.out" 2>&1
}

# mh_pg_url NAME: the database as host NAME reaches it (its link's root end).
mh_pg_url() { printf 'postgresql://cinderfs@%s:%s/cinderfs\n' "${HOST_GW[$1]}" "$MH_PG_PORT"; }

# mh_psql ARGS...: psql on the database through the server's socket (never
# cut), rows unaligned, '|' between columns.
mh_psql() {
	PGAPPNAME=cinderfs-test psql -X -q -At -F'|' -v ON_ERROR_STOP=1 -h "$MH_PG_DIR/sock" -p "$MH_PG_PORT" \
		-U cinderfs -d cinderfs "$@"
}
hsql() { mh_psql -c "$1"; }

mh_pg_teardown() {
	[ -n "${MH_PG_DIR:-}" ] || return 0
	if [ -e "$MH_PG_DIR/data/postmaster.pid" ]; then
		# Immediate: the data goes with the directory.
		runuser -u postgres -- "$MH_PG_BIN/pg_ctl" -D "$MH_PG_DIR/data" -m immediate -w -t 30 stop \
			>/dev/null 2>&1
	fi
	cp "$MH_PG_DIR/server.log" "$TEST_ROOT/postgresql.log" 2>/dev/null
	# MULTIHOST_KEEP_LOGS=DIR: every log of the run kept there.
	if [ -n "${MULTIHOST_KEEP_LOGS:-}" ]; then
		mkdir -p "$MULTIHOST_KEEP_LOGS" && cp "$TEST_ROOT"/*.log "$MULTIHOST_KEEP_LOGS"/
	fi
	rm -rf -- "$MH_PG_DIR"
}
