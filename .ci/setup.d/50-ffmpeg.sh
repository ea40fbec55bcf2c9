# ffmpeg and ffprobe for the video streams' tests (connectors/video,
# connectors/video/videoapi, cmd/sluice's video commands): ffprobe reads
# back what GetMedia returns. Installs Debian's ffmpeg package when
# ffprobe is missing and exports SLUICE_FFPROBE_BIN. The tests fail (they
# run ffprobe unconditionally) when it is missing. Sourced by .ci/run
# (bash, set -euo pipefail); idempotent.

if ! command -v ffprobe >/dev/null 2>&1; then
	echo "ffmpeg: installing Debian's ffmpeg"
	if command -v apt-get >/dev/null 2>&1; then
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; } ||
			echo "ffmpeg: the ffmpeg package could not be installed; the video tests will report it"
	fi
fi
if command -v ffprobe >/dev/null 2>&1; then
	SLUICE_FFPROBE_BIN="$(command -v ffprobe)"
	export SLUICE_FFPROBE_BIN
fi
echo "ffmpeg: ${SLUICE_FFPROBE_BIN:-missing}"
