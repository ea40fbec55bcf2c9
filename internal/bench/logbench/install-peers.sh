#!/bin/sh
# install-peers.sh PREFIX: install the peers of `sluice bench log`, the npm
# packages kinesalite and kinesis-local at pinned versions, into the npm
# prefix PREFIX (default ~/.cache/sluice-ci/npm-peers). The bench runs this
# script (embedded in the binary) when --peers=auto and they are missing;
# it can also be run by hand or from .ci.
set -eu
kinesalite_version=3.3.3
kinesis_local_version=0.6.2
prefix=${1:-"$HOME/.cache/sluice-ci/npm-peers"}
if ! command -v npm >/dev/null 2>&1; then
	echo "install-peers.sh: npm not found" >&2
	exit 1
fi
mkdir -p "$prefix"
[ -f "$prefix/package.json" ] || printf '{"private":true}\n' >"$prefix/package.json"
echo "bench log: installing kinesalite@$kinesalite_version and kinesis-local@$kinesis_local_version into $prefix" >&2
exec npm install --no-audit --no-fund --prefix "$prefix" \
	"kinesalite@$kinesalite_version" "kinesis-local@$kinesis_local_version"
