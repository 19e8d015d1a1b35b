/* machine-config-file.c — the <Name>.hangar file: a GKeyFile read strictly
 * (every unknown, duplicate, missing or malformed key is refused, naming
 * it) and written atomically.
 *
 *   [Hangar]  version=1
 *   [Machine] name, uuid, os-id, os-name, memory-mib, cpus, firmware, boot,
 *             cdrom, network, serial, port-forwards=tcp:2222:22;udp:...
 *   [Disk 1], [Disk 2]...  path, format, bus, readonly
 */
#include "machine-config.h"

#include <glib/gi18n-lib.h>
#include <inttypes.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define FILE_MAX_BYTES (1024 * 1024)

static const char *const hangar_keys[] = { "version", NULL };
static const char *const machine_keys[] = {
    "name", "uuid", "os-id", "os-name", "memory-mib", "cpus", "firmware", "boot",
    "cdrom", "network", "serial", "port-forwards", NULL,
};
static const char *const disk_keys[] = { "path", "format", "bus", "readonly", NULL };

static const char *const boot_names[] = {
    [HGR_BOOT_DEFAULT] = "default", [HGR_BOOT_DISK] = "disk", [HGR_BOOT_CDROM] = "cdrom",
};

static bool config_error(GError **error, const char *group, const char *key,
                         const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static bool config_error(GError **error, const char *group, const char *key,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (key)
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("key '%s' in [%s]: %s"), key, group, why);
    else
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG, _("[%s]: %s"), group,
                    why);
    return false;
}

/* GKeyFile keeps the last of two equal keys or merges two equal groups;
 * a hand-edited file with either is ambiguous, so it is refused. */
static bool check_duplicates(const char *data, gsize length, GError **error)
{
    g_autofree char *text = g_strndup(data, length);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *group = NULL;

    for (int i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        if (!*line || *line == '#')
            continue;
        if (*line == '[') {
            char *end = strchr(line, ']');
            g_free(group);
            group = g_strndup(line + 1, end ? (gsize)(end - line - 1) : strlen(line + 1));
            g_autofree char *k = g_strconcat("[", group, NULL);
            if (!g_hash_table_add(seen, g_steal_pointer(&k)))
                return config_error(error, group, NULL, _("the group appears twice (line %d): "
                                    "merge the two"), i + 1);
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq || !group)
            continue;                 /* GKeyFile reports these with their line */
        g_autofree char *key = g_strstrip(g_strndup(line, eq - line));
        g_autofree char *k = g_strconcat(group, "\x1f", key, NULL);
        if (!g_hash_table_add(seen, g_steal_pointer(&k)))
            return config_error(error, group, key, _("appears twice (line %d): keep one"),
                                i + 1);
    }
    return true;
}

static bool check_keys(GKeyFile *kf, const char *group, const char *const *known,
                       GError **error)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);

    for (int i = 0; keys && keys[i]; i++)
        if (!g_strv_contains(known, keys[i]))
            return config_error(error, group, keys[i], _("unknown key: remove it"));
    return true;
}

static bool get_string(GKeyFile *kf, const char *group, const char *key, bool required,
                       char **out, GError **error)
{
    g_autoptr(GError) e = NULL;

    if (!g_key_file_has_key(kf, group, key, NULL)) {
        if (required)
            return config_error(error, group, key, _("missing: every machine needs it"));
        return true;
    }
    char *v = g_key_file_get_string(kf, group, key, &e);
    if (!v)
        return config_error(error, group, key, "%s", e->message);
    if (!g_utf8_validate(v, -1, NULL)) {
        g_free(v);
        return config_error(error, group, key, _("not valid UTF-8 text"));
    }
    g_free(*out);
    *out = v;
    return true;
}

static bool get_uint(GKeyFile *kf, const char *group, const char *key, guint64 min,
                     guint64 max, guint64 *out, GError **error)
{
    g_autofree char *v = g_key_file_get_value(kf, group, key, NULL);

    if (!v)
        return config_error(error, group, key, _("missing: every machine needs it"));
    if (!g_ascii_string_to_unsigned(v, 10, min, max, out, NULL))
        return config_error(error, group, key, _("'%s' is not a whole number from %"
                            PRIu64 " to %" PRIu64), v, min, max);
    return true;
}

static bool get_bool(GKeyFile *kf, const char *group, const char *key, bool *out,
                     GError **error)
{
    g_autofree char *v = g_key_file_get_value(kf, group, key, NULL);

    if (!v)
        return true;                  /* the default stays */
    if (!strcmp(v, "true"))
        *out = true;
    else if (!strcmp(v, "false"))
        *out = false;
    else
        return config_error(error, group, key, _("'%s' is neither true nor false"), v);
    return true;
}

