# Firehose API (connectors/firehose/firehoseapi, internal/service): installs
# the JavaScript SDK v3 Firehose client its tests drive against the server
# they start themselves on 127.0.0.1 (npm, cached under
# $HOME/.cache/sluice-ci/npm-firehose), exported as SLUICE_FIREHOSE_JS_DIR.
# The AWS CLIs come from 40-shardlog.sh. Idempotent: a second run installs
# nothing. Starts no server.

SLUICE_FIREHOSE_JS_DIR="${SLUICE_FIREHOSE_JS_DIR:-$HOME/.cache/sluice-ci/npm-firehose}"
export SLUICE_FIREHOSE_JS_DIR
if [ ! -f "$SLUICE_FIREHOSE_JS_DIR/node_modules/@aws-sdk/client-firehose/package.json" ]; then
	mkdir -p "$SLUICE_FIREHOSE_JS_DIR"
	[ -f "$SLUICE_FIREHOSE_JS_DIR/package.json" ] || echo '{"private":true}' >"$SLUICE_FIREHOSE_JS_DIR/package.json"
	echo "firehose: installing @aws-sdk/client-firehose into $SLUICE_FIREHOSE_JS_DIR"
	npm install --prefix "$SLUICE_FIREHOSE_JS_DIR" --no-audit --no-fund --loglevel=error @aws-sdk/client-firehose@3.1143.0
fi
