# Pseudo filesystems and the writable tmpfs areas of the read-only system.
mountpoint -q /proc || mount -t proc -o nosuid,noexec,nodev proc /proc
mountpoint -q /sys || mount -t sysfs -o nosuid,noexec,nodev sys /sys
mountpoint -q /dev || mount -t devtmpfs -o mode=0755,nosuid dev /dev
mkdir -p /dev/pts /dev/shm
mountpoint -q /dev/pts || mount -t devpts -o mode=0620,gid=5,nosuid,noexec devpts /dev/pts
mountpoint -q /dev/shm || mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
mountpoint -q /run || mount -t tmpfs -o mode=0755,nosuid,nodev,size=32m run /run
mountpoint -q /tmp || mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmp /tmp
mkdir -p /run/lock /run/empty
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
