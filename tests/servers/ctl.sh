#!/bin/bash
# Start/stop throwaway real servers for the ldirectord-rs health-check tests.
#
#   ctl.sh NAME start DIR PORT [PORT...]
#   ctl.sh NAME stop DIR
#   ctl.sh NAME available          (exit 0 iff the server's binaries are installed)
#
# NAME and the ports it takes (all bound to 127.0.0.1, and to ::1 where noted):
#   http    HTTP HTTPS PROXY   nginx: http, https (self-signed), forward proxy (loopback only) [+::1]
#   dns     PORT               dnsmasq, udp+tcp, zone example.test, no upstream              [+::1]
#   ftp     PORT               vsftpd, anonymous + local user ldirectord
#   smtp    SMTP SUBMISSION    exim4, accepts mail for example.test and discards it, never relays [+::1]
#   mail    POP3 IMAP POP3S IMAPS  dovecot, passwd-file user ldirectord                      [+::1]
#   ldap    LDAP LDAPS         slapd, suffix dc=example,dc=test                               [+::1]
#   mysql   PORT               mariadb, database ldirectord, table t                          [+::1]
#   pgsql   PORT               postgresql, database ldirectord, table t                       [+::1]
#   radius  PORT               freeradius, auth only, user ldirectord, secret testing123      [+::1]
#   sip     PORT               kamailio, udp+tcp, answers OPTIONS with 200 OK                 [+::1]
#   nntp    PORT               sn's snntpd under socat                                        [+::1]
#
# DIR must be an empty (or previously used by the same NAME) directory; all
# config, data, logs and pid files go there.  On success nothing is printed and
# the exit status is 0.  On failure the server's logs are printed to stderr,
# anything already started is stopped, and the exit status is 1.
# See tests/servers/README.md for the fixed test data.
set -u

NAME=${1:-}
CMD=${2:-}
DIR=${3:-}
if [ "$#" -ge 3 ]; then shift 3; else set --; fi
PORTS=("$@")

READY_TIMEOUT=${SERVERS_READY_TIMEOUT:-20}

usage() {
    sed -n '2,8p' "$0" >&2
    exit 2
}

# ---------------------------------------------------------------- helpers

