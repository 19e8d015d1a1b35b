/* os-templates.c — what to give a guest OS, from libosinfo's database.
 *
 * The database (Debian's osinfo-db) is loaded once per process and only
 * read afterwards. A template is computed from an OsinfoOs each time it is
 * asked for; nothing here caches templates.
 */
#include "os-templates.h"

#include <glib/gi18n-lib.h>
#include <gio/gio.h>
#include <osinfo/osinfo.h>
#include <stdio.h>
#include <string.h>

#define GIB (UINT64_C(1) << 30)
#define MIB (UINT64_C(1) << 20)

/* "Current-ish": released within this many years of the newest release in
 * the database (the database's age, not today's date, is the yardstick, so
 * an old osinfo-db does not end up with an empty list). */
#define CURRENT_YEARS 8

/* Used when the database gives no figure at all. */
#define FALLBACK_MEMORY_MIB 2048
#define FALLBACK_CPUS 2
#define FALLBACK_DISK (20 * GIB)

/* libosinfo makes no promise about threads: the app asks from worker
 * threads (list, identify) while others may look up. One lock serializes
 * every use of the database; callers take it, load_db assumes it. */
static GRecMutex db_lock;

static OsinfoDb *load_db(GError **error)
{
    static OsinfoLoader *loader;

    if (loader)
        return osinfo_loader_get_db(loader);
    g_autoptr(OsinfoLoader) l = osinfo_loader_new();
    g_autoptr(GError) local = NULL;
    osinfo_loader_process_default_path(l, &local);
    g_autoptr(OsinfoOsList) all = osinfo_db_get_os_list(osinfo_loader_get_db(l));
    if (local || osinfo_list_get_length(OSINFO_LIST(all)) == 0) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("The operating system database could not be loaded (%s): install the "
                    "osinfo-db package (`sudo apt install osinfo-db`)"),
                    local ? local->message : _("it is empty"));
        return NULL;
    }
    loader = g_steal_pointer(&l);
    return osinfo_loader_get_db(loader);
}

static bool arch_is_x86_64(const char *arch)
{
    return g_strcmp0(arch, "x86_64") == 0;
}

static bool list_has_x86_64(OsinfoList *list, const char *(*get_arch)(gpointer))
{
    for (int i = 0; i < osinfo_list_get_length(list); i++)
        if (arch_is_x86_64(get_arch(osinfo_list_get_nth(list, i))))
            return true;
    return false;
}

static const char *media_arch(gpointer p) { return osinfo_media_get_architecture(p); }
static const char *tree_arch(gpointer p) { return osinfo_tree_get_architecture(p); }
static const char *image_arch(gpointer p) { return osinfo_image_get_architecture(p); }
static const char *resources_arch(gpointer p) { return osinfo_resources_get_architecture(p); }

/* An OS is 64-bit x86 when it ships x86_64 media, trees or images, or the
 * database gives x86_64 resources for it. */
static bool os_is_x86_64(OsinfoOs *os)
{
    g_autoptr(OsinfoMediaList) media = osinfo_os_get_media_list(os);
    if (list_has_x86_64(OSINFO_LIST(media), media_arch))
        return true;
    g_autoptr(OsinfoTreeList) trees = osinfo_os_get_tree_list(os);
    if (list_has_x86_64(OSINFO_LIST(trees), tree_arch))
        return true;
    g_autoptr(OsinfoImageList) images = osinfo_os_get_image_list(os);
    if (list_has_x86_64(OSINFO_LIST(images), image_arch))
        return true;
    g_autoptr(OsinfoResourcesList) min = osinfo_os_get_minimum_resources(os);
    return list_has_x86_64(OSINFO_LIST(min), resources_arch);
}

static GDate *newest_release(OsinfoOsList *all)
{
    GDate *newest = NULL;
    for (int i = 0; i < osinfo_list_get_length(OSINFO_LIST(all)); i++) {
        OsinfoProduct *p = OSINFO_PRODUCT(osinfo_list_get_nth(OSINFO_LIST(all), i));
        GDate *d = osinfo_product_get_release_date(p);
        if (!d)
            continue;
        if (!newest || g_date_compare(d, newest) > 0) {
            g_clear_pointer(&newest, g_date_free);
            newest = d;
        } else {
            g_date_free(d);
        }
    }
    return newest;
}

