#!/usr/bin/env bash
# Installs the packages olink's build, demo and tests need, on Debian 12.  Idempotent: does nothing
# when everything is already there.
set -euo pipefail
need=()
for p in postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl \
         postgresql-contrib postgresql-15-pgaudit libipc-run-perl libkrb5-dev libssl-dev openssl make gcc bc valgrind; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "olink: missing packages: ${need[*]} (run as root, or install them)" >&2; exit 1
  fi
  echo "olink: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
