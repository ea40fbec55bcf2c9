# Headless Chromium for the dashboard's browser tests
# (internal/service/dashboard, internal/testsupport/browser): installs
# Debian's chromium package when no Chromium is on PATH and exports
# SLUICE_CHROMIUM. Tests start their own browser (headless, a temporary
# profile, nothing fetched from the network) and fail rather than skip when
# SLUICE_REQUIRE_INTEGRATION=1 and it is missing. Sourced by .ci/run (bash,
# set -euo pipefail); idempotent.

sluice_find_chromium() {
	for c in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$c" >/dev/null 2>&1; then
			command -v "$c"
			return 0
		fi
	done
	return 1
}

if ! sluice_find_chromium >/dev/null; then
	echo "chromium: installing Debian's chromium"
	if command -v apt-get >/dev/null 2>&1; then
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } ||
			echo "chromium: the package could not be installed; the dashboard's browser tests will report it"
	fi
fi
if p="$(sluice_find_chromium)"; then
	export SLUICE_CHROMIUM="$p"
fi
echo "chromium: ${SLUICE_CHROMIUM:-missing}"
