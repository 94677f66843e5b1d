#!/bin/sh
# Wait (up to 5 minutes) for the leadcenter service to render the configuration, then run Asterisk in the
# foreground. Inside its container Asterisk runs as the container's root; what it writes into the shared volume
# (recordings, voicemail, logs) is readable by its owner only, as on a single machine (docs/security.md).
set -eu
umask 077
conf=/srv/leadcenter/etc/asterisk.conf
i=0
while [ ! -f "$conf" ]; do
  i=$((i + 1))
  [ "$i" -le 300 ] || { echo "no $conf after 5 minutes: is the leadcenter service running?" >&2; exit 1; }
  [ $((i % 10)) -eq 1 ] && echo "waiting for $conf (rendered by the leadcenter service)..."
  sleep 1
done
exec /usr/sbin/asterisk -f -n -C "$conf"
