/* host-check.c — the "how to enable 64-bit guests" checklist, checked.
 *
 * Every answer comes from what the kernel shows: the CPU flags in
 * /proc/cpuinfo, the modules in /sys/module, the KVM device itself, and a
 * timed tiny guest. Roots are options so tests can feed a fake host.
 */
#include "host-check.h"

#include <errno.h>
#include <glib/gi18n-lib.h>
#include <fcntl.h>
#include <hangar/host.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *proc_root;
    const char *sys_root;
    const char *kvm_path;
    bool intel, amd;          /* vendor_id */
    bool vmx, svm;            /* CPU flags */
    bool in_vm;               /* the "hypervisor" flag: we are a guest ourselves */
    bool cpuinfo_read;
    char *kvm_module;         /* a loaded kvm_* module (kvm_intel, kvm_amd, kvm_pvm...), or NULL */
    bool kvm_usable;          /* kvm_path opened and answered KVM_GET_API_VERSION */
} Host;

static void add_item(HgrHostCheckReport *r, const char *id, HgrHostCheckLevel level,
                     const char *title, char *detail, char *fix)
{
    HgrHostCheckItem *it = g_new0(HgrHostCheckItem, 1);
    it->id = g_strdup(id);
    it->level = level;
    it->title = g_strdup(title);
    it->detail = detail;   /* taken */
    it->fix = fix;         /* taken */
    g_ptr_array_add(r->items, it);
    r->level = MAX(r->level, level);
}

static void item_free(gpointer p)
{
    HgrHostCheckItem *it = p;
    g_free(it->id);
    g_free(it->title);
    g_free(it->detail);
    g_free(it->fix);
    g_free(it);
}

static bool module_loaded(const Host *h, const char *name)
{
    g_autofree char *path = g_build_filename(h->sys_root, "module", name, NULL);
    return g_file_test(path, G_FILE_TEST_IS_DIR);
}

static const char *vendor_module(const Host *h)
{
    return h->amd ? "kvm_amd" : "kvm_intel";
}

static void read_cpuinfo(Host *h)
{
    g_autofree char *path = g_build_filename(h->proc_root, "cpuinfo", NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return;
    h->cpuinfo_read = true;
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    bool flags_seen = false;
    for (char **l = lines; *l; l++) {
        char *colon = strchr(*l, ':');
        if (!colon)
            continue;
        g_autofree char *key = g_strstrip(g_strndup(*l, colon - *l));
        const char *value = colon + 1;
        if (g_str_equal(key, "vendor_id")) {
            h->intel |= strstr(value, "GenuineIntel") != NULL;
            h->amd |= strstr(value, "AuthenticAMD") != NULL;
        } else if (g_str_equal(key, "flags") && !flags_seen) {
            /* The first CPU's flags speak for all of them. */
            flags_seen = true;
            g_auto(GStrv) flags = g_strsplit_set(value, " \t", -1);
            for (char **f = flags; *f; f++) {
                h->vmx |= g_str_equal(*f, "vmx");
                h->svm |= g_str_equal(*f, "svm");
                h->in_vm |= g_str_equal(*f, "hypervisor");
            }
        }
    }
}

/* Any module named kvm_* that provides KVM: kvm_intel, kvm_amd, or a
 * software one such as kvm_pvm. */
static char *find_kvm_module(const Host *h)
{
    static const char *const known[] = { "kvm_intel", "kvm_amd" };
    for (size_t i = 0; i < G_N_ELEMENTS(known); i++)
        if (module_loaded(h, known[i]))
            return g_strdup(known[i]);
    g_autofree char *dir_path = g_build_filename(h->sys_root, "module", NULL);
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name(dir)))
        if (g_str_has_prefix(name, "kvm_"))
            return g_strdup(name);
    return NULL;
}

/* Every message below is a whole sentence for the translators: where a
 * condition changes the wording there is one sentence per case, and what
 * is filled in is only names (paths, modules, flags, firmware labels). */

/* Why the CPU has no flag although KVM works: it comes from a module that
 * emulates, maybe inside a VM. */
static char *emulated_detail(const Host *h)
{
    g_autofree char *where = h->in_vm
        ? g_strdup_printf(_("No vmx or svm flag in %s/cpuinfo, and this system is itself a "
                            "virtual machine."), h->proc_root)
        : g_strdup_printf(_("No vmx or svm flag in %s/cpuinfo."), h->proc_root);
    g_autofree char *how = h->kvm_module
        ? g_strdup_printf(_("KVM comes from the %s module, which cannot use hardware "
                            "virtualization."), h->kvm_module)
        : g_strdup(_("KVM comes from a loaded module that cannot use hardware "
                     "virtualization."));
    return g_strconcat(where, " ", how, NULL);
}

