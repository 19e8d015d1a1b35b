# Bench run: sequential read of the whole disk with O_DIRECT on each bus the
# VMM offers (virtio-blk, SATA through AHCI, NVMe), then idle so the host
# can read the VMM's memory, then power off.
# busybox date has no %N: /proc/uptime gives 10 ms resolution.
read_disk() {   # NAME DEV
    t0=$(cut -d' ' -f1 /proc/uptime)
    mib=$(dd if=/dev/$2 of=/dev/null bs=1M count="$(arg diskmb)" iflag=direct 2>&1 |
          sed -n 's/^\([0-9]*\)+.* records in$/\1/p')
    say disk-read-$1 "$((mib * 1048576)) bytes from $t0 to $(cut -d' ' -f1 /proc/uptime)"
}
if wait_for /sys/block/vda 20; then read_disk virtio vda; else say error "no virtio-blk disk"; fi
# The SATA and NVMe disks exist only where the VMM has those controllers.
if [ "$(arg buses)" = all ]; then
    if wait_for /sys/block/sda 30; then read_disk sata sda; else say error "no SATA disk"; fi
    if wait_for /sys/block/nvme0n1 30; then read_disk nvme nvme0n1; else say error "no NVMe disk"; fi
fi
say idle now
sleep "$(arg idle)"