static bool get_choice(GKeyFile *kf, const char *group, const char *key,
                       const char *const *names, size_t n_names, bool required,
                       unsigned *out, GError **error)
{
    g_autofree char *v = g_key_file_get_value(kf, group, key, NULL);

    if (!v) {
        if (required)
            return config_error(error, group, key, _("missing: every machine needs it"));
        return true;
    }
    for (size_t i = 0; i < n_names; i++) {
        if (names[i] && !strcmp(v, names[i])) {
            *out = (unsigned)i;
            return true;
        }
    }
    g_autoptr(GString) list = g_string_new(NULL);
    for (size_t i = 0; i < n_names; i++)
        if (names[i])
            g_string_append_printf(list, "%s%s", list->len ? ", " : "", names[i]);
    return config_error(error, group, key, _("'%s' is not one of %s"), v, list->str);
}

/* tcp:HOST:GUEST;udp:HOST:GUEST */
static bool parse_port_forwards(HgrMachineConfig *c, const char *v, GError **error)
{
    g_auto(GStrv) items = g_strsplit(v, ";", -1);

    for (int i = 0; items[i]; i++) {
        if (!*items[i])
            continue;
        g_auto(GStrv) f = g_strsplit(items[i], ":", -1);
        guint64 host, guest;
        if (g_strv_length(f) != 3 || (strcmp(f[0], "tcp") && strcmp(f[0], "udp"))
            || !g_ascii_string_to_unsigned(f[1], 10, 1, 65535, &host, NULL)
            || !g_ascii_string_to_unsigned(f[2], 10, 1, 65535, &guest, NULL))
            return config_error(error, "Machine", "port-forwards",
                                _("'%s' is not PROTOCOL:HOSTPORT:GUESTPORT "
                                "(e.g. tcp:2222:22)"), items[i]);
        hgr_machine_config_add_port_forward(c, !strcmp(f[0], "udp"), host, guest);
    }
    return true;
}

/* A relative path stays inside the machine's folder: a file that came with
 * a downloaded machine must not reach "../../" into the user's files. */
static bool check_media_path(const char *group, const char *key, const char *path,
                             GError **error)
{
    if (g_path_is_absolute(path))
        return true;
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    for (int i = 0; parts[i]; i++)
        if (!strcmp(parts[i], ".."))
            return config_error(error, group, key, _("'%s' leaves the machine's folder: give "
                                "a path inside it, or an absolute path"), path);
    return true;
}

static bool read_disk(GKeyFile *kf, const char *group, HgrMachineConfig *c, GError **error)
{
    static const char *const formats[] = {
        [HGR_DISK_FORMAT_RAW] = "raw", [HGR_DISK_FORMAT_QCOW2] = "qcow2",
    };
    static const char *const buses[] = {
        [HGR_DISK_BUS_VIRTIO] = "virtio", [HGR_DISK_BUS_SATA] = "sata",
        [HGR_DISK_BUS_NVME] = "nvme",
    };
    g_autofree char *path = NULL;
    unsigned format = HGR_DISK_FORMAT_QCOW2, bus = HGR_DISK_BUS_VIRTIO;
    bool readonly = false;

    if (!check_keys(kf, group, disk_keys, error)
        || !get_string(kf, group, "path", true, &path, error)
        || !get_choice(kf, group, "format", formats, G_N_ELEMENTS(formats), false, &format,
                       error)
        || !get_choice(kf, group, "bus", buses, G_N_ELEMENTS(buses), false, &bus, error)
        || !get_bool(kf, group, "readonly", &readonly, error))
        return false;
    if (!*path)
        return config_error(error, group, "path", _("empty: name the disk image"));
    if (!check_media_path(group, "path", path, error))
        return false;
    hgr_machine_config_add_disk(c, path, format, bus)->readonly = readonly;
    return true;
}