have_v6() {
    grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Print the logs of the instance to stderr.
show_logs() {
    local f
    while IFS= read -r -d '' f; do
        echo "----- $f" >&2
        tail -n 60 "$f" >&2
    done < <(find "$DIR" -maxdepth 3 -type f \( -name '*.log' -o -name '*log' \) -print0 2>/dev/null)
}

fail() {
    echo "ctl.sh: $NAME: $*" >&2
    show_logs
    do_stop >/dev/null 2>&1
    exit 1
}

# wait_until CMD... : run CMD until it succeeds, at most READY_TIMEOUT seconds;
# gives up at once when the last started server process (WATCH_PID) is gone.
WATCH_PID=""
wait_until() {
    local deadline=$((SECONDS + READY_TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            return 1
        fi
        if [ -n "$WATCH_PID" ] && ! kill -0 "$WATCH_PID" 2>/dev/null; then
            echo "ctl.sh: $NAME: server process $WATCH_PID exited" >&2
            return 1
        fi
        sleep 0.1
    done
}

tcp_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# tcp_greets HOST PORT REGEX: connect and read the first line.
tcp_greets() {
    local line
    exec 3<>"/dev/tcp/$1/$2" || return 1
    IFS= read -r -t 2 line <&3 || { exec 3<&-; return 1; }
    exec 3<&-
    [[ $line =~ $3 ]]
}

# Remember a pid to kill on stop.
add_pid() {
    echo "$1" >> "$DIR/pids"
    WATCH_PID=$1
}

pid_from_file() {
    local f=$1 pid=""
    wait_until test -s "$f" || return 1
    read -r pid < "$f" || true
    [ -n "$pid" ] || return 1
    add_pid "$pid"
}

# Start a foreground program detached, logging to FILE; records its pid.
spawn() {
    local log=$1
    shift
    setsid "$@" </dev/null >>"$log" 2>&1 &
    add_pid "$!"
}

need_ports() {
    if [ "${#PORTS[@]}" -lt "$1" ]; then
        echo "ctl.sh: $NAME needs $1 port(s), got ${#PORTS[@]}" >&2
        exit 2
    fi
}

make_cert() {
    [ -s "$DIR/cert.pem" ] && return 0
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 \
        -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
        -keyout "$DIR/key.pem" -out "$DIR/cert.pem" >"$DIR/openssl.log" 2>&1 ||
        fail "openssl could not make a certificate"
    chmod 644 "$DIR/cert.pem" "$DIR/key.pem"
}

do_stop() {
    local pid pids=() deadline
    if [ -f "$DIR/stop-hook" ]; then
        bash "$DIR/stop-hook" >/dev/null 2>&1 || true
    fi
    if [ -f "$DIR/pids" ]; then
        mapfile -t pids < "$DIR/pids"
    fi
    for pid in "${pids[@]}"; do
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    done
    deadline=$((SECONDS + 15))
    for pid in "${pids[@]}"; do
        [ -n "$pid" ] || continue
        while kill -0 "$pid" 2>/dev/null; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                kill -KILL "$pid" 2>/dev/null
                break
            fi
            sleep 0.1
        done
    done
    rm -f "$DIR/pids" "$DIR/stop-hook"
    return 0
}

# Files readable by unprivileged server processes.
# DIR's parents must be traversable by others too (the servers drop privileges).
open_dir() {
    chmod 755 "$DIR"
    if is_root && ! runuser -u nobody -- test -x "$DIR" 2>/dev/null; then
        fail "$DIR is not reachable by unprivileged users: make its parent directories world-searchable (chmod o+x)"
    fi
}

# ---------------------------------------------------------------- http (nginx)

http_available() { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }

http_start() {
    need_ports 3
    local p=${PORTS[0]} ps=${PORTS[1]} pp=${PORTS[2]} v6http="" v6https="" v6proxy=""
    open_dir
    make_cert
    mkdir -p "$DIR/www/sub" "$DIR/tmp"
    printf '<html><head><title>Test Page</title></head><body><h1>Test Page</h1></body></html>\n' > "$DIR/www/index.html"
    printf 'OK\n' > "$DIR/www/health.html"
    printf 'sub page\n' > "$DIR/www/sub/index.html"
    chmod -R a+rX "$DIR/www"
    if have_v6; then
        v6http="listen [::1]:$p;"
        v6https="listen [::1]:$ps ssl;"
        v6proxy="listen [::1]:$pp;"
    fi
    cat > "$DIR/nginx.conf" <<EOF
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/error.log info;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $DIR/access.log;
    client_body_temp_path $DIR/tmp/body;
    proxy_temp_path $DIR/tmp/proxy;
    fastcgi_temp_path $DIR/tmp/fastcgi;
    uwsgi_temp_path $DIR/tmp/uwsgi;
    scgi_temp_path $DIR/tmp/scgi;
    server_tokens off;

    server {
        listen 127.0.0.1:$p;
        $v6http
        server_name _;
        root $DIR/www;
        location = /redirect { return 302 /index.html; }
        location = /status500 { return 500 "broken\n"; }
    }
    server {
        listen 127.0.0.1:$ps ssl;
        $v6https
        server_name _;
        ssl_certificate $DIR/cert.pem;
        ssl_certificate_key $DIR/key.pem;
        root $DIR/www;
        location = /redirect { return 302 /index.html; }
        location = /status500 { return 500 "broken\n"; }
    }

    # Forward proxy for absolute-URL requests. Only IP-literal loopback
    # upstreams are allowed, so nothing is ever resolved or sent off-host.
    map \$http_host \$ld_upstream_ok {
        default 0;
        "~^127\.[0-9]+\.[0-9]+\.[0-9]+(:[0-9]+)?\$" 1;
        "~^\[::1\](:[0-9]+)?\$" 1;
    }
    server {
        listen 127.0.0.1:$pp;
        $v6proxy
        server_name _;
        location / {
            if (\$ld_upstream_ok = 0) { return 403 "proxy: only loopback upstreams\n"; }
            proxy_pass http://\$http_host\$request_uri;
            proxy_connect_timeout 5s;
            proxy_read_timeout 10s;
        }
    }
}
EOF
    nginx -t -q -c "$DIR/nginx.conf" -e "$DIR/error.log" -p "$DIR/" >>"$DIR/nginx-start.log" 2>&1 ||
        fail "bad nginx config"
    nginx -c "$DIR/nginx.conf" -e "$DIR/error.log" -p "$DIR/" >>"$DIR/nginx-start.log" 2>&1 ||
        fail "nginx did not start"
    pid_from_file "$DIR/nginx.pid" || fail "no nginx pid file"
    wait_until tcp_open 127.0.0.1 "$p" || fail "http port $p not ready"
    wait_until tcp_open 127.0.0.1 "$ps" || fail "https port $ps not ready"
    wait_until tcp_open 127.0.0.1 "$pp" || fail "proxy port $pp not ready"
}

# ---------------------------------------------------------------- dns (dnsmasq)

dns_available() { [ -x /usr/sbin/dnsmasq ]; }

dns_start() {
    need_ports 1
    local p=${PORTS[0]}
    open_dir
    {
        echo "port=$p"
        echo "listen-address=127.0.0.1"
        have_v6 && echo "listen-address=::1"
        echo "bind-interfaces"
        # never forward anything anywhere
        echo "no-resolv"
        echo "no-poll"
        echo "no-hosts"
        echo "local=/example.test/"
        echo "local=/2.0.192.in-addr.arpa/"
        echo "local=/0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa/"
        echo "host-record=www.example.test,192.0.2.10,2001:db8::10"
        echo "host-record=mail.example.test,192.0.2.11"
        echo "cname=web.example.test,www.example.test"
        echo "txt-record=txt.example.test,\"ldirectord test\""
        echo "pid-file=$DIR/dnsmasq.pid"
        echo "log-facility=$DIR/dnsmasq.log"
        echo "log-queries"
    } > "$DIR/dnsmasq.conf"
    : > "$DIR/dnsmasq.log"
    chmod 666 "$DIR/dnsmasq.log"
    /usr/sbin/dnsmasq --conf-file="$DIR/dnsmasq.conf" >>"$DIR/dnsmasq.log" 2>&1 ||
        fail "dnsmasq did not start"
    pid_from_file "$DIR/dnsmasq.pid" || fail "no dnsmasq pid file"
    wait_until dns_ready "$p" || fail "dns port $p not answering"
}

dns_ready() {
    if command -v dig >/dev/null; then
        [ "$(dig @127.0.0.1 -p "$1" +short +time=1 +tries=1 www.example.test A)" = 192.0.2.10 ]
    else
        tcp_open 127.0.0.1 "$1"
    fi
}

# ---------------------------------------------------------------- ftp (vsftpd)

ftp_available() { [ -x /usr/sbin/vsftpd ]; }

ftp_start() {
    need_ports 1
    local p=${PORTS[0]}
    is_root || fail "vsftpd must be started as root"
    open_dir
    mkdir -p "$DIR/ftp/pub" "$DIR/empty"
    printf 'Welcome to the ldirectord test FTP server\n' > "$DIR/ftp/welcome.msg"
    printf 'hello\n' > "$DIR/ftp/pub/hello.txt"
    chmod 755 "$DIR/ftp" "$DIR/ftp/pub" "$DIR/empty"
    chmod 644 "$DIR/ftp/welcome.msg" "$DIR/ftp/pub/hello.txt"
    chown -R root:root "$DIR/ftp" "$DIR/empty"
    local local_user=YES
    getent passwd ldirectord >/dev/null && [ -f /etc/pam.d/ldirectord-test-ftp ] || local_user=NO
    cat > "$DIR/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$p
background=NO
anonymous_enable=YES
no_anon_password=NO
anon_root=$DIR/ftp
local_enable=$local_user
local_root=$DIR/ftp
chroot_local_user=YES
write_enable=NO
pam_service_name=ldirectord-test-ftp
userlist_enable=NO
tcp_wrappers=NO
secure_chroot_dir=$DIR/empty
xferlog_enable=YES
vsftpd_log_file=$DIR/vsftpd.log
dual_log_enable=NO
xferlog_std_format=NO
syslog_enable=NO
ftpd_banner=ldirectord test FTP server ready
pasv_enable=YES
pasv_address=127.0.0.1
port_enable=YES
connect_from_port_20=NO
seccomp_sandbox=NO
hide_ids=YES
max_clients=50
idle_session_timeout=60
data_connection_timeout=30
EOF
    : > "$DIR/vsftpd.log"
    spawn "$DIR/vsftpd.log" /usr/sbin/vsftpd "$DIR/vsftpd.conf"
    wait_until tcp_greets 127.0.0.1 "$p" '^220' || fail "ftp port $p not ready"
}

# ---------------------------------------------------------------- smtp (exim4)

smtp_available() { [ -x /usr/sbin/exim4 ]; }

smtp_start() {
    need_ports 2
    local p=${PORTS[0]} ps=${PORTS[1]} ifaces="127.0.0.1"
    open_dir
    have_v6 && ifaces="127.0.0.1 ; ::1"
    mkdir -p "$DIR/spool" "$DIR/log"
    if is_root && getent passwd Debian-exim >/dev/null; then
        chown Debian-exim:Debian-exim "$DIR/spool" "$DIR/log"
    fi
    cat > "$DIR/exim.conf" <<EOF
# ldirectord-rs test MTA: accepts mail for example.test and discards it.
# It never relays and never delivers anywhere.
primary_hostname = mail.example.test
domainlist local_domains = example.test
daemon_smtp_ports = $p : $ps
local_interfaces = <; $ifaces
spool_directory = $DIR/spool
log_file_path = $DIR/log/%slog
pid_file_path = $DIR/exim.pid
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
smtp_banner = \$smtp_active_hostname ESMTP ldirectord-test \$tod_full
acl_smtp_rcpt = acl_check_rcpt
queue_run_max = 0
keep_environment =

begin acl

acl_check_rcpt:
  accept  domains = +local_domains
  deny    message = relay not permitted

begin routers

discard:
  driver = redirect
  domains = +local_domains
  data = :blackhole:

begin transports

begin retry

*   *   F,1m,1m

begin rewrite

begin authenticators
EOF
    chmod 644 "$DIR/exim.conf"
    /usr/sbin/exim4 -C "$DIR/exim.conf" -bV >"$DIR/log/check.log" 2>&1 || fail "bad exim config"
    /usr/sbin/exim4 -C "$DIR/exim.conf" -bd >>"$DIR/log/start.log" 2>&1 || fail "exim did not start"
    pid_from_file "$DIR/exim.pid" || fail "no exim pid file"
    wait_until tcp_greets 127.0.0.1 "$p" '^220' || fail "smtp port $p not ready"
    wait_until tcp_greets 127.0.0.1 "$ps" '^220' || fail "submission port $ps not ready"
}

# ---------------------------------------------------------------- mail (dovecot)

mail_available() { [ -x /usr/sbin/dovecot ] && [ -e /usr/lib/dovecot/pop3 ] && [ -e /usr/lib/dovecot/imap ]; }

mail_start() {
    need_ports 4
    local pop=${PORTS[0]} imap=${PORTS[1]} pops=${PORTS[2]} imaps=${PORTS[3]} listen="127.0.0.1"
    local uid gid
    open_dir
    make_cert
    have_v6 && listen="127.0.0.1, ::1"
    mkdir -p "$DIR/run" "$DIR/state" "$DIR/mail"
    if is_root; then
        uid=$(id -u nobody); gid=$(id -g nobody)
        chown nobody: "$DIR/mail"
    else
        uid=$(id -u); gid=$(id -g)
    fi
    printf 'ldirectord:{PLAIN}testpass::::::\n' > "$DIR/users"
    chmod 644 "$DIR/users"
    cat > "$DIR/dovecot.conf" <<EOF
base_dir = $DIR/run
state_dir = $DIR/state
instance_name = ldtest-$pop
protocols = pop3 imap
listen = $listen
log_path = $DIR/dovecot.log
ssl = yes
ssl_cert = <$DIR/cert.pem
ssl_key = <$DIR/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$DIR/mail/%u
first_valid_uid = 1
login_greeting = ldirectord test dovecot ready.
auth_failure_delay = 0
# loopback is "trusted": no auth penalty after failed logins (adds XCLIENT to the greetings)
login_trusted_networks = 127.0.0.0/8 ::1/128
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DIR/users
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$DIR/mail/%u
}
service pop3-login {
  inet_listener pop3 {
    port = $pop
  }
  inet_listener pop3s {
    port = $pops
    ssl = yes
  }
}
service imap-login {
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = $imaps
    ssl = yes
  }
}
service stats {
  inet_listener http {
    port = 0
  }
}
EOF
    /usr/sbin/dovecot -c "$DIR/dovecot.conf" >>"$DIR/dovecot.log" 2>&1 || fail "dovecot did not start"
    pid_from_file "$DIR/run/master.pid" || fail "no dovecot pid file"
    wait_until tcp_greets 127.0.0.1 "$pop" '^\+OK' || fail "pop3 port $pop not ready"
    wait_until tcp_greets 127.0.0.1 "$imap" '^\* OK' || fail "imap port $imap not ready"
    wait_until tcp_open 127.0.0.1 "$pops" || fail "pop3s port $pops not ready"
    wait_until tcp_open 127.0.0.1 "$imaps" || fail "imaps port $imaps not ready"
}

