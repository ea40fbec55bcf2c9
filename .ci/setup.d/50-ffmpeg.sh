# ffmpeg and ffprobe for the video tests (connectors/video/...): Debian's
# ffmpeg package encodes the test pattern and reads back the MP4 clips and HLS
# playlists. Installed with apt when ffprobe is missing; exports nothing (the
# tests find both on PATH and fail rather than skip when
# SLUICE_REQUIRE_INTEGRATION=1 and they are missing). Sourced by .ci/run
# (bash, set -euo pipefail); idempotent.

if ! command -v ffprobe >/dev/null 2>&1; then
	echo "ffmpeg: installing Debian's ffmpeg"
	sluice_sudo=""
	if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then
		sluice_sudo="sudo"
	fi
	{ $sluice_sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sluice_sudo apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; } ||
		echo "ffmpeg: could not be installed; the video tests will report it"
fi
echo "ffmpeg: $(command -v ffprobe || echo missing)"
