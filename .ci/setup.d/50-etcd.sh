# etcd for the consumer library's etcd lease store (connectors/kinesis/consumer)
# and the scale-out coordination (engine/cluster/etcdcluster, 3 members each):
# installs Debian's etcd-server package (/usr/bin/etcd, 3.4.x) when it is
# missing and exports SLUICE_ETCD_BIN. Starts no server: each test starts its
# own etcd on 127.0.0.1 (random ports, a temporary data directory) from it,
# and fails rather than skips when SLUICE_REQUIRE_INTEGRATION=1 and it is
# missing. Sourced by .ci/run (bash, set -euo pipefail); idempotent.

if ! command -v etcd >/dev/null 2>&1 && [ ! -x /usr/bin/etcd ]; then
	echo "etcd: installing Debian's etcd-server"
	if command -v apt-get >/dev/null 2>&1; then
		# The package's service must not start: tests start their own.
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod +x /usr/sbin/policy-rc.d
			sluice_etcd_policy=1
		fi
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null; } ||
			echo "etcd: etcd-server could not be installed; the etcd lease store tests will report it"
		if [ -n "${sluice_etcd_policy:-}" ]; then
			rm -f /usr/sbin/policy-rc.d
		fi
	fi
fi
if [ -x /usr/bin/etcd ]; then
	export SLUICE_ETCD_BIN=/usr/bin/etcd
elif command -v etcd >/dev/null 2>&1; then
	SLUICE_ETCD_BIN="$(command -v etcd)"
	export SLUICE_ETCD_BIN
fi
echo "etcd: ${SLUICE_ETCD_BIN:-missing}"