# ---------------------------------------------------------------- ldap (slapd)

ldap_available() { [ -x /usr/sbin/slapd ] && [ -x /usr/sbin/slapadd ]; }

ldap_start() {
    need_ports 2
    local p=${PORTS[0]} ps=${PORTS[1]} urls
    open_dir
    make_cert
    mkdir -p "$DIR/ldapdb"
    cat > "$DIR/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $DIR/slapd.pid
argsfile $DIR/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $DIR/cert.pem
TLSCertificateKeyFile $DIR/key.pem
loglevel stats

database mdb
maxsize 16777216
suffix "dc=example,dc=test"
rootdn "cn=admin,dc=example,dc=test"
rootpw testpass
directory $DIR/ldapdb
access to attrs=userPassword
    by anonymous auth
    by self read
    by * none
access to *
    by * read
EOF
    cat > "$DIR/init.ldif" <<'EOF'
dn: dc=example,dc=test
objectClass: dcObject
objectClass: organization
dc: example
o: ldirectord test

dn: ou=people,dc=example,dc=test
objectClass: organizationalUnit
ou: people

dn: uid=ldirectord,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: ldirectord
cn: ldirectord test user
sn: test
mail: ldirectord@example.test
userPassword: testpass
EOF
    if [ ! -e "$DIR/ldapdb/data.mdb" ]; then
        slapadd -f "$DIR/slapd.conf" -l "$DIR/init.ldif" >"$DIR/slapadd.log" 2>&1 || fail "slapadd failed"
    fi
    urls="ldap://127.0.0.1:$p/ ldaps://127.0.0.1:$ps/"
    have_v6 && urls="$urls ldap://[::1]:$p/ ldaps://[::1]:$ps/"
    spawn "$DIR/slapd.log" /usr/sbin/slapd -d stats -f "$DIR/slapd.conf" -h "$urls"
    wait_until ldap_ready "$p" || fail "ldap port $p not ready"
    wait_until tcp_open 127.0.0.1 "$ps" || fail "ldaps port $ps not ready"
}