static bool check_groups(GKeyFile *kf, guint *n_disks, GError **error)
{
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

    *n_disks = 0;
    for (int i = 0; groups[i]; i++) {
        if (!strcmp(groups[i], "Hangar") || !strcmp(groups[i], "Machine"))
            continue;
        guint64 n;
        if (g_str_has_prefix(groups[i], "Disk ")
            && g_ascii_string_to_unsigned(groups[i] + 5, 10, 1, 64, &n, NULL)) {
            *n_disks = MAX(*n_disks, (guint)n);
            continue;
        }
        return config_error(error, groups[i], NULL, _("unknown group: remove it"));
    }
    for (guint d = 1; d <= *n_disks; d++) {
        g_autofree char *g = g_strdup_printf("Disk %u", d);
        if (!g_key_file_has_group(kf, g))
            return config_error(error, g, NULL, _("missing, while [Disk %u] exists: "
                                "number the disks from 1 without gaps"), *n_disks);
    }
    if (!g_key_file_has_group(kf, "Machine"))
        return config_error(error, "Machine", NULL, _("missing: this is not a machine's file"));
    return true;
}

static bool check_version(GKeyFile *kf, GError **error)
{
    g_autofree char *v = g_key_file_get_value(kf, "Hangar", "version", NULL);
    guint64 version;

    if (!v)
        return config_error(error, "Hangar", "version", _("missing: not a Hangar machine "
                            "file, or one cut short"));
    if (!g_ascii_string_to_unsigned(v, 10, 1, G_MAXUINT32, &version, NULL))
        return config_error(error, "Hangar", "version", _("'%s' is not a version number"), v);
    if (version > HGR_MACHINE_CONFIG_VERSION) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_VERSION,
                    _("written by a newer Hangar (file version %" PRIu64
                      ", this Hangar reads up to %d): update Hangar to use this machine"),
                    version, HGR_MACHINE_CONFIG_VERSION);
        return false;
    }
    return check_keys(kf, "Hangar", hangar_keys, error);
}

static bool read_machine(GKeyFile *kf, HgrMachineConfig *c, GError **error)
{
    const char *g = "Machine";
    guint64 memory, cpus;
    unsigned firmware = HGR_FIRMWARE_BIOS, boot = HGR_BOOT_DEFAULT;
    static const char *const firmwares[] = {
        [HGR_FIRMWARE_BIOS] = "bios", [HGR_FIRMWARE_UEFI] = "uefi",
    };
    g_autofree char *forwards = NULL;

    if (!check_keys(kf, g, machine_keys, error)
        || !get_string(kf, g, "name", true, &c->name, error)
        || !get_string(kf, g, "uuid", true, &c->uuid, error)
        || !get_string(kf, g, "os-id", false, &c->os_id, error)
        || !get_string(kf, g, "os-name", false, &c->os_name, error)
        || !get_uint(kf, g, "memory-mib", 1, G_MAXUINT32, &memory, error)
        || !get_uint(kf, g, "cpus", 1, 64, &cpus, error)
        || !get_choice(kf, g, "firmware", firmwares, G_N_ELEMENTS(firmwares), true,
                       &firmware, error)
        || !get_choice(kf, g, "boot", boot_names, G_N_ELEMENTS(boot_names), false, &boot,
                       error)
        || !get_string(kf, g, "cdrom", false, &c->cdrom, error)
        || !get_bool(kf, g, "network", &c->network, error)
        || !get_bool(kf, g, "serial", &c->serial, error)
        || !get_string(kf, g, "port-forwards", false, &forwards, error))
        return false;
    g_autoptr(GError) name_error = NULL;
    if (!hgr_machine_name_validate(c->name, &name_error))
        return config_error(error, g, "name", "%s", name_error->message);
    if (!g_uuid_string_is_valid(c->uuid))
        return config_error(error, g, "uuid", _("'%s' is not a UUID"), c->uuid);
    c->memory_mib = memory;
    c->cpus = (unsigned)cpus;
    c->firmware = firmware;
    c->boot = boot;
    if (c->cdrom && !*c->cdrom)
        g_clear_pointer(&c->cdrom, g_free);
    if (c->cdrom && !check_media_path(g, "cdrom", c->cdrom, error))
        return false;
    return !forwards || parse_port_forwards(c, forwards, error);
}

HgrMachineConfig *hgr_machine_config_from_data(const char *data, gsize length,
                                               GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();
    g_autoptr(GError) e = NULL;
    guint n_disks;

    if (length > FILE_MAX_BYTES) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("%zu bytes is far too large for a machine's file "
                      "(at most %d): it is not one"), length, FILE_MAX_BYTES);
        return NULL;
    }
    if (memchr(data, '\0', length)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("contains NUL bytes: it is not a text file"));
        return NULL;
    }
    if (!check_duplicates(data, length, error))
        return NULL;
    if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, &e)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    _("not a key file: %s"), e->message);
        return NULL;
    }
    if (!check_version(kf, error) || !check_groups(kf, &n_disks, error)
        || !read_machine(kf, c, error))
        return NULL;
    for (guint d = 1; d <= n_disks; d++) {
        g_autofree char *g = g_strdup_printf("Disk %u", d);
        if (!read_disk(kf, g, c, error))
            return NULL;
    }
    /* What the file cannot promise (host memory...) is hgr_machine_config_validate's
     * to say at start and at set_config; a file is still readable on a smaller host. */
    return g_steal_pointer(&c);
}

