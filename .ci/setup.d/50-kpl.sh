# KPL aggregated records (connectors/kpl): installs aws-kinesis-agg, AWS
# Labs' JavaScript implementation of the format, which the interop test
# drives with node (connectors/kpl/testdata/interop.js). Cached under
# $HOME/.cache/sluice-ci/npm-kpl, exported as SLUICE_KPL_AGG_DIR.
# Idempotent: a second run installs nothing. Starts no server.

SLUICE_KPL_AGG_DIR="${SLUICE_KPL_AGG_DIR:-$HOME/.cache/sluice-ci/npm-kpl}"
export SLUICE_KPL_AGG_DIR
if [ ! -f "$SLUICE_KPL_AGG_DIR/node_modules/aws-kinesis-agg/package.json" ]; then
	mkdir -p "$SLUICE_KPL_AGG_DIR"
	[ -f "$SLUICE_KPL_AGG_DIR/package.json" ] || echo '{"private":true}' >"$SLUICE_KPL_AGG_DIR/package.json"
	echo "kpl: installing aws-kinesis-agg into $SLUICE_KPL_AGG_DIR"
	npm install --prefix "$SLUICE_KPL_AGG_DIR" --no-audit --no-fund --loglevel=error aws-kinesis-agg@4.2.8
fi