ldap_ready() {
    if command -v ldapsearch >/dev/null; then
        ldapsearch -x -LLL -o nettimeout=2 -H "ldap://127.0.0.1:$1" -b dc=example,dc=test -s base dn | grep -q '^dn:'
    else
        tcp_open 127.0.0.1 "$1"
    fi
}

# ---------------------------------------------------------------- mysql (mariadb)

mysql_available() {
    { [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]; } && command -v mariadb-install-db >/dev/null
}

mysql_start() {
    need_ports 1
    local p=${PORTS[0]} bind="127.0.0.1" user=()
    local mysqld=/usr/sbin/mariadbd
    [ -x "$mysqld" ] || mysqld=/usr/sbin/mysqld
    open_dir
    is_root && user=(--user=root)
    have_v6 && bind="127.0.0.1,::1"
    cat > "$DIR/init.sql" <<'EOF'
CREATE DATABASE IF NOT EXISTS ldirectord;
CREATE USER IF NOT EXISTS 'ldirectord'@'127.0.0.1' IDENTIFIED BY 'testpass';
CREATE USER IF NOT EXISTS 'ldirectord'@'::1' IDENTIFIED BY 'testpass';
CREATE USER IF NOT EXISTS 'ldirectord'@'localhost' IDENTIFIED BY 'testpass';
GRANT SELECT ON ldirectord.* TO 'ldirectord'@'127.0.0.1';
GRANT SELECT ON ldirectord.* TO 'ldirectord'@'::1';
GRANT SELECT ON ldirectord.* TO 'ldirectord'@'localhost';
CREATE TABLE IF NOT EXISTS ldirectord.t (id INT PRIMARY KEY, name VARCHAR(32) NOT NULL);
CREATE TABLE IF NOT EXISTS ldirectord.empty (id INT PRIMARY KEY);
INSERT IGNORE INTO ldirectord.t VALUES (1, 'one'), (2, 'two'), (3, 'three');
EOF
    if [ ! -d "$DIR/data/mysql" ]; then
        mariadb-install-db --no-defaults --datadir="$DIR/data" "${user[@]}" \
            --auth-root-authentication-method=normal --skip-test-db \
            >"$DIR/install-db.log" 2>&1 || fail "mariadb-install-db failed"
    fi
    spawn "$DIR/mysqld.log" "$mysqld" --no-defaults "${user[@]}" \
        --datadir="$DIR/data" --socket="$DIR/mysqld.sock" --pid-file="$DIR/mysqld.pid" \
        --port="$p" --bind-address="$bind" --skip-name-resolve --skip-log-bin \
        --innodb-buffer-pool-size=16M --innodb-log-file-size=8M --max-connections=50 \
        --init-file="$DIR/init.sql" --log-error="$DIR/mysqld.log"
    wait_until mysql_ready "$p" || fail "mysql port $p not ready"
}

