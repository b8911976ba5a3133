#!/bin/sh
# Entrypoint of the mechafil-api image.
#
# Fly mounts the volume at /data owned by root, over whatever the image had there. Started as
# root (the default), this hands the data directory to the unprivileged `mechafil` user, then
# replaces itself with the command run as that user: the service never runs as root, and the
# signal Fly sends reaches it directly (exec, no shell left in between). Files a maintenance
# command created as root (`fly ssh console`) are handed over again at the next boot.
set -eu

if [ "$(id -u)" = "0" ]; then
    data_dir="${MECHAFIL_DATA_DIR:-/data}"
    mkdir -p "$data_dir"
    chown -R mechafil:mechafil "$data_dir"
    exec setpriv --reuid=mechafil --regid=mechafil --init-groups -- "$@"
fi

exec "$@"
