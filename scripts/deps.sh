#!/usr/bin/env bash
# Installs the system tools Presence needs, from Debian's packages, when
# they are missing. Safe to re-run: it installs nothing that is present.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }

have gcc || need+=(gcc libc6-dev)
have npm || need+=(nodejs npm)
# PostgreSQL server binaries: the tests start their own throw-away cluster.
have initdb || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
have runuser || need+=(util-linux)
have curl || need+=(curl)
have jq || need+=(jq)
# Video frames for the active-liveness tests, and a real browser for the
# capture SDK and web app tests.
have ffmpeg || need+=(ffmpeg)
# libjpeg-turbo's TurboJPEG library: fast, DCT-scaled JPEG decoding
# (vision/turbojpeg); without it Presence uses Go's decoder.
ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so\.0' || ls /usr/lib/*/libturbojpeg.so.0 >/dev/null 2>&1 || need+=(libturbojpeg0)
have chromium || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${need[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
if ! have apt-get; then
  echo "deps: missing ${need[*]} and no apt-get here; install them with your system's package manager" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Update the package lists only when an install fails without it.
$SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
  $SUDO apt-get update >/dev/null
  $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
}
