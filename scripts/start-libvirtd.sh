#!/usr/bin/env bash
# Makes sure a libvirtd with the QEMU driver answers on qemu:///system: reuses a running one,
# otherwise starts virtlogd and libvirtd (as root, or through sudo). Prints the virt type
# guests should use: "kvm" when /dev/kvm works, else "qemu" (TCG).
set -euo pipefail

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"

answers() { $sudo virsh -c qemu:///system version >/dev/null 2>&1; }

# Starts a daemon with no stdio and no other descriptor of ours: whoever runs this script
# (a test reading its output to the end, say) must never wait on a daemon holding its pipe.
daemon() {
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [[ $fd -gt 2 ]] && eval "exec $fd>&-" 2>/dev/null
        done
        exec $sudo "$@" </dev/null >/dev/null 2>&1
    )
}

if ! answers; then
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        $sudo systemctl start virtlogd libvirtd >/dev/null 2>&1 || true
    fi
fi
# Whether this host's daemon runs, by its pid file (/run/NAME.pid): a second libvirtd and
# virtlogd (scripts/second-host.sh's host B) may run beside it with pid files of their own, so a
# search by name would find theirs.
running() {
    local pid
    pid=$(cat "/run/$1.pid" 2>/dev/null) && [[ -n $pid ]] && $sudo kill -0 "$pid" 2>/dev/null
}

if ! answers; then
    getent group kvm >/dev/null || $sudo groupadd -r kvm
    getent group libvirt-qemu >/dev/null || $sudo groupadd -r libvirt-qemu
    getent passwd libvirt-qemu >/dev/null || $sudo useradd -r -g libvirt-qemu -G kvm libvirt-qemu
    $sudo mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt/images
    [[ -e /dev/kvm ]] && $sudo chgrp kvm /dev/kvm && $sudo chmod 660 /dev/kvm
    running virtlogd || daemon virtlogd -d
    # Right after a libvirtd was killed, a new one can exit at once (its old pid file and
    # sockets are still being released): try a few times.
    for _attempt in 1 2 3 4 5; do
        running libvirtd || daemon libvirtd -d || true
        for _ in $(seq 1 50); do answers && break 2; sleep 0.1; done
    done
fi
if ! answers; then
    echo "libvirtd did not answer on qemu:///system" >&2
    exit 1
fi

# The base network filters ship as files that libvirtd reads at its start; one that was
# already running when they were installed has not: define them now.
if [[ -d /etc/libvirt/nwfilter ]] && ! $sudo virsh -c qemu:///system nwfilter-list 2>/dev/null | grep -qw clean-traffic; then
    for _pass in 1 2; do
        for file in /etc/libvirt/nwfilter/*.xml; do
            $sudo virsh -c qemu:///system nwfilter-define "$file" >/dev/null 2>&1 || true
        done
    done
fi

# KVM only when the device opens; otherwise guests run under TCG.
if [[ -r /dev/kvm && -w /dev/kvm ]] && $sudo virsh -c qemu:///system domcapabilities --virttype kvm >/dev/null 2>&1; then
    echo kvm
else
    echo qemu
fi
