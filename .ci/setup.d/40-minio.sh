# MinIO for the S3 integration tests of connectors/s3 and connectors/firehose.
# Builds MinIO from the Go module proxy (a pinned pseudo-version; the build
# takes several minutes the first time and is cached under
# $HOME/.cache/sluice-ci/), starts it on 127.0.0.1 with a fresh data
# directory under $SLUICE_CI_STATE, and exports what the tests read:
#   SLUICE_S3_ENDPOINT, SLUICE_S3_ACCESS_KEY, SLUICE_S3_SECRET_KEY,
#   SLUICE_MINIO_BIN (tests start their own server from it when no
#   endpoint is given).
# Sourced by .ci/run (bash, set -euo pipefail); idempotent.

SLUICE_MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
sluice_minio_dir="$HOME/.cache/sluice-ci/minio-$SLUICE_MINIO_VERSION"
if [ ! -x "$sluice_minio_dir/minio" ]; then
	echo "building MinIO $SLUICE_MINIO_VERSION (cached in $sluice_minio_dir)"
	mkdir -p "$sluice_minio_dir"
	(cd "$(mktemp -d)" && GOFLAGS=-buildvcs=false GOBIN="$sluice_minio_dir" go install "github.com/minio/minio@$SLUICE_MINIO_VERSION")
fi
export SLUICE_MINIO_BIN="$sluice_minio_dir/minio"

sluice_minio_port=""
for p in $(seq 19000 19100); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1000))") 2>/dev/null; then
		sluice_minio_port=$p
		break
	fi
done
if [ -z "$sluice_minio_port" ]; then
	echo "no free port for MinIO in 19000-19100" >&2
	return 1
fi
sluice_minio_data="$SLUICE_CI_STATE/minio"
rm -rf "$sluice_minio_data"
mkdir -p "$sluice_minio_data"
export SLUICE_S3_ACCESS_KEY=sluiceci
export SLUICE_S3_SECRET_KEY=sluiceci-secret-key
MINIO_ROOT_USER=$SLUICE_S3_ACCESS_KEY MINIO_ROOT_PASSWORD=$SLUICE_S3_SECRET_KEY MINIO_BROWSER=off \
	"$SLUICE_MINIO_BIN" server --quiet --address "127.0.0.1:$sluice_minio_port" \
	--console-address "127.0.0.1:$((sluice_minio_port + 1000))" "$sluice_minio_data" \
	>"$SLUICE_CI_STATE/minio.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
	if curl -fsS "http://127.0.0.1:$sluice_minio_port/minio/health/live" >/dev/null 2>&1; then
		break
	fi
	sleep 0.5
done
if ! curl -fsS "http://127.0.0.1:$sluice_minio_port/minio/health/live" >/dev/null 2>&1; then
	echo "MinIO did not start; log:" >&2
	cat "$SLUICE_CI_STATE/minio.log" >&2
	return 1
fi
export SLUICE_S3_ENDPOINT="http://127.0.0.1:$sluice_minio_port"
echo "MinIO at $SLUICE_S3_ENDPOINT"
