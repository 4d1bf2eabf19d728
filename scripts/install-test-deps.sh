#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, and nothing that is already there.
# Idempotent: each tool is checked first. Run as root (or with sudo available).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-test-deps: not root and no sudo; install the packages below by hand" >&2
  fi
fi

apt_missing=()
need_apt() { # need_apt COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || apt_missing+=("$2")
}
need_apt_pkg() { # need_apt_pkg PACKAGE (a library, checked with dpkg)
  dpkg -s "$1" >/dev/null 2>&1 || apt_missing+=("$1")
}

need_apt cc gcc
need_apt pkg-config pkg-config
need_apt_pkg libssl-dev
need_apt openssl openssl
need_apt python3 python3
need_apt pip3 python3-pip
# End-to-end tests (tests/e2e_*.rs): lego as an ACME client; pebble for pebble-challtestsrv, the DNS
# server the bridge resolves names through (certbot's dns-01 hooks publish TXT records in it).
need_apt lego lego
need_apt pebble-challtestsrv pebble
# The web console's browser test (tests/console_browser.rs): headless Chromium over WebDriver.
need_apt chromium chromium
need_apt chromedriver chromium-driver
# The chaos run (scripts/chaos.sh, tests/chaos_short.rs): a real load balancer in front of three
# replicas.
need_apt haproxy haproxy
# chaos.sh also asks the bridges and the sandbox over HTTP and counts rows with psql.
need_apt curl curl
need_apt psql postgresql-client
# A PostgreSQL server is only needed when none runs and DATABASE_URL is unset; scripts/test.sh decides.
if [ "${NEED_POSTGRES_SERVER:-0}" = 1 ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
    || apt_missing+=(postgresql)
fi

if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${apt_missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
fi

# Python packages used by the tests (installed for the python3 on PATH).
pip_missing=()
pip_need() { # pip_need IMPORT_NAME PACKAGE
  python3 -c "import $1" >/dev/null 2>&1 || pip_missing+=("$2")
}
# Sectigo's REST API as a third party wrapped it (the sandbox must serve it unchanged).
pip_need cert_manager cert-manager
# The same API as another third party wrapped it; it needs collect's `;charset=UTF-8`.
pip_need comodo_rest_api comodo-rest-api
# certbot as an ACME client (run by the end-to-end tests as `python3 -c …certbot.main…`).
pip_need certbot.main certbot
# Kubernetes manifests of deploy/kubernetes (tests/deploy_manifests.rs, as `python3 -m
# kubernetes_validate`); it brings jsonschema and PyYAML, which check the ServiceMonitor.
pip_need kubernetes_validate kubernetes-validate
# The quickstart test runs the printed `certbot …` command, so the command itself must be on PATH.
command -v certbot >/dev/null 2>&1 || [[ " ${pip_missing[*]} " == *" certbot "* ]] || pip_missing+=(certbot)
# tests/e2e_certbot_ari.rs needs a certbot that reads renewalInfo (RFC 9773) during `renew`: an
# older one installed earlier is upgraded.
pip_upgrade=()
if python3 -c "import certbot.main" >/dev/null 2>&1 \
  && ! python3 -c "from acme.client import ClientV2; ClientV2.renewal_time" >/dev/null 2>&1; then
  pip_upgrade+=(certbot acme)
fi
if [ ${#pip_missing[@]} -gt 0 ]; then
  echo "install-test-deps: pip installing ${pip_missing[*]}"
  python3 -m pip install -q "${pip_missing[@]}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "${pip_missing[@]}"
fi
if [ ${#pip_upgrade[@]} -gt 0 ]; then
  echo "install-test-deps: upgrading ${pip_upgrade[*]} (no renewalInfo support)"
  python3 -m pip install -q --upgrade "${pip_upgrade[@]}" 2>/dev/null \
    || python3 -m pip install -q --upgrade --break-system-packages "${pip_upgrade[@]}"
fi
# pyenv creates command shims (certbot) only on a rehash, which `python3 -m pip` does not trigger.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
command -v certbot >/dev/null 2>&1 \
  || echo "install-test-deps: warning: certbot is installed but not on PATH" >&2
