# Sharded log (connectors/shardlog): installs what its integration tests
# drive against the in-process server they start themselves on 127.0.0.1:
#   - the JavaScript SDK v3 Kinesis client (npm, cached under
#     $HOME/.cache/sluice-ci/npm-jssdk), exported as SLUICE_JS_SDK_DIR;
#   - the AWS CLI v2 from Debian's awscli package (/usr/bin/aws) when it is
#     missing; the tests and .ci/readme.sh also use the CLI v1 (the Python
#     awscli) where the machine has one.
# Idempotent: a second run installs nothing. Starts no server.

SLUICE_JS_SDK_DIR="${SLUICE_JS_SDK_DIR:-$HOME/.cache/sluice-ci/npm-jssdk}"
export SLUICE_JS_SDK_DIR
if [ ! -f "$SLUICE_JS_SDK_DIR/node_modules/@aws-sdk/client-kinesis/package.json" ]; then
	mkdir -p "$SLUICE_JS_SDK_DIR"
	[ -f "$SLUICE_JS_SDK_DIR/package.json" ] || echo '{"private":true}' >"$SLUICE_JS_SDK_DIR/package.json"
	echo "shardlog: installing @aws-sdk/client-kinesis into $SLUICE_JS_SDK_DIR"
	npm install --prefix "$SLUICE_JS_SDK_DIR" --no-audit --no-fund --loglevel=error @aws-sdk/client-kinesis@3.1143.0
fi

if [ ! -x /usr/bin/aws ]; then
	echo "shardlog: installing the AWS CLI v2 (Debian awscli)"
	if command -v apt-get >/dev/null 2>&1; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli >/dev/null ||
			echo "shardlog: awscli could not be installed; TestAWSCLI will report it"
	fi
fi
