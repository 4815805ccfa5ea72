#!/usr/bin/env bash
# Builds the tiny Linux test guest (a shell on the serial console, the QEMU guest agent, user-mode
# networking) from Debian packages, fetched with `apt-get download` and unpacked with `dpkg -x`,
# never installed: the cloud kernel, busybox-static and qemu-guest-agent. The result is cached
# under .build/tiny-guest/<key>, the key made of the package versions and this script, and the
# directory (vmlinuz, initrd.gz) is printed on stdout. Boots in 6–9 s under TCG with 96 MiB or
# more (64 MiB is too little: the kernel's init_size is 51.5 MiB). Needs root (dpkg -x ownership).
set -euo pipefail
cd "$(dirname "$0")/.."
base=$PWD/.build/tiny-guest

kernel_package=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
[[ -n $kernel_package ]] || { echo "tiny-guest: no linux-image-cloud-amd64 in apt's lists (apt-get update?)" >&2; exit 1; }
packages=("$kernel_package" busybox-static qemu-guest-agent)
versions=""
for package in "${packages[@]}"; do
    versions+="$package=$(apt-cache policy "$package" | awk '/Candidate:/{print $2}') "
done
key=$( { echo "$versions"; cat "$0"; } | sha256sum | cut -c1-16)
out=$base/$key
if [[ -s $out/vmlinuz && -s $out/initrd.gz ]]; then echo "$out"; exit 0; fi

mkdir -p "$base"; work=$(mktemp -d "$base/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/x"
(cd "$work/debs" && apt-get download -q "${packages[@]}" >&2)
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/x"; done
X=$work/x R=$work/root
kver=$(ls "$X/lib/modules" | head -1)
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib/modules,lib64,etc,proc,sys,dev,run,tmp,root,var/log,mnt}
ln -s ../run "$R/var/run"
cp "$X/bin/busybox" "$R/bin/busybox"
# The virtio drivers are modules in the cloud kernel, without modules.dep: loaded in this order.
modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
 virtio_console failover net_failover virtio_net virtio-rng virtio_balloon button evdev"
for m in $modules; do cp "$(find "$X/lib/modules/$kver" -name "$m.ko*" | head -1)" "$R/lib/modules/"; done
# qemu-ga with its shared libraries from the host (the same Debian release).
cp "$X/usr/sbin/qemu-ga" "$R/usr/sbin/"
for l in $(ldd "$X/usr/sbin/qemu-ga" | grep -o '/[^ ]*'); do
    case $l in */ld-linux*) cp -L "$l" "$R/lib64/" ;; *) mkdir -p "$R$(dirname "$l")"; cp -L "$l" "$R$l" ;; esac
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'root:*:19000:0:99999:7:::' > "$R/etc/shadow"; chmod 600 "$R/etc/shadow"
echo 'root:x:0:' > "$R/etc/group"
printf 'PRETTY_NAME="tinyguest (Debian 12 busybox)"\nNAME="tinyguest"\nID=tinyguest\nVERSION_ID="12"\n' > "$R/etc/os-release"
echo 'export PS1="tinyguest# " PATH=/sbin:/usr/sbin:/bin:/usr/bin' > "$R/etc/profile"
cat > "$R/etc/inittab" <<'EOF'
::sysinit:/etc/rc
ttyS0::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
EOF
# qemu-ga's guest-shutdown runs '/sbin/shutdown -h -P|-H|-r +0 msg' and waits for its exit: act later.
printf '#!/bin/sh\na=poweroff; for x; do case $x in -r) a=reboot;; -H) a=halt;; esac; done\n(sleep 1; $a) >/dev/null 2>&1 &\n' > "$R/sbin/shutdown"
# qemu-ga's guest-set-user-password runs chpasswd [-e] with "user:pass" on stdin; busybox-static has none.
cat > "$R/usr/sbin/chpasswd" <<'EOF'
#!/bin/sh
IFS=: read -r u p || exit 1
[ "$1" = "-e" ] || p=$(mkpasswd -m sha512 "$p") || exit 1
grep -q "^$u:" /etc/passwd || exit 1
grep -v "^$u:" /etc/shadow > /etc/shadow.new
echo "$u:$p:19000:0:99999:7:::" >> /etc/shadow.new && mv /etc/shadow.new /etc/shadow
EOF
printf '#!/bin/sh\n[ "$1" = bound ] || exit 0\nip addr add $ip/${mask:-24} dev $interface\n[ -n "$router" ] && ip route add default via ${router%%%% *}\nexit 0\n' > "$R/etc/udhcpc.sh"
# busybox's acpid runs /etc/acpi/<ACTION>/<PARAMETER> for an event: the power button's is
# PWRF/00000080 (its own map of KEY_POWER from /dev/input/event*, which button and evdev give).
mkdir -p "$R/etc/acpi/PWRF"
printf '#!/bin/sh\npoweroff\n' > "$R/etc/acpi/PWRF/00000080"
cat > "$R/etc/rc" <<'EOF'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null; mkdir -p /dev/pts /dev/virtio-ports; mount -t devpts devpts /dev/pts
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
  virtio_console failover net_failover virtio_net virtio-rng virtio_balloon button evdev; do
  insmod /lib/modules/$m.ko 2>/dev/null; done
hostname tinyguest; ip link set lo up
# No udev: the /dev/virtio-ports/<name> links by hand, once the agent's port shows up.
i=0; while [ $i -lt 50 ] && ! cat /sys/class/virtio-ports/*/name 2>/dev/null | grep -q guest_agent; do usleep 100000; i=$((i+1)); done
for p in /sys/class/virtio-ports/*; do [ -e $p/name ] && ln -sf /dev/${p##*/} /dev/virtio-ports/$(cat $p/name); done
qemu-ga -d -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -l /var/log/qemu-ga.log -f /run/qemu-ga.pid
acpid
[ -e /sys/class/net/eth0 ] && { ip link set eth0 up; udhcpc -b -q -i eth0 -s /etc/udhcpc.sh >/dev/null 2>&1; }
echo "VIRTHOST-GUEST-READY $(cut -d' ' -f1 /proc/uptime)s" > /dev/ttyS0
EOF
cat > "$R/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s
exec /sbin/init
EOF
chmod 755 "$R/init" "$R/etc/rc" "$R/etc/acpi/PWRF/00000080" "$R/sbin/shutdown" "$R/usr/sbin/chpasswd" "$R/etc/udhcpc.sh"
# No cpio on the host: busybox's.
mkdir -p "$work/out"
cp "$X/boot/vmlinuz-$kver" "$work/out/vmlinuz"
(cd "$R" && find . | "$X/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -9) > "$work/out/initrd.gz"
echo "$versions" > "$work/out/packages"
chmod 755 "$work/out"; chmod 644 "$work/out"/*
mkdir -p "$base"
rm -rf "$out"; mv "$work/out" "$out"
echo "$out"
