#!/bin/sh
# Installs (or with --check, only verifies) the Debian packages zfviz needs.
#   tools/deps.sh build          packages to build and run zfviz (make, make demo)
#   tools/deps.sh test           plus the test oracles and harnesses (make test, make asan)
#   tools/deps.sh --check build  no install: print what is missing and fail (used by plain `make`)
set -e
check=0
if [ "$1" = "--check" ]; then check=1; shift; fi
set_name=${1:-build}

build_pkgs="pkg-config libopenblas-dev libsdl2-dev libstb-dev fonts-dejavu-core dataset-fashion-mnist"
test_pkgs="$build_pkgs python3 python3-torch python3-torchvision python3-onnx xvfb xauth chromium"
case "$set_name" in
  build) pkgs=$build_pkgs ;;
  test)  pkgs=$test_pkgs ;;
  *) echo "deps.sh: unknown set '$set_name' (build or test)" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ $check = 1 ]; then
  # Only the libraries the compiler needs are fatal for a plain `make`.
  fatal=""
  for p in $missing; do
    case $p in pkg-config|libopenblas-dev|libsdl2-dev|libstb-dev) fatal="$fatal $p" ;; esac
  done
  if [ -n "$fatal" ]; then
    echo "zfviz: missing Debian packages:$fatal" >&2
    echo "zfviz: run 'make deps' (installs them with apt-get) or: sudo apt-get install$fatal" >&2
    exit 1
  fi
  exit 0
fi

echo "zfviz: installing Debian packages:$missing" >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; else
  command -v sudo >/dev/null || { echo "zfviz: need root or sudo to install:$missing" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || { echo "zfviz: apt-get update failed" >&2; exit 1; }
if ! $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
  echo "zfviz: apt-get install failed for:$missing" >&2
  exit 1
fi
