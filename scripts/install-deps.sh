#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages virthost needs, only those that are missing.
#   scripts/install-deps.sh           build and run: libvirt-dev, libmicrohttpd-dev, libxml2-dev, zlib1g-dev,
#                                     libyaml-dev, pkg-config, genisoimage (first-boot disks)
#   scripts/install-deps.sh --test    also libvirtd with QEMU, qemu-img, virsh, cloud-init, Python tools,
#                                     Chromium and its driver (the browser-safety tests)
set -euo pipefail

packages=(libvirt-dev libmicrohttpd-dev libxml2-dev zlib1g-dev libyaml-dev pkg-config
          genisoimage)  # writes first-boot disks' ISO images (and gives the tests isoinfo)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils libvirt-clients
               python3 python3-venv curl openssl procps ovmf
               cloud-init  # its `cloud-init schema` checks user data beside the service's own check
               libvirt-daemon-config-nwfilter iproute2 ebtables iptables
               prometheus  # promtool, which lints the /metrics exposition in the tests
               chromium chromium-driver)  # a real browser for the browser-safety tests
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
