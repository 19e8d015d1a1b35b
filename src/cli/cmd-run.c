/* hangarctl run — boot a kernel in a new VM, serial on the terminal, and
 * exit when the guest powers off. */
#include <errno.h>
#include <hangar/vm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hangarctl.h"
#include "run-screenshots.h"

static const char run_description[] =
    "Examples:\n"
    "  hangarctl run --kernel /boot/vmlinuz --initrd initrd.img --append console=ttyS0\n"
    "  hangarctl run --kernel bzImage --memory 1024 --cpus 2 \\\n"
    "      --disk disk.img --disk data.img,readonly=on \\\n"
    "      --net user,hostfwd=tcp:2222-:22 --serial serial.log\n"
    "  hangarctl run --firmware bios --disk disk.img\n"
    "  hangarctl run --firmware bios --disk disk.img --cdrom install.iso --boot cdrom\n"
    "  hangarctl run --firmware uefi --nvram vm-vars.fd --disk disk.qcow2,format=qcow2,bus=sata\n"
    "\n"
    "--firmware none (the default) boots the --kernel directly; --firmware bios\n"
    "runs SeaBIOS (the seabios package),\n"
    "which boots from the first disk (or what --boot names) and shows its screen on\n"
    "the serial port, and gives the guest ACPI tables.\n"
    "--firmware uefi runs OVMF (the ovmf package) the same way; with --kernel it\n"
    "boots that kernel (its EFI stub) with --initrd and --append. UEFI keeps its\n"
    "boot entries and settings in a variable store: --nvram FILE keeps them in\n"
    "FILE (made from OVMF_VARS_4M.fd when it does not exist yet); without\n"
    "--nvram the VM gets empty variables that are thrown away when it ends.\n"
    "A damaged FILE is refused, never rewritten: 'hangarctl firmware reset-vars\n"
    "FILE' empties it.\n"
    "--screenshot-at 5:boot.png saves the screen 5 seconds after the start (repeat\n"
    "it for more), --screenshot when the VM ends.\n"
    "\n"
    "The guest's first serial port (ttyS0) is on this terminal unless --serial says\n"
    "otherwise; press Ctrl-A then X to pull the plug. Disks appear in the guest as\n"
    "virtio disks /dev/vda, /dev/vdb, ... in the order given; bus=sata puts one on\n"
    "the AHCI controller (/dev/sdX), bus=nvme on its own NVMe controller\n"
    "(/dev/nvmeXn1). --cdrom adds a SATA CD-ROM drive (/dev/sr0). With --net user the\n"
    "guest gets 10.0.2.15 by DHCP, reaches the host as 10.0.2.2 and DNS at 10.0.2.3.\n"
    "\n"
    "Exit status: 0 when the guest powers off, 1 on an error or a failed VM,\n"
    "2 on a usage error, 128+N when stopped by signal N.";

typedef struct {
    char *kernel, *initrd, *append, *serial, *console, *kvm, *firmware, *cdrom, *boot, *screenshot;
    char *nvram, *firmware_file, *uuid;
    char **disks, **nets, **shots_at;
    int memory, cpus;
} RunOptions;

static bool parse_bool(const char *v, bool *out)
{
    if (!g_ascii_strcasecmp(v, "on") || !strcmp(v, "1") || !g_ascii_strcasecmp(v, "yes")) {
        *out = true;
        return true;
    }
    if (!g_ascii_strcasecmp(v, "off") || !strcmp(v, "0") || !g_ascii_strcasecmp(v, "no")) {
        *out = false;
        return true;
    }
    return false;
}

static bool parse_bus(const char *v, HgrDiskBus *bus)
{
    static const struct { const char *name; HgrDiskBus bus; } buses[] = {
        { "virtio", HGR_DISK_BUS_VIRTIO }, { "sata", HGR_DISK_BUS_SATA },
        { "nvme", HGR_DISK_BUS_NVME },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(buses); i++) {
        if (!strcmp(v, buses[i].name)) {
            *bus = buses[i].bus;
            return true;
        }
    }
    return false;
}