static void check_cpu(Host *h, HgrHostCheckReport *r)
{
    bool flag = h->vmx || h->svm;
    if (!h->cpuinfo_read) {
        add_item(r, "cpu-flag", HGR_HOST_CHECK_WARNING, _("Could not read the CPU's features"),
                 g_strdup_printf(_("%s/cpuinfo could not be read."), h->proc_root), NULL);
    } else if (flag) {
        add_item(r, "cpu-flag", HGR_HOST_CHECK_OK,
                 h->vmx ? _("The CPU has VT-x") : _("The CPU has AMD-V"),
                 g_strdup(h->vmx ? _("The CPU reports the vmx flag.")
                                 : _("The CPU reports the svm flag.")), NULL);
    } else if (h->kvm_usable) {
        add_item(r, "cpu-flag", HGR_HOST_CHECK_WARNING,
                 _("No VT-x or AMD-V in the CPU: KVM here is emulated in software"),
                 emulated_detail(h),
                 g_strdup(h->in_vm
                     ? _("Turn on nested virtualization for this machine in the hypervisor that "
                         "runs it (for example a cloud instance type that offers it, or on a KVM "
                         "host: `options kvm_intel nested=1` and a host-passthrough CPU).")
                     : _("Enable Intel VT-x or AMD SVM in the firmware setup.")));
    } else if (h->in_vm) {
        add_item(r, "cpu-flag", HGR_HOST_CHECK_ERROR,
                 _("This virtual machine's CPU has no VT-x or AMD-V"),
                 g_strdup_printf(_("No vmx or svm flag in %s/cpuinfo, and the hypervisor flag "
                                   "says this system is itself a virtual machine."), h->proc_root),
                 g_strdup(_("Turn on nested virtualization in the hypervisor that runs this "
                            "machine (VirtualBox: Settings → System → Processor → Enable Nested "
                            "VT-x/AMD-V; KVM: `options kvm_intel nested=1` and a host-passthrough "
                            "CPU; cloud: an instance type with nested virtualization).")));
    } else {
        add_item(r, "cpu-flag", HGR_HOST_CHECK_ERROR, _("The CPU does not offer VT-x or AMD-V"),
                 g_strdup_printf(_("No vmx or svm flag in %s/cpuinfo. Linux hides the flag when "
                                   "the firmware has turned the feature off; a CPU from before "
                                   "2006 may not have it at all."), h->proc_root),
                 g_strdup(_("See the firmware item: most CPUs have it, switched off.")));
    }

    /* Linux clears vmx when the firmware locked VT-x off; an AMD CPU keeps
     * svm but kvm_amd refuses to load. Neither applies inside a VM, where
     * the outer hypervisor decides. The firmware's own labels stay
     * English: that is what its setup screen shows. */
    g_autofree char *firmware_fix = h->amd || h->intel
        ? g_strdup_printf(_("Restart, open the firmware setup (often F2, F10, F12 or Del at "
                            "power-on), turn on \"%s\" (sometimes under Advanced → CPU "
                            "Configuration), save and restart."),
                          h->amd ? "SVM Mode" : "Intel Virtualization Technology")
        : g_strdup(_("Restart, open the firmware setup (often F2, F10, F12 or Del at "
                     "power-on), turn on \"Intel Virtualization Technology\" or \"SVM Mode\" "
                     "(sometimes under Advanced → CPU Configuration), save and restart."));
    if (h->cpuinfo_read && !flag && !h->in_vm && !h->kvm_usable) {
        const char *detail = h->amd ? _("The CPU reports no AMD-V (svm) and no KVM module is "
                                        "loaded.")
                           : h->intel ? _("The CPU reports no VT-x (vmx) and no KVM module is "
                                          "loaded.")
                                      : _("The CPU reports neither VT-x (vmx) nor AMD-V (svm), "
                                          "and no KVM module is loaded.");
        add_item(r, "firmware-disabled", HGR_HOST_CHECK_ERROR,
                 _("Virtualization is probably turned off in the firmware"), g_strdup(detail),
                 g_steal_pointer(&firmware_fix));
    } else if (flag && !h->in_vm && !h->kvm_module) {
        /* An AMD CPU keeps svm when SVM is locked off, and kernels before
         * 5.6 kept vmx too: the module refusing to load is what tells. */
        add_item(r, "firmware-disabled", HGR_HOST_CHECK_WARNING,
                 h->svm ? _("AMD-V may be turned off in the firmware")
                        : _("VT-x may be turned off in the firmware"),
                 g_strdup_printf(_("The CPU has the %s flag but the %s module is not loaded; "
                                   "it refuses to load when the firmware turned the feature "
                                   "off."),
                                 h->svm ? "svm" : "vmx", vendor_module(h)),
                 g_strdup_printf(_("Run `sudo modprobe %s`. If it fails with \"Operation not "
                                   "supported\": %s"), vendor_module(h), firmware_fix));
    } else {
        add_item(r, "firmware-disabled", HGR_HOST_CHECK_OK,
                 _("Virtualization is not blocked by the firmware"),
                 g_strdup(h->in_vm ? _("This system is a virtual machine: its hypervisor, not "
                                       "firmware, decides (see the CPU item).")
                                   : _("The CPU flag is present and nothing shows it locked "
                                       "off.")),
                 NULL);
    }
}