mysql_ready() {
    if command -v mariadb >/dev/null; then
        mariadb --no-defaults -h 127.0.0.1 -P "$1" -u ldirectord -ptestpass --connect-timeout=2 \
            -N -e 'SELECT COUNT(*) FROM ldirectord.t' | grep -q '^3$'
    else
        tcp_open 127.0.0.1 "$1"
    fi
}

# ---------------------------------------------------------------- pgsql (postgresql)

pg_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/pg_ctl" ] && echo "$d"
    done | sort -V | tail -n 1
}

pgsql_available() { [ -n "$(pg_bindir)" ]; }

as_pg() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pgsql_start() {
    need_ports 1
    local p=${PORTS[0]} bin listen="127.0.0.1"
    bin=$(pg_bindir)
    open_dir
    have_v6 && listen="127.0.0.1,::1"
    mkdir -p "$DIR/pg"
    is_root && chown postgres: "$DIR/pg"
    if [ ! -f "$DIR/pg/data/PG_VERSION" ]; then
        as_pg "$bin/initdb" -D "$DIR/pg/data" -U postgres -E UTF8 --no-locale -N \
            --auth-local=trust --auth-host=scram-sha-256 >"$DIR/pg/initdb.log" 2>&1 ||
            fail "initdb failed"
    fi
    if is_root; then
        printf 'runuser -u postgres -- %q -D %q -m fast -w -t 15 stop\n' "$bin/pg_ctl" "$DIR/pg/data" > "$DIR/stop-hook"
    else
        printf '%q -D %q -m fast -w -t 15 stop\n' "$bin/pg_ctl" "$DIR/pg/data" > "$DIR/stop-hook"
    fi
    as_pg "$bin/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/postgres.log" -w -t "$READY_TIMEOUT" \
        -o "-c listen_addresses='$listen' -c port=$p -c unix_socket_directories='$DIR/pg' -c max_connections=30 -c shared_buffers=16MB -c fsync=off" \
        start >"$DIR/pg/pg_ctl.log" 2>&1 || fail "pg_ctl start failed"
    pid_from_file "$DIR/pg/data/postmaster.pid" || fail "no postmaster.pid"
    if [ ! -f "$DIR/pg/initialized" ]; then
        as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR/pg" -p "$p" -U postgres -d postgres \
            >"$DIR/pg/setup.log" 2>&1 <<'EOF' || fail "pgsql setup failed"
CREATE ROLE ldirectord LOGIN PASSWORD 'testpass';
CREATE DATABASE ldirectord OWNER ldirectord;
\c ldirectord
CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(32) NOT NULL);
CREATE TABLE empty (id INT PRIMARY KEY);
INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');
GRANT SELECT ON t, empty TO ldirectord;
EOF
        touch "$DIR/pg/initialized"
    fi
}