static bool os_is_current(OsinfoOs *os, const GDate *newest)
{
    int status = osinfo_os_get_release_status(os);
    if (status == OSINFO_RELEASE_STATUS_ROLLING)
        return true;
    if (status != OSINFO_RELEASE_STATUS_RELEASED)
        return false;
    g_autoptr(GDate) released = osinfo_product_get_release_date(OSINFO_PRODUCT(os));
    if (!released || !newest)
        return false;
    g_autoptr(GDate) cutoff = g_date_copy(newest);
    g_date_subtract_years(cutoff, CURRENT_YEARS);
    if (g_date_compare(released, cutoff) < 0)
        return false;
    g_autoptr(GDate) eol = osinfo_product_get_eol_date(OSINFO_PRODUCT(os));
    return !eol || g_date_compare(eol, newest) >= 0;
}

/* The x86_64 (or "all") entry of a resources list; -1 fields when absent. */
typedef struct {
    gint64 ram, storage;
    int cpus;
} Resources;

static Resources pick_resources(OsinfoResourcesList *list)
{
    Resources out = { -1, -1, -1 };
    OsinfoResources *all = NULL, *x86 = NULL;
    for (int i = 0; i < osinfo_list_get_length(OSINFO_LIST(list)); i++) {
        OsinfoResources *r = OSINFO_RESOURCES(osinfo_list_get_nth(OSINFO_LIST(list), i));
        const char *arch = osinfo_resources_get_architecture(r);
        if (arch_is_x86_64(arch))
            x86 = r;
        else if (g_strcmp0(arch, "all") == 0)
            all = r;
    }
    /* Field by field: x86_64 first, then the "all" entry. */
    OsinfoResources *order[] = { x86, all };
    for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
        if (!order[i])
            continue;
        if (out.ram <= 0)
            out.ram = osinfo_resources_get_ram(order[i]);
        if (out.storage <= 0)
            out.storage = osinfo_resources_get_storage(order[i]);
        if (out.cpus <= 0)
            out.cpus = osinfo_resources_get_n_cpus(order[i]);
    }
    return out;
}

static bool has_device(OsinfoDeviceList *devices, const char *cls, const char *const *names)
{
    for (int i = 0; i < osinfo_list_get_length(OSINFO_LIST(devices)); i++) {
        OsinfoDevice *d = OSINFO_DEVICE(osinfo_list_get_nth(OSINFO_LIST(devices), i));
        if (g_strcmp0(osinfo_device_get_class(d), cls) != 0)
            continue;
        if (g_strv_contains(names, osinfo_device_get_name(d) ? osinfo_device_get_name(d) : ""))
            return true;
    }
    return false;
}

/* UEFI only where the database says the OS cannot boot from BIOS on
 * x86_64 (Windows 11): SeaBIOS boots every other installer, and BIOS VMs
 * need no per-VM variable store. */
static bool os_needs_uefi(OsinfoOs *os)
{
    g_autoptr(OsinfoFirmwareList) fws = osinfo_os_get_complete_firmware_list(os, NULL);
    for (int i = 0; i < osinfo_list_get_length(OSINFO_LIST(fws)); i++) {
        OsinfoFirmware *f = OSINFO_FIRMWARE(osinfo_list_get_nth(OSINFO_LIST(fws), i));
        if (arch_is_x86_64(osinfo_firmware_get_architecture(f)) &&
            g_strcmp0(osinfo_firmware_get_firmware_type(f), "bios") == 0 &&
            !osinfo_firmware_is_supported(f))
            return true;
    }
    return false;
}

/* Windows has had an inbox NVMe driver (stornvme) since 8.1 / Server 2012 R2,
 * NT 6.3; before that, AHCI only. */
static HgrDiskBus windows_disk_bus(OsinfoOs *os)
{
    const char *version = osinfo_product_get_version(OSINFO_PRODUCT(os));
    unsigned major = 0, minor = 0;
    if (version && sscanf(version, "%u.%u", &major, &minor) >= 1 &&
        (major > 6 || (major == 6 && minor >= 3)))
        return HGR_DISK_BUS_NVME;
    return HGR_DISK_BUS_SATA;
}

