#!/bin/sh
# Install the real servers (and client tools) used by the health-check tests.
# Idempotent; run as root on Debian 12 (bookworm). The install goes through
# tests/apt-install.sh: if apt would remove or downgrade a package the
# machine has, it says so before anything changes (and asks, or stops).
#
# Package services are NOT started: a temporary policy-rc.d refuses every
# start during the install (the tests start their own throwaway instances on
# loopback with tests/servers/ctl.sh), and the default instances are stopped
# and disabled afterwards in case an init system started them anyway.
set -eu

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: must run as root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

PACKAGES="
    ca-certificates openssl procps psmisc curl
    nginx-light
    dnsmasq-base bind9-dnsutils
    vsftpd
    exim4-daemon-light
    dovecot-core dovecot-pop3d dovecot-imapd
    slapd ldap-utils
    mariadb-server mariadb-client
    postgresql postgresql-client
    freeradius freeradius-utils
    kamailio
    sn socat
    groff-base
    shellcheck
"

# Refuse service starts while installing (restore the previous policy after).
POLICY=/usr/sbin/policy-rc.d
SAVED=""
if [ -e "$POLICY" ]; then
    SAVED=$(mktemp)
    cp -p "$POLICY" "$SAVED"
fi
restore_policy() {
    if [ -n "$SAVED" ]; then
        mv -f "$SAVED" "$POLICY"
    else
        rm -f "$POLICY"
    fi
}
trap restore_policy EXIT
printf '#!/bin/sh\nexit 101\n' > "$POLICY"
chmod 755 "$POLICY"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "install.sh: missing, to install from Debian:$missing"
    # Says first if apt would remove or downgrade anything the machine has.
    # shellcheck disable=SC2086 # word splitting of the package list is wanted
    "$(dirname "$0")/../apt-install.sh" $missing
fi

# Never leave the system's default instances running or enabled.
for svc in nginx vsftpd exim4 dovecot slapd mariadb postgresql freeradius kamailio openbsd-inetd; do
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
done

# PAM service used by the throwaway vsftpd instances for the local test user.
cat > /etc/pam.d/ldirectord-test-ftp <<'PAM'
# ldirectord-rs tests: plain unix auth for the vsftpd test user
auth    required pam_unix.so
account required pam_unix.so
session required pam_permit.so
PAM

# Local system user for the ftp test (no login shell, no home contents).
if ! getent passwd ldirectord >/dev/null; then
    useradd --system --no-create-home --home-dir / \
        --shell /usr/sbin/nologin ldirectord
fi
if [ "$(getent passwd ldirectord | cut -d: -f6)" != / ]; then
    usermod --home / ldirectord
fi
echo 'ldirectord:testpass' | chpasswd

echo "install.sh: done"