/* PATH[,format=raw|qcow2][,readonly=on][,bus=virtio|sata|nvme] */
static bool parse_disk(HgrVmConfig *c, const char *spec, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    bool readonly = false;
    HgrDiskFormat format = HGR_DISK_FORMAT_RAW;
    HgrDiskBus bus = HGR_DISK_BUS_VIRTIO;

    if (!parts[0] || !*parts[0]) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--disk %s: no path given", spec);
        return false;
    }
    for (int i = 1; parts[i]; i++) {
        const char *eq = strchr(parts[i], '=');
        g_autofree char *key = eq ? g_strndup(parts[i], eq - parts[i]) : g_strdup(parts[i]);
        const char *val = eq ? eq + 1 : "";
        if (!strcmp(key, "format")) {
            if (!strcmp(val, "qcow2")) {
                format = HGR_DISK_FORMAT_QCOW2;
            } else if (strcmp(val, "raw") != 0) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "--disk %s: format '%s' is not supported (use raw or qcow2)",
                            parts[0], val);
                return false;
            }
        } else if (!strcmp(key, "readonly")) {
            if (!parse_bool(val, &readonly)) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "--disk %s: readonly takes on or off, not '%s'", parts[0], val);
                return false;
            }
        } else if (!strcmp(key, "bus")) {
            if (!parse_bus(val, &bus)) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "--disk %s: bus '%s' is not one of virtio, sata, nvme", parts[0],
                            val);
                return false;
            }
        } else {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--disk %s: unknown option '%s' (known: format, readonly, bus)",
                        parts[0], key);
            return false;
        }
    }
    hgr_vm_config_add_disk(c, parts[0], format, readonly)->bus = bus;
    return true;
}

static bool parse_port(const char *s, uint16_t *port)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* tcp:[HOSTADDR:]HOSTPORT-[GUESTADDR]:GUESTPORT, QEMU's spelling (also tcp::P-:P). */
static bool parse_hostfwd(HgrNetConfig *n, const char *spec, GError **error)
{
    const char *dash = strchr(spec, '-');
    const char *colon = strchr(spec, ':');
    g_autofree char *proto = NULL, *host = NULL, *host_addr = NULL;
    bool udp;

    if (!dash || !colon || colon > dash)
        goto bad;
    proto = g_strndup(spec, colon - spec);
    if (!strcmp(proto, "tcp") || !*proto)
        udp = false;
    else if (!strcmp(proto, "udp"))
        udp = true;
    else
        goto bad;
    host = g_strndup(colon + 1, dash - colon - 1);
    const char *hp = strrchr(host, ':');
    host_addr = hp && hp != host ? g_strndup(host, hp - host) : NULL;
    const char *host_port_s = hp ? hp + 1 : host;
    const char *guest = dash + 1;
    const char *gp = strrchr(guest, ':');
    const char *guest_port_s = gp ? gp + 1 : guest;
    uint16_t host_port, guest_port;
    if (!parse_port(host_port_s, &host_port) || !parse_port(guest_port_s, &guest_port))
        goto bad;
    hgr_net_config_add_hostfwd(n, udp, host_addr, host_port, guest_port);
    return true;
bad:
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "hostfwd=%s: expected tcp:HOSTPORT-:GUESTPORT (e.g. hostfwd=tcp:2222-:22)",
                spec);
    return false;
}

/* user[,hostfwd=...]... */
static bool parse_net(HgrVmConfig *c, const char *spec, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);

    if (g_strcmp0(parts[0], "user") != 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--net %s: only 'user' networking is supported", spec);
        return false;
    }
    HgrNetConfig *n = hgr_vm_config_add_net(c);
    for (int i = 1; parts[i]; i++) {
        if (!g_str_has_prefix(parts[i], "hostfwd=")) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--net %s: unknown option '%s' (known: hostfwd)", spec, parts[i]);
            return false;
        }
        if (!parse_hostfwd(n, parts[i] + strlen("hostfwd="), error))
            return false;
    }
    return true;
}