static void add_limitations(HgrOsTemplate *t, bool windows)
{
    GPtrArray *l = t->limitations;
    if (g_strcmp0(t->id, "win11") == 0) {
        g_ptr_array_add(l, g_strdup("TPM 2.0: Windows 11 setup checks for it and Hangar has no "
                                    "TPM yet, so setup says \"This PC can't run Windows 11\" "
                                    "unless that check is bypassed."));
        g_ptr_array_add(l, g_strdup("Secure Boot: Hangar's UEFI has no Secure Boot yet, which "
                                    "Windows 11 setup also checks for."));
    }
    if (!t->virtio_net && windows)
        g_ptr_array_add(l, g_strdup("Network: the network card is virtio-net, which Windows has "
                                    "no driver for; attach the virtio-win drivers ISO "
                                    "(virtio-win.iso from the Fedora project) and install the "
                                    "driver from it."));
    else if (!t->virtio_net)
        g_ptr_array_add(l, g_strdup_printf("Network: the network card is virtio-net, which %s "
                                           "may have no driver for; Hangar has no other network "
                                           "card yet.", t->id ? t->name : "this system"));
    g_ptr_array_add(l, g_strdup("3D acceleration: the display is a plain framebuffer without "
                                "a GPU, so games and 3D programs run slowly or not at all."));
    g_ptr_array_add(l, g_strdup("Sound: Hangar has no sound card yet."));
    g_ptr_array_add(l, g_strdup("USB: there is no USB controller yet; keyboard and mouse are "
                                "PS/2 and USB devices cannot be passed to the guest."));
}

static HgrOsTemplate *template_from_os(OsinfoOs *os)
{
    static const char *const virtio_blk[] = { "virtio-block", "virtio1.0-block", NULL };
    static const char *const virtio_net[] = { "virtio-net", "virtio1.0-net", NULL };
    HgrOsTemplate *t = g_new0(HgrOsTemplate, 1);
    OsinfoProduct *p = OSINFO_PRODUCT(os);
    t->id = g_strdup(osinfo_product_get_short_id(p));
    t->name = g_strdup(osinfo_product_get_name(p));
    t->family = g_strdup(osinfo_os_get_family(os));
    t->vendor = g_strdup(osinfo_product_get_vendor(p));
    /* osinfo-db carries no logos; a generic icon until the app ships some. */
    t->logo_icon = g_strdup("computer-symbolic");
    t->limitations = g_ptr_array_new_with_free_func(g_free);

    g_autoptr(OsinfoResourcesList) min_list = osinfo_os_get_minimum_resources(os);
    g_autoptr(OsinfoResourcesList) rec_list = osinfo_os_get_recommended_resources(os);
    Resources min = pick_resources(min_list), rec = pick_resources(rec_list);
    gint64 ram = rec.ram > 0 ? rec.ram : min.ram > 0 ? min.ram : (gint64)(FALLBACK_MEMORY_MIB * MIB);
    ram = MAX(ram, min.ram);
    t->memory_mib = (uint64_t)ram / MIB;
    int cpus = rec.cpus > 0 ? rec.cpus : FALLBACK_CPUS;
    t->cpus = (unsigned)MAX(cpus, min.cpus);
    gint64 disk = rec.storage > 0 ? rec.storage : min.storage > 0 ? min.storage
                                                                  : (gint64)FALLBACK_DISK;
    disk = MAX(disk, min.storage);
    t->disk_bytes = ((uint64_t)disk + GIB - 1) / GIB * GIB;

    bool windows = g_strcmp0(t->family, "winnt") == 0;
    t->firmware = os_needs_uefi(os) ? HGR_FIRMWARE_UEFI : HGR_FIRMWARE_BIOS;
    /* Fetched once: walking the inherited device lists is the slow part. */
    g_autoptr(OsinfoDeviceList) devices = osinfo_os_get_all_devices(os, NULL);
    if (has_device(devices, "block", virtio_blk))
        t->disk_bus = HGR_DISK_BUS_VIRTIO;
    else if (windows)
        t->disk_bus = windows_disk_bus(os);
    else
        t->disk_bus = HGR_DISK_BUS_SATA;
    t->virtio_net = has_device(devices, "net", virtio_net);

    if (g_strcmp0(t->id, "win11") == 0) {
        /* Microsoft's own floor, whatever the database says. */
        t->firmware = HGR_FIRMWARE_UEFI;
        t->memory_mib = MAX(t->memory_mib, 4096);
        t->cpus = MAX(t->cpus, 2);
        t->disk_bytes = MAX(t->disk_bytes, 64 * GIB);
    }
    add_limitations(t, windows);
    return t;
}

