#!/bin/sh
# Start redis-server with its ACL users built from Docker secrets at start-up, so no
# password sits in the repository, an image layer or the process arguments.
#   default     the admin user (everything), password: secret redis_admin_password
#   streamtune  the application: only keys under streamtune:*, no @dangerous commands
#               (KEYS, FLUSHALL, CONFIG, ...), password: secret redis_password
set -eu
umask 077
conf=/run/redis/redis.conf
admin="$(cat /run/secrets/redis_admin_password)"
app="$(cat /run/secrets/redis_password)"
{
    echo "include /etc/streamtune/redis.conf"
    echo "user default on >${admin} ~* &* +@all"
    echo "user streamtune on >${app} ~streamtune:* &* +@all -@dangerous"
} >"$conf"
exec redis-server "$conf"