static HgrVmConfig *build_config(const RunOptions *o, GError **error)
{
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();

    if (!o->kernel && !o->firmware) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "give --kernel, or --firmware bios|uefi to boot from a disk");
        return NULL;
    }
    const char *fw = o->firmware ? o->firmware : "none";
    if (!strcmp(fw, "bios")) {
        c->firmware = HGR_FIRMWARE_BIOS;
    } else if (!strcmp(fw, "uefi")) {
        c->firmware = HGR_FIRMWARE_UEFI;
    } else if (strcmp(fw, "none")) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--firmware %s: expected bios, uefi or none", fw);
        return NULL;
    } else if (!o->kernel) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--firmware none needs --kernel");
        return NULL;
    }
    if (o->firmware_file && c->firmware == HGR_FIRMWARE_NONE) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--firmware-file needs --firmware bios or uefi");
        return NULL;
    }
    if (o->nvram && c->firmware != HGR_FIRMWARE_UEFI) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--nvram is the UEFI variable store: it needs --firmware uefi");
        return NULL;
    }
    if (o->boot && !strcmp(o->boot, "cdrom")) {
        c->boot = HGR_BOOT_CDROM;
    } else if (o->boot && !strcmp(o->boot, "disk")) {
        c->boot = HGR_BOOT_DISK;
    } else if (o->boot) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--boot %s: expected cdrom or disk", o->boot);
        return NULL;
    }
    if (o->uuid && !g_uuid_string_is_valid(o->uuid)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--uuid %s: expected a UUID like 4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55 "
                    "(cat /proc/sys/kernel/random/uuid makes one)", o->uuid);
        return NULL;
    }
    if (o->memory <= 0 || o->cpus <= 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--memory and --cpus must be positive");
        return NULL;
    }
    c->kernel = g_strdup(o->kernel);
    c->initrd = g_strdup(o->initrd);
    if (o->kernel)
        c->cmdline = g_strdup(o->append ? o->append : "console=ttyS0");
    c->memory_mib = (uint64_t)o->memory;
    c->cpus = (unsigned)o->cpus;
    c->kvm_path = g_strdup(o->kvm);
    c->console_path = g_strdup(o->console);
    c->cdrom = g_strdup(o->cdrom);
    c->nvram_path = g_strdup(o->nvram);
    c->firmware_path = g_strdup(o->firmware_file);
    c->uuid = g_strdup(o->uuid);
    if (!o->serial || !strcmp(o->serial, "stdio")) {
        c->serial = HGR_SERIAL_STDIO;
    } else if (!strcmp(o->serial, "none")) {
        c->serial = HGR_SERIAL_NONE;
    } else {
        c->serial = HGR_SERIAL_FILE;
        c->serial_path = g_strdup(o->serial);
    }
    for (char **d = o->disks; d && *d; d++)
        if (!parse_disk(c, *d, error))
            return NULL;
    for (char **n = o->nets; n && *n; n++)
        if (!parse_net(c, *n, error))
            return NULL;
    return g_steal_pointer(&c);
}

/* The UEFI variable store: --nvram FILE (made on first use), or a copy in
 * a scratch directory that *scratch names and the caller removes. */
static bool prepare_nvram(HgrVmConfig *c, char **scratch, GError **error)
{
    if (c->nvram_path) {
        if (access(c->nvram_path, F_OK) == 0)
            return true;
        if (!hgr_firmware_reset_vars(c->nvram_path, error))
            return false;
        fprintf(stderr, "hangarctl: made the UEFI variable store %s\n", c->nvram_path);
        return true;
    }
    *scratch = g_dir_make_tmp("hangar-nvram-XXXXXX", error);
    if (!*scratch)
        return false;
    c->nvram_path = g_build_filename(*scratch, "nvram.fd", NULL);
    return hgr_firmware_reset_vars(c->nvram_path, error);
}

/* Signals: a thread waits for them and stops the VM. */
static HgrVm *signal_vm;
static volatile int stop_signal;

static void *signal_thread(void *data)
{
    sigset_t *set = data;
    int sig;

    if (sigwait(set, &sig) == 0) {
        stop_signal = sig;
        if (signal_vm)
            hgr_vm_stop(signal_vm);
    }
    return NULL;
}

static void on_booted(HgrVm *vm, uint64_t ns, void *data)
{
    fprintf(stderr, "boot-time-ms: %.1f\n", ns / 1e6);
}