static void check_kvm_device(Host *h, HgrHostCheckReport *r)
{
    g_autofree char *modprobe = g_strdup_printf(
        _("Load KVM: `sudo modprobe %s` (to load it at every boot: `echo %s | sudo tee "
          "/etc/modules-load.d/kvm.conf`). If it fails, see the firmware item."),
        vendor_module(h), vendor_module(h));
    struct stat st;
    if (stat(h->kvm_path, &st) < 0) {
        const char *why = g_strerror(errno);
        add_item(r, "kvm-device", HGR_HOST_CHECK_ERROR, _("There is no KVM device"),
                 h->kvm_module ? g_strdup_printf(_("%s: %s."), h->kvm_path, why)
                               : g_strdup_printf(_("%s: %s; no KVM module is loaded."),
                                                 h->kvm_path, why),
                 g_steal_pointer(&modprobe));
        add_item(r, "kvm-access", HGR_HOST_CHECK_OK, _("Access to KVM not checked"),
                 g_strdup_printf(_("%s does not exist yet."), h->kvm_path), NULL);
        return;
    }
    int fd = open(h->kvm_path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && (errno == EACCES || errno == EPERM)) {
        int err = errno;
        add_item(r, "kvm-device", HGR_HOST_CHECK_OK, _("The KVM device exists"),
                 g_strdup_printf(_("%s exists."), h->kvm_path), NULL);
        add_item(r, "kvm-access", HGR_HOST_CHECK_ERROR, _("You may not use KVM"),
                 g_strdup_printf(_("%s cannot be opened: %s."), h->kvm_path, g_strerror(err)),
                 g_strdup(_("Join the kvm group: `sudo usermod -aG kvm $USER`, then log out and "
                            "log in again (the new group applies to new sessions).")));
        return;
    }
    if (fd < 0) {
        add_item(r, "kvm-device", HGR_HOST_CHECK_ERROR, _("The KVM device cannot be used"),
                 g_strdup_printf(_("%s cannot be opened: %s."), h->kvm_path, g_strerror(errno)),
                 g_steal_pointer(&modprobe));
        add_item(r, "kvm-access", HGR_HOST_CHECK_OK, _("Access to KVM not checked"),
                 g_strdup_printf(_("%s is not a device."), h->kvm_path), NULL);
        return;
    }
    int api = ioctl(fd, KVM_GET_API_VERSION, 0);
    int err = errno;
    close(fd);
    if (api != KVM_API_VERSION) {
        add_item(r, "kvm-device", HGR_HOST_CHECK_ERROR, _("The KVM device is not KVM"),
                 api < 0 ? g_strdup_printf(_("%s does not answer as KVM: %s."), h->kvm_path,
                                           g_strerror(err))
                         : g_strdup_printf(_("%s speaks KVM API %d, not %d."), h->kvm_path, api,
                                           KVM_API_VERSION),
                 g_steal_pointer(&modprobe));
        add_item(r, "kvm-access", HGR_HOST_CHECK_OK, _("Access to KVM granted"),
                 g_strdup_printf(_("%s opens for reading and writing."), h->kvm_path), NULL);
        return;
    }
    h->kvm_usable = true;
    add_item(r, "kvm-device", HGR_HOST_CHECK_OK, _("KVM is available"),
             h->kvm_module
                 ? g_strdup_printf(_("%s answers KVM API %d, from the module %s."), h->kvm_path,
                                   api, h->kvm_module)
                 : g_strdup_printf(_("%s answers KVM API %d."), h->kvm_path, api),
             NULL);
    add_item(r, "kvm-access", HGR_HOST_CHECK_OK, _("Access to KVM granted"),
             g_strdup_printf(_("%s opens for reading and writing."), h->kvm_path), NULL);
}

