#!/usr/bin/env sh
# Create the Docker secrets docker-compose.yml reads, once, with random values.
# Existing files are kept, so running it again never changes a password in use.
# Usage: ops/make-secrets.sh [DIR]   (default: ops/secrets next to this script)
set -eu
dir="${1:-$(dirname "$0")/secrets}"
mkdir -p "$dir"
chmod 700 "$dir"
for name in redis_admin_password redis_password grafana_admin_password; do
    file="$dir/$name.txt"
    if [ ! -s "$file" ]; then
        # 32 characters of [A-Za-z0-9]: safe in URLs, ACL lines and shell words.
        LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 >"$file"
        # Readable inside the containers (compose mounts the file as it is); the
        # directory (0700) keeps other users of this machine out.
        chmod 644 "$file"
        echo "created $file"
    fi
done