int hgr_cmd_run(int argc, char **argv)
{
    RunOptions o = { .memory = 512, .cpus = 1 };
    GOptionEntry entries[] = {
        { "kernel", 'k', 0, G_OPTION_ARG_FILENAME, &o.kernel,
          "Linux kernel to boot (a bzImage)", "PATH" },
        { "firmware", 0, 0, G_OPTION_ARG_STRING, &o.firmware,
          "bios, uefi or none (default: none, direct boot of --kernel)", "FW" },
        { "nvram", 0, 0, G_OPTION_ARG_FILENAME, &o.nvram,
          "With --firmware uefi: keep UEFI variables in FILE (default: thrown away)", "FILE" },
        { "initrd", 'i', 0, G_OPTION_ARG_FILENAME, &o.initrd, "Initial ramdisk", "PATH" },
        { "append", 'a', 0, G_OPTION_ARG_STRING, &o.append,
          "Kernel command line (default: console=ttyS0)", "STR" },
        { "memory", 'm', 0, G_OPTION_ARG_INT, &o.memory, "Guest memory in MiB (default 512)",
          "MIB" },
        { "cpus", 'c', 0, G_OPTION_ARG_INT, &o.cpus, "Number of vCPUs (default 1)", "N" },
        { "disk", 'd', 0, G_OPTION_ARG_FILENAME_ARRAY, &o.disks,
          "Add a disk: PATH[,format=raw|qcow2][,readonly=on][,bus=virtio|sata|nvme]",
          "SPEC" },
        { "net", 'n', 0, G_OPTION_ARG_STRING_ARRAY, &o.nets,
          "Add a NIC: user[,hostfwd=tcp:HOSTPORT-:GUESTPORT]...", "SPEC" },
        { "serial", 's', 0, G_OPTION_ARG_FILENAME, &o.serial,
          "Serial port: stdio (default), none, or a file to write", "WHERE" },
        { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, &o.screenshot,
          "Save the screen as a PNG when the VM ends (firmware boots have a screen)",
          "PNG" },
        { "screenshot-at", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.shots_at,
          "Save the screen as a PNG this many seconds after the VM starts (repeatable)",
          "SECONDS:PNG" },
        { "cdrom", 0, 0, G_OPTION_ARG_FILENAME, &o.cdrom,
          "Put an ISO image in the SATA CD-ROM drive", "ISO" },
        { "boot", 0, 0, G_OPTION_ARG_STRING, &o.boot,
          "With --firmware bios|uefi: boot cdrom or disk (the first --disk) first", "DEV" },
        { "console", 0, 0, G_OPTION_ARG_FILENAME, &o.console,
          "Add a virtio console (hvc0) whose output goes to FILE", "FILE" },
        { "firmware-file", 0, 0, G_OPTION_ARG_FILENAME, &o.firmware_file,
          "The firmware image instead of the packaged one (say, OVMF_CODE_4M.secboot.fd)",
          "PATH" },
        { "uuid", 0, 0, G_OPTION_ARG_STRING, &o.uuid,
          "The machine's UUID the guest sees in SMBIOS (default: all zeros)", "UUID" },
        { "kvm", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &o.kvm,
          "KVM device (default /dev/kvm)", "PATH" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- boot a Linux kernel in a VM");
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrVmConfig) config = NULL;
    g_autoptr(HgrVm) vm = NULL;
    g_autofree char *scratch = NULL;    /* the per-run variable store's directory */
    g_autoptr(HgrRunShots) shots = NULL;
    int status = 1;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx, run_description);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "hangarctl run: %s\n", error->message);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "hangarctl run: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    config = build_config(&o, &error);
    if (!config) {
        fprintf(stderr, "hangarctl run: %s\n", error->message);
        status = 2;
        goto out;
    }
    shots = hgr_run_shots_new(o.shots_at, &error);
    if (!shots) {
        fprintf(stderr, "hangarctl run: %s\n", error->message);
        status = 2;
        goto out;
    }

    if (config->firmware == HGR_FIRMWARE_UEFI && !prepare_nvram(config, &scratch, &error)) {
        fprintf(stderr, "hangarctl: %s\n", error->message);
        goto out;
    }

    /* Block the stop signals in every thread; one thread waits for them. */
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    vm = hgr_vm_new(config, &error);
    if (!vm) {
        fprintf(stderr, "hangarctl: %s\n", error->message);
        goto out;
    }
    signal_vm = vm;
    pthread_t sig_thread;
    pthread_create(&sig_thread, NULL, signal_thread, &set);
    pthread_detach(sig_thread);
    hgr_vm_set_boot_callback(vm, on_booted, NULL);
    if (!hgr_vm_start(vm, &error)) {
        fprintf(stderr, "hangarctl: %s\n", error->message);
        goto out;
    }
    hgr_run_shots_start(shots, vm);
    HgrVmState end = hgr_vm_wait(vm);
    hgr_run_shots_finish(shots);
    if (o.screenshot) {
        g_autoptr(GError) shot_error = NULL;
        if (!hgr_vm_screenshot(vm, o.screenshot, &shot_error))
            fprintf(stderr, "hangarctl: no screenshot: %s\n", shot_error->message);
    }
    signal_vm = NULL;
    if (end == HGR_VM_STATE_POWERED_OFF) {
        status = 0;
        if (hgr_vm_reboot_count(vm))
            g_debug("guest rebooted %u times", hgr_vm_reboot_count(vm));
    } else if (end == HGR_VM_STATE_FAILED) {
        fprintf(stderr, "hangarctl: the VM failed: %s\n", hgr_vm_failure(vm));
    } else if (stop_signal) {
        status = 128 + stop_signal;
    } else {
        status = 0;                     /* stopped from the terminal (Ctrl-A X) */
    }
out:
    signal_vm = NULL;
    g_clear_pointer(&vm, hgr_vm_free);
    if (scratch) {
        unlink(config->nvram_path);
        rmdir(scratch);
    }
    g_free(o.nvram);
    g_free(o.firmware_file);
    g_free(o.uuid);
    g_free(o.kernel);
    g_free(o.firmware);
    g_free(o.initrd);
    g_free(o.append);
    g_free(o.serial);
    g_free(o.console);
    g_free(o.cdrom);
    g_free(o.screenshot);
    g_free(o.boot);
    g_free(o.kvm);
    g_strfreev(o.disks);
    g_strfreev(o.nets);
    g_strfreev(o.shots_at);
    return status;
}