char *hgr_machine_config_to_data(const HgrMachineConfig *c, gsize *length)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    const char *g = "Machine";

    g_key_file_set_integer(kf, "Hangar", "version", HGR_MACHINE_CONFIG_VERSION);
    g_key_file_set_string(kf, g, "name", c->name ? c->name : "");
    g_key_file_set_string(kf, g, "uuid", c->uuid ? c->uuid : "");
    if (c->os_id)
        g_key_file_set_string(kf, g, "os-id", c->os_id);
    if (c->os_name)
        g_key_file_set_string(kf, g, "os-name", c->os_name);
    g_key_file_set_uint64(kf, g, "memory-mib", c->memory_mib);
    g_key_file_set_uint64(kf, g, "cpus", c->cpus);
    g_key_file_set_string(kf, g, "firmware", hgr_firmware_name(c->firmware));
    g_key_file_set_string(kf, g, "boot",
                          c->boot < G_N_ELEMENTS(boot_names) ? boot_names[c->boot] : "default");
    if (c->cdrom)
        g_key_file_set_string(kf, g, "cdrom", c->cdrom);
    g_key_file_set_boolean(kf, g, "network", c->network);
    g_key_file_set_boolean(kf, g, "serial", c->serial);
    if (c->port_forwards->len) {
        g_autoptr(GString) s = g_string_new(NULL);
        for (guint i = 0; i < c->port_forwards->len; i++) {
            const HgrPortForward *f = &g_array_index(c->port_forwards, HgrPortForward, i);
            g_string_append_printf(s, "%s%s:%u:%u", i ? ";" : "", f->udp ? "udp" : "tcp",
                                   f->host_port, f->guest_port);
        }
        g_key_file_set_string(kf, g, "port-forwards", s->str);
    }
    for (guint i = 0; i < c->disks->len; i++) {
        const HgrMachineDisk *d = c->disks->pdata[i];
        g_autofree char *dg = g_strdup_printf("Disk %u", i + 1);
        g_key_file_set_string(kf, dg, "path", d->path ? d->path : "");
        g_key_file_set_string(kf, dg, "format",
                              d->format == HGR_DISK_FORMAT_RAW ? "raw" : "qcow2");
        g_key_file_set_string(kf, dg, "bus", hgr_disk_bus_name(d->bus));
        g_key_file_set_boolean(kf, dg, "readonly", d->readonly);
    }
    return g_key_file_to_data(kf, length, NULL);
}

HgrMachineConfig *hgr_machine_config_load(const char *path, GError **error)
{
    struct stat st;
    g_autofree char *data = NULL;
    gsize length;
    g_autoptr(GError) e = NULL;

    if (stat(path, &st) != 0) {
        int err = errno;
        g_set_error(error, HGR_LIBRARY_ERROR,
                    err == ENOENT ? HGR_LIBRARY_ERROR_NOT_FOUND : HGR_LIBRARY_ERROR_IO,
                    "%s: %s", path, g_strerror(err));
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > FILE_MAX_BYTES) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_CONFIG,
                    "%s: %s", path, S_ISREG(st.st_mode)
                    ? _("far too large for a machine's file: it is not one")
                    : _("not a regular file"));
        return NULL;
    }
    if (!g_file_get_contents(path, &data, &length, &e)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO, "%s", e->message);
        return NULL;
    }
    HgrMachineConfig *c = hgr_machine_config_from_data(data, length, error);
    if (!c)
        g_prefix_error(error, "%s: ", path);
    return c;
}

bool hgr_machine_config_save(const HgrMachineConfig *c, const char *path, GError **error)
{
    gsize length;
    g_autofree char *data = hgr_machine_config_to_data(c, &length);
    g_autoptr(GError) e = NULL;

    /* CONSISTENT|DURABLE: a temp file, fsync, rename over the old one. */
    if (!g_file_set_contents_full(path, data, length,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0644, &e)) {
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot save the machine's settings: %s"), e->message);
        return false;
    }
    return true;
}