# ---------------------------------------------------------------- radius (freeradius)

radius_bin() {
    local b
    for b in /usr/sbin/freeradius /usr/sbin/radiusd; do
        [ -x "$b" ] && { echo "$b"; return 0; }
    done
    return 1
}

radius_available() { radius_bin >/dev/null && [ -d /usr/share/freeradius ]; }

radius_start() {
    need_ports 1
    local p=${PORTS[0]} bin v6listen=""
    bin=$(radius_bin)
    open_dir
    mkdir -p "$DIR/raddb" "$DIR/radrun" "$DIR/radlog"
    if have_v6; then
        v6listen="listen {
        type = auth
        ipv6addr = ::1
        port = $p
    }"
    fi
    # shellcheck disable=SC2016 # literal $INCLUDE
    echo '$INCLUDE /usr/share/freeradius/dictionary' > "$DIR/raddb/dictionary"
    cat > "$DIR/raddb/users" <<'EOF'
ldirectord  Cleartext-Password := "testpass"
            Reply-Message := "Hello, ldirectord"
EOF
    cat > "$DIR/raddb/radiusd.conf" <<EOF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = $DIR/radlog
raddbdir = $DIR/raddb
radacctdir = $DIR/radlog
name = freeradius
confdir = \${raddbdir}
modconfdir = \${confdir}
certdir = \${confdir}
cadir = \${confdir}
run_dir = $DIR/radrun
db_dir = $DIR/raddb
libdir = /usr/lib/freeradius
pidfile = $DIR/radrun/radiusd.pid
max_request_time = 10
cleanup_delay = 1
max_requests = 1024
hostname_lookups = no
log {
    destination = files
    file = $DIR/radlog/radius.log
    auth = yes
}
security {
    allow_core_dumps = no
    max_attributes = 200
    reject_delay = 0
    status_server = yes
}
thread pool {
    start_servers = 2
    max_servers = 4
    min_spare_servers = 1
    max_spare_servers = 3
    max_requests_per_server = 0
}
client localhost {
    ipaddr = 127.0.0.1
    secret = testing123
    require_message_authenticator = no
    nas_type = other
}
client localhost6 {
    ipv6addr = ::1
    secret = testing123
    require_message_authenticator = no
    nas_type = other
}
modules {
    files {
        filename = $DIR/raddb/users
    }
    pap {
    }
}
server default {
    listen {
        type = auth
        ipaddr = 127.0.0.1
        port = $p
    }
    $v6listen
    authorize {
        files
        pap
    }
    authenticate {
        Auth-Type PAP {
            pap
        }
    }
    post-auth {
    }
}
EOF
    if is_root && getent passwd freerad >/dev/null; then
        chown -R freerad:freerad "$DIR/raddb" "$DIR/radrun" "$DIR/radlog"
    fi
    spawn "$DIR/radlog/stderr.log" "$bin" -f -d "$DIR/raddb" -n radiusd -l "$DIR/radlog/radius.log"
    wait_until radius_ready "$p" || fail "radius port $p not ready"
}

