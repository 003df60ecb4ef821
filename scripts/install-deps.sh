#!/usr/bin/env bash
# Installs tollgate's Debian 12 build, test and benchmark packages when any is missing (idempotent).
set -euo pipefail

packages=(cmake g++ make pkg-config ca-certificates curl
          libboost1.81-all-dev nlohmann-json3-dev libssl-dev libspdlog-dev prometheus-cpp-dev
          catch2 libsqlite3-dev libyaml-cpp-dev libcli11-dev libhiredis-dev libhowardhinnant-date-dev
          zlib1g-dev libhnswlib-dev)
if [ "${1:-}" = "--test" ]; then
  packages+=(prometheus nginx-light wrk redis-server nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  # nodejs/npm may come from elsewhere than Debian (e.g. a preinstalled Node 20): accept the command.
  case "$p" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
