# vmm.sh: one command line for the VMM under test (sourced).  Swapping QEMU
# for Hangar is the value of HANGAR_VMM:
#   qemu-q35       qemu-system-x86_64 -M q35, virtio-pci devices
#   qemu-microvm   qemu-system-x86_64 -M microvm, virtio-mmio devices
#   PATH           a hangarctl binary
# Callers set vm_kernel vm_initrd vm_append vm_mem vm_cpus vm_serial
# vm_console (file or empty), vm_disks (array of image paths), vm_sata,
# vm_nvme, vm_cdrom (one image each, optional), vm_hostfwd
# (array of HOSTPORT-:GUESTPORT) and vm_bootexit (1: QEMU exits at the
# boot-timer write), then call hgr_vmm_argv VMM, which fills vm_argv.

hgr_vmm_argv() {
    local vmm=$1 i
    vm_argv=()
    case "$vmm" in
        qemu-q35|qemu-microvm) _hgr_qemu_argv "${vmm#qemu-}";;
        *)
            vm_argv=("$vmm" run --kernel "$vm_kernel" --initrd "$vm_initrd" --append "$vm_append"
                     --memory "$vm_mem" --cpus "$vm_cpus" --serial "$vm_serial")
            [ -n "${vm_console:-}" ] && vm_argv+=(--console "$vm_console")
            for i in "${vm_disks[@]}"; do vm_argv+=(--disk "$i,format=raw"); done
            [ -n "${vm_sata:-}" ] && vm_argv+=(--disk "$vm_sata,format=raw,bus=sata")
            [ -n "${vm_nvme:-}" ] && vm_argv+=(--disk "$vm_nvme,format=raw,bus=nvme")
            [ -n "${vm_cdrom:-}" ] && vm_argv+=(--cdrom "$vm_cdrom")
            local net=user
            for i in "${vm_hostfwd[@]}"; do net+=",hostfwd=tcp:$i"; done
            vm_argv+=(--net "$net")
            ;;
    esac
}

_hgr_qemu_argv() {
    local machine=$1 bus=pci i n=0 fwd=""
    local -a m
    if [ "$machine" = microvm ]; then
        bus=device
        m=(-M microvm)
    else
        m=(-M q35)
    fi
    vm_argv=(qemu-system-x86_64 "${m[@]}" -enable-kvm -cpu "${QEMU_CPU:-host}" -m "$vm_mem"
             -smp "$vm_cpus" -nodefaults -no-user-config -display none
             -serial "file:$vm_serial" -kernel "$vm_kernel" -initrd "$vm_initrd" -append "$vm_append")
    for i in "${vm_disks[@]}"; do
        vm_argv+=(-drive "file=$i,format=raw,if=none,id=disk$n" -device "virtio-blk-$bus,drive=disk$n")
        n=$((n + 1))
    done
    for i in "${vm_hostfwd[@]}"; do fwd+=",hostfwd=tcp:127.0.0.1:$i"; done
    vm_argv+=(-netdev "user,id=net0$fwd" -device "virtio-net-$bus,netdev=net0"
              -object rng-random,id=rng0,filename=/dev/urandom -device "virtio-rng-$bus,rng=rng0")
    # q35 has its ICH9 AHCI built in (ide.0 ...); microvm has no AHCI or NVMe.
    if [ "$machine" = q35 ]; then
        [ -n "${vm_sata:-}" ] && vm_argv+=(-drive "file=$vm_sata,format=raw,if=none,id=sata0"
                                           -device ide-hd,drive=sata0,bus=ide.0)
        [ -n "${vm_cdrom:-}" ] && vm_argv+=(-drive "file=$vm_cdrom,format=raw,if=none,id=cd0,media=cdrom"
                                            -device ide-cd,drive=cd0,bus=ide.1)
        [ -n "${vm_nvme:-}" ] && vm_argv+=(-drive "file=$vm_nvme,format=raw,if=none,id=nvme0"
                                           -device nvme,drive=nvme0,serial=hangar)
    fi
    if [ -n "${vm_console:-}" ]; then
        vm_argv+=(-device "virtio-serial-$bus" -chardev "file,id=con0,path=$vm_console"
                  -device virtconsole,chardev=con0)
    fi
    [ "${vm_bootexit:-0}" = 1 ] && vm_argv+=(-device isa-debug-exit,iobase=0x501,iosize=1)
    return 0
}