radius_ready() {
    if command -v radclient >/dev/null; then
        echo 'User-Name = "ldirectord", User-Password = "testpass"' |
            radclient -q -r 1 -t 1 "127.0.0.1:$1" auth testing123
    else
        grep -q 'Ready to process requests' "$DIR/radlog/radius.log"
    fi
}

# ---------------------------------------------------------------- sip (kamailio)

sip_available() { [ -x /usr/sbin/kamailio ]; }

sip_start() {
    need_ports 1
    local p=${PORTS[0]}
    open_dir
    mkdir -p "$DIR/sip"
    {
        echo '#!KAMAILIO'
        echo 'debug=2'
        echo 'log_stderror=yes'
        echo 'memdbg=5'
        echo 'memlog=5'
        echo 'children=2'
        echo 'tcp_children=2'
        echo 'auto_aliases=no'
        echo 'dns=no'
        echo 'rev_dns=no'
        echo 'use_dns_cache=no'
        echo 'dns_try_ipv6=no'
        echo 'enable_tls=no'
        echo "listen=udp:127.0.0.1:$p"
        echo "listen=tcp:127.0.0.1:$p"
        if have_v6; then
            echo "listen=udp:[::1]:$p"
            echo "listen=tcp:[::1]:$p"
        fi
        echo 'server_header="Server: ldirectord-test-kamailio"'
        echo 'loadmodule "sl.so"'
        echo 'request_route {'
        echo '    if (method == "OPTIONS") {'
        echo '        sl_send_reply("200", "OK");'
        echo '        exit;'
        echo '    }'
        echo '    if (method != "ACK") {'
        echo '        sl_send_reply("405", "Method Not Allowed");'
        echo '    }'
        echo '    exit;'
        echo '}'
    } > "$DIR/sip/kamailio.cfg"
    spawn "$DIR/sip/kamailio.log" /usr/sbin/kamailio -DD -E -f "$DIR/sip/kamailio.cfg" \
        -P "$DIR/sip/kamailio.pid" -Y "$DIR/sip" -w "$DIR/sip" -m 32 -M 4
    wait_until sip_ready "$p" || fail "sip port $p not ready"
}

