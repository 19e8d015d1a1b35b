# Bench run: sequential read of the whole virtio-blk disk with O_DIRECT, then
# idle so the host can read the VMM's memory, then power off.
if wait_for /sys/block/vda 20; then
    # busybox date has no %N: /proc/uptime gives 10 ms resolution.
    t0=$(cut -d' ' -f1 /proc/uptime)
    mib=$(dd if=/dev/vda of=/dev/null bs=1M count="$(arg diskmb)" iflag=direct 2>&1 |
          sed -n 's/^\([0-9]*\)+.* records in$/\1/p')
    say disk-read "$((mib * 1048576)) bytes from $t0 to $(cut -d' ' -f1 /proc/uptime)"
else
    say error "no virtio-blk disk"
fi
say idle now
sleep "$(arg idle)"
