# ffmpeg and ffprobe for the video streams' tests (connectors/video/...,
# cmd/sluice's video commands): ffmpeg encodes the test pattern, ffprobe
# reads back what GetMedia, GetClip and the HLS playlists return. Installs
# Debian's ffmpeg package when ffprobe is missing and exports
# SLUICE_FFPROBE_BIN. The tests fail rather than skip when it is missing.
# Sourced by .ci/run (bash, set -euo pipefail); idempotent.

if ! command -v ffprobe >/dev/null 2>&1; then
	echo "ffmpeg: installing Debian's ffmpeg"
	sluice_sudo=""
	if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then
		sluice_sudo="sudo"
	fi
	if command -v apt-get >/dev/null 2>&1; then
		{ $sluice_sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sluice_sudo apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; } ||
			echo "ffmpeg: the ffmpeg package could not be installed; the video tests will report it"
	fi
fi
if command -v ffprobe >/dev/null 2>&1; then
	SLUICE_FFPROBE_BIN="$(command -v ffprobe)"
	export SLUICE_FFPROBE_BIN
fi
echo "ffmpeg: ${SLUICE_FFPROBE_BIN:-missing}"