HgrOsTemplate *hgr_os_template_generic(void)
{
    HgrOsTemplate *t = g_new0(HgrOsTemplate, 1);
    t->name = g_strdup("Other 64-bit operating system");
    t->logo_icon = g_strdup("computer-symbolic");
    t->memory_mib = FALLBACK_MEMORY_MIB;
    t->cpus = FALLBACK_CPUS;
    t->disk_bytes = FALLBACK_DISK;
    t->firmware = HGR_FIRMWARE_BIOS;
    t->disk_bus = HGR_DISK_BUS_SATA;   /* AHCI: every installer has the driver */
    t->virtio_net = false;
    t->limitations = g_ptr_array_new_with_free_func(g_free);
    add_limitations(t, false);
    return t;
}

void hgr_os_template_free(HgrOsTemplate *t)
{
    if (!t)
        return;
    g_free(t->id);
    g_free(t->name);
    g_free(t->family);
    g_free(t->vendor);
    g_free(t->logo_icon);
    g_clear_pointer(&t->limitations, g_ptr_array_unref);
    g_free(t);
}

typedef struct {
    HgrOsTemplate *t;
    char *distro;
    GDate *released;       /* NULL: rolling */
} Entry;

static int family_rank(const char *family)
{
    if (g_strcmp0(family, "winnt") == 0)
        return 0;
    if (g_strcmp0(family, "linux") == 0)
        return 1;
    return 2;
}

static int entry_compare(gconstpointer a, gconstpointer b)
{
    const Entry *x = a, *y = b;
    int c = family_rank(x->t->family) - family_rank(y->t->family);
    if (c == 0)
        c = g_strcmp0(x->t->family, y->t->family);
    if (c == 0)
        c = g_strcmp0(x->distro, y->distro);
    if (c == 0 && x->released && y->released)
        c = -g_date_compare(x->released, y->released);    /* newest first */
    else if (c == 0)
        c = (x->released != NULL) - (y->released != NULL); /* rolling first */
    if (c == 0)
        c = g_strcmp0(x->t->name, y->t->name);
    return c;
}

GPtrArray *hgr_os_templates_list(GError **error)
{
    g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&db_lock);
    OsinfoDb *db = load_db(error);
    if (!db)
        return NULL;
    g_autoptr(OsinfoOsList) all = osinfo_db_get_os_list(db);
    g_autoptr(GDate) newest = newest_release(all);
    g_autoptr(GArray) entries = g_array_new(FALSE, FALSE, sizeof(Entry));
    for (int i = 0; i < osinfo_list_get_length(OSINFO_LIST(all)); i++) {
        OsinfoOs *os = OSINFO_OS(osinfo_list_get_nth(OSINFO_LIST(all), i));
        if (!osinfo_product_get_short_id(OSINFO_PRODUCT(os)) || !os_is_current(os, newest) ||
            !os_is_x86_64(os))
            continue;
        Entry e = {
            .t = template_from_os(os),
            .distro = g_strdup(osinfo_os_get_distro(os)),
            .released = osinfo_product_get_release_date(OSINFO_PRODUCT(os)),
        };
        g_array_append_val(entries, e);
    }
    g_array_sort(entries, entry_compare);
    GPtrArray *out = g_ptr_array_new_full(entries->len, (GDestroyNotify)hgr_os_template_free);
    for (guint i = 0; i < entries->len; i++) {
        Entry *e = &g_array_index(entries, Entry, i);
        g_ptr_array_add(out, e->t);
        g_free(e->distro);
        g_clear_pointer(&e->released, g_date_free);
    }
    return out;
}