static void check_other_hypervisors(const Host *h, HgrHostCheckReport *r)
{
    static const struct { const char *module, *product, *fix; } others[] = {
        { "vboxdrv", "VirtualBox",
          N_("Close every VirtualBox VM before starting one here, or unload it: "
             "`sudo modprobe -r vboxnetadp vboxnetflt vboxdrv`.") },
        { "vmmon", "VMware",
          N_("Close every VMware VM before starting one here, or stop it: "
             "`sudo systemctl stop vmware` (or `sudo modprobe -r vmnet vmmon`).") },
    };
    g_autoptr(GString) found = g_string_new(NULL);
    g_autoptr(GString) fix = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(others); i++) {
        if (!module_loaded(h, others[i].module))
            continue;
        if (found->len)
            g_string_append(found, ", ");
        /* TRANSLATORS: a hypervisor product and its kernel module, in a list */
        g_string_append_printf(found, _("%s (module %s)"), others[i].product, others[i].module);
        g_string_append_printf(fix, "%s%s", fix->len ? " " : "", _(others[i].fix));
    }
    if (found->len == 0) {
        add_item(r, "other-hypervisor", HGR_HOST_CHECK_OK, _("No other hypervisor is loaded"),
                 g_strdup(_("Neither VirtualBox (vboxdrv) nor VMware (vmmon) is loaded.")), NULL);
        return;
    }
    add_item(r, "other-hypervisor", HGR_HOST_CHECK_WARNING,
             _("Another hypervisor may hold the CPU's virtualization"),
             g_strdup_printf(_("Loaded: %s. While its VMs run, starting a VM here can fail."),
                             found->str),
             g_string_free(g_steal_pointer(&fix), FALSE));
}

static void check_speed(const Host *h, const HgrHostCheckOptions *opts,
                        HgrHostCheckReport *r)
{
    if (opts->skip_speed) {
        add_item(r, "kvm-speed", HGR_HOST_CHECK_OK, _("KVM speed not measured"),
                 g_strdup(_("The speed check was skipped.")), NULL);
        return;
    }
    if (!h->kvm_usable) {
        add_item(r, "kvm-speed", HGR_HOST_CHECK_OK, _("KVM speed not measured"),
                 g_strdup(_("There is no usable KVM device to time a guest on.")), NULL);
        return;
    }
    HgrKvmSpeed speed;
    g_autoptr(GError) error = NULL;
    if (!hgr_kvm_measure_speed(h->kvm_path, &speed, &error)) {
        add_item(r, "kvm-speed", HGR_HOST_CHECK_ERROR, _("KVM cannot run a guest"),
                 g_strdup_printf(_("A tiny test guest failed: %s."), error->message),
                 g_strdup(_("Check `dmesg` for KVM messages; see the firmware item.")));
        return;
    }
    r->kvm_loops_per_sec = speed.loops_per_sec;
    if (speed.emulated) {
        add_item(r, "kvm-speed", HGR_HOST_CHECK_WARNING,
                 _("KVM is emulated: guests will be very slow"),
                 g_strdup_printf(_("A tiny guest ran %.1f million loop iterations per second; "
                                   "KVM on hardware virtualization runs several hundred million. "
                                   "Small guests and firmware work; installing a full operating "
                                   "system will take hours."), speed.loops_per_sec / 1e6),
                 g_strdup(h->in_vm
                     ? _("Run Hangar on a physical computer, or on a virtual machine with "
                         "nested virtualization turned on (see the CPU item).")
                     : _("Enable hardware virtualization (see the CPU and firmware items).")));
        return;
    }
    add_item(r, "kvm-speed", HGR_HOST_CHECK_OK, _("KVM runs guests at hardware speed"),
             g_strdup_printf(_("A tiny guest ran %.0f million loop iterations per second."),
                             speed.loops_per_sec / 1e6), NULL);
}

HgrHostCheckReport *hgr_host_check_run(const HgrHostCheckOptions *opts)
{
    static const HgrHostCheckOptions defaults = { 0 };
    if (!opts)
        opts = &defaults;
    Host h = {
        .proc_root = opts->proc_root ? opts->proc_root : "/proc",
        .sys_root = opts->sys_root ? opts->sys_root : "/sys",
        .kvm_path = opts->kvm_path ? opts->kvm_path : "/dev/kvm",
    };
    HgrHostCheckReport *r = g_new0(HgrHostCheckReport, 1);
    r->level = HGR_HOST_CHECK_OK;
    r->items = g_ptr_array_new_with_free_func(item_free);

    read_cpuinfo(&h);
    h.kvm_module = find_kvm_module(&h);
    /* The device first: whether KVM works changes what a missing flag means.
     * Its items are moved after the CPU's so the list reads cause first. */
    HgrHostCheckReport dev = { .items = g_ptr_array_new_with_free_func(item_free) };
    check_kvm_device(&h, &dev);
    check_cpu(&h, r);
    while (dev.items->len)
        g_ptr_array_add(r->items, g_ptr_array_steal_index(dev.items, 0));
    r->level = MAX(r->level, dev.level);
    g_ptr_array_unref(dev.items);
    check_other_hypervisors(&h, r);
    check_speed(&h, opts, r);
    g_free(h.kvm_module);
    return r;
}

void hgr_host_check_report_free(HgrHostCheckReport *r)
{
    if (!r)
        return;
    g_ptr_array_unref(r->items);
    g_free(r);
}
