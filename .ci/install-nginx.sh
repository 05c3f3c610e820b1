#!/bin/sh
# Installs nginx for tests/it/nginx.rs when it is missing (Debian/Ubuntu, run as root).
# Quiet, idempotent, and it never starts the nginx service: the test runs its own nginx.
set -eu

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-nginx: not root; install nginx yourself (apt-get install nginx-light or nginx)" >&2
    exit 1
fi

# Keep the package's maintainer scripts from starting a system nginx on port 80.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
run() { "$@" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }; }
run apt-get update -qq
# nginx-light is the smallest flavour on older releases; newer ones only ship nginx.
if apt-cache show nginx-light >/dev/null 2>&1; then
    pkg=nginx-light
else
    pkg=nginx
fi
run apt-get install -y -qq --no-install-recommends "$pkg"
rm -f "$log"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]
echo "install-nginx: installed $pkg ($(/usr/sbin/nginx -v 2>&1))"