sip_ready() {
    local line
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-ready\r\nMax-Forwards: 70\r\nTo: <sip:ping@127.0.0.1>\r\nFrom: <sip:ready@127.0.0.1>;tag=1\r\nCall-ID: ready@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n' >&3
    IFS= read -r -t 2 line <&3
    exec 3<&-
    [[ $line == "SIP/2.0 200 OK"* ]]
}

# ---------------------------------------------------------------- nntp (sn + socat)

nntp_available() { [ -x /usr/sbin/snntpd ] && command -v socat >/dev/null; }

nntp_start() {
    need_ports 1
    local p=${PORTS[0]} su=""
    open_dir
    is_root && su=",su=news"
    mkdir -p "$DIR/sn/local.test"
    touch "$DIR/sn/.nopost"
    echo "ldirectord test group" > "$DIR/sn/local.test/.info"
    if is_root; then
        chown -R news:news "$DIR/sn"
    fi
    spawn "$DIR/nntp.log" env SNROOT="$DIR/sn" socat \
        "TCP4-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork" "EXEC:/usr/sbin/snntpd -t 60,nofork$su"
    if have_v6; then
        spawn "$DIR/nntp6.log" env SNROOT="$DIR/sn" socat \
            "TCP6-LISTEN:$p,bind=[::1],reuseaddr,fork,ipv6only=1" "EXEC:/usr/sbin/snntpd -t 60,nofork$su"
    fi
    wait_until tcp_greets 127.0.0.1 "$p" '^2' || fail "nntp port $p not ready"
}

# ---------------------------------------------------------------- dispatch

case "$NAME" in
    http|dns|ftp|smtp|mail|ldap|mysql|pgsql|radius|sip|nntp) ;;
    *) usage ;;
esac

case "$CMD" in
    available)
        "${NAME}_available"
        ;;
    start)
        [ -n "$DIR" ] || usage
        mkdir -p "$DIR" || exit 1
        DIR=$(cd "$DIR" && pwd) || exit 1
        "${NAME}_available" || { echo "ctl.sh: $NAME: not installed (run tests/servers/install.sh)" >&2; exit 3; }
        if [ -s "$DIR/pids" ]; then
            echo "ctl.sh: $NAME: already running in $DIR" >&2
            exit 1
        fi
        "${NAME}_start"
        exit 0
        ;;
    stop)
        [ -n "$DIR" ] || usage
        [ -d "$DIR" ] || exit 0
        DIR=$(cd "$DIR" && pwd) || exit 1
        do_stop
        ;;
    *)
        usage
        ;;
esac