static OsinfoOs *find_os(OsinfoDb *db, const char *short_id)
{
    g_autoptr(OsinfoOsList) all = osinfo_db_get_os_list(db);
    for (int i = 0; i < osinfo_list_get_length(OSINFO_LIST(all)); i++) {
        OsinfoOs *os = OSINFO_OS(osinfo_list_get_nth(OSINFO_LIST(all), i));
        g_autoptr(GList) ids = osinfo_product_get_short_id_list(OSINFO_PRODUCT(os));
        for (GList *l = ids; l; l = l->next)
            if (g_strcmp0(l->data, short_id) == 0)
                return os;
    }
    return NULL;
}

HgrOsTemplate *hgr_os_template_lookup(const char *id, GError **error)
{
    g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&db_lock);
    OsinfoDb *db = load_db(error);
    if (!db || !id)
        return NULL;
    OsinfoOs *os = find_os(db, id);
    return os ? template_from_os(os) : NULL;
}

/* ISO 9660's primary volume descriptor starts at sector 16 with type 1 and
 * "CD001". Checked first: libosinfo's own complaints about other files
 * ("No \"ppc\" directory record extent") would only puzzle a user. */
static bool has_iso9660_signature(const char *path, GError **error)
{
    g_autoptr(GFile) file = g_file_new_for_path(path);
    g_autoptr(GError) local = NULL;
    g_autoptr(GFileInputStream) in = g_file_read(file, NULL, &local);
    guint8 sector[6];
    gsize got = 0;
    if (in && g_seekable_seek(G_SEEKABLE(in), 16 * 2048, G_SEEK_SET, NULL, &local))
        g_input_stream_read_all(G_INPUT_STREAM(in), sector, sizeof(sector), &got, NULL,
                                &local);
    if (local) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA,
                    _("'%s' cannot be read (%s): check the file and its permissions"), path,
                    local->message);
        return false;
    }
    if (got < sizeof(sector) || memcmp(sector + 1, "CD001", 5) != 0) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA,
                    _("'%s' is not an ISO 9660 image (no CD001 volume descriptor): choose "
                    "an installation ISO file"), path);
        return false;
    }
    return true;
}

HgrOsTemplate *hgr_os_template_identify_iso(const char *iso_path, GError **error)
{
    if (!g_file_test(iso_path, G_FILE_TEST_EXISTS)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA,
                    _("'%s' does not exist: choose the installation ISO file again"), iso_path);
        return NULL;
    }
    if (!g_file_test(iso_path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA,
                    _("'%s' is not a file: choose the installation ISO file itself"), iso_path);
        return NULL;
    }
    if (!has_iso9660_signature(iso_path, error))
        return NULL;
    g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&db_lock);
    OsinfoDb *db = load_db(error);
    if (!db)
        return NULL;
    /* Not bootable is fine (a drivers ISO is still an ISO); only a file that
     * is not ISO 9660 at all is refused. */
    g_autoptr(GError) local = NULL;
    /* libosinfo's synchronous call runs a main loop on the thread-default
     * context; without a context of our own, a worker thread would run the
     * application's (owned by the GTK thread) and hang. */
    g_autoptr(GMainContext) context = g_main_context_new();
    g_main_context_push_thread_default(context);
    g_autoptr(OsinfoMedia) media =
        osinfo_media_create_from_location_with_flags(iso_path, NULL, 0, &local);
    g_main_context_pop_thread_default(context);
    if (!media) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_MEDIA,
                    _("'%s' is not an ISO 9660 image (%s): choose an installation ISO file"),
                    iso_path, local ? local->message : _("unreadable"));
        return NULL;
    }
    if (!osinfo_db_identify_media(db, media))
        return NULL;
    OsinfoOs *os = osinfo_media_get_os(media);
    if (!os)
        return NULL;
    g_autoptr(OsinfoOs) owned = os;
    return template_from_os(os);
}

void hgr_os_template_apply(const HgrOsTemplate *t, HgrMachineConfig *config)
{
    g_free(config->os_id);
    config->os_id = g_strdup(t->id);
    g_free(config->os_name);
    config->os_name = t->id ? g_strdup(t->name) : NULL;   /* generic: the OS is unknown */
    config->memory_mib = t->memory_mib;
    config->cpus = t->cpus;
    config->firmware = t->firmware;
    config->network = true;
    /* The library makes the image at creation (library.h). */
    hgr_machine_config_add_disk(config, "disk.qcow2", HGR_DISK_FORMAT_QCOW2, t->disk_bus);
}
