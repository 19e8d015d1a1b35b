/* linux-boot.c — bzImage parsing and the x86 64-bit boot protocol. */
#include "linux-boot.h"

#include "../x86/long-mode.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/e820.h"
#include "hangar/vm.h"

/* The zero page is filled as host bytes at fixed offsets. */
G_STATIC_ASSERT(G_BYTE_ORDER == G_LITTLE_ENDIAN);

/* Setup header: offsets inside the image, and inside boot_params, which
 * carries a copy of it at the same place (boot.rst, "The real-mode kernel
 * header"). */
#define HDR_START            0x1f1
#define HDR_SETUP_SECTS      0x1f1
#define HDR_SYSSIZE          0x1f4
#define HDR_JUMP             0x200   /* the byte at 0x201 gives the header's end */
#define HDR_MAGIC            0x202
#define HDR_VERSION          0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS        0x211
#define HDR_CODE32_START     0x214
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_HEAP_END_PTR     0x224
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE      0x234
#define HDR_XLOADFLAGS       0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_HARDWARE_SUBARCH 0x23c   /* u32, then u64 hardware_subarch_data */
#define HDR_SETUP_DATA       0x250
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE        0x260
#define HDR_END_MIN          0x264   /* through init_size: protocol 2.12 */
#define HDR_END_MAX          0x290   /* boot_params.edd_mbr_sig_buffer follows */

#define LOADED_HIGH          0x01
#define CAN_USE_HEAP         0x80
#define XLF_KERNEL_64        0x01
#define LOADER_UNDEFINED     0xff
#define PROTOCOL_MIN         0x206
#define PROTOCOL_XLOADFLAGS  0x20c

/* boot_params (zero-page.rst). */
#define BP_SIZE              4096
#define BP_ACPI_RSDP_ADDR    0x070
#define BP_E820_ENTRIES      0x1e8
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128
#define E820_ENTRY_SIZE      20

/* Where things go in guest RAM. Below 1 MiB stays clear of the EBDA. */
#define ZERO_PAGE_ADDR       0x7000
#define CMDLINE_ADDR         0x20000
#define CMDLINE_MAX          0x10000 /* bytes, with the NUL */
#define KERNEL_ADDR          0x100000
#define ENTRY_64_OFFSET      0x200
#define HEAP_END             0xfe00  /* 64 KiB real-mode segment minus 0x200 */

#define PAGE_SIZE            ((uint64_t)4096)
#define MiB                  ((uint64_t)1024 * 1024)
#define GiB                  (1024 * MiB)
#define KERNEL_FILE_MAX      (256 * MiB)
#define PREF_ADDRESS_MAX     (1ULL << 40)


struct HgrLinuxBoot {
    char *kernel_path;
    char *initrd_path;
    uint8_t hdr[HDR_END_MAX];  /* image bytes; [HDR_START, hdr_end) are the header */
    size_t hdr_end;
    /* The images stay on disk: each load reads them straight into guest RAM,
     * so the VMM keeps no copy of them (a kernel is 8 MiB). */
    int kernel_fd;
    size_t kernel_off;         /* the protected-mode part, loaded at 1 MiB */
    size_t kernel_len;
    int initrd_fd;
    size_t initrd_len;
    char *cmdline;
    uint64_t kernel_end;       /* end of what the kernel needs to decompress and run */
    uint64_t initrd_addr_max;  /* last byte the initrd may occupy */
};

static uint16_t get16(const uint8_t *p, size_t off)
{
    uint16_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}

static uint32_t get32(const uint8_t *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}

static void put(uint8_t *p, size_t off, uint64_t v, size_t n)
{
    memcpy(p + off, &v, n);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

void hgr_linux_boot_free(HgrLinuxBoot *b)
{
    if (!b)
        return;
    g_free(b->kernel_path);
    g_free(b->initrd_path);
    if (b->kernel_fd >= 0)
        close(b->kernel_fd);
    if (b->initrd_fd >= 0)
        close(b->initrd_fd);
    g_free(b->cmdline);
    g_free(b);
}

/* Opens a regular file of at most max bytes; its fd and size. */
static bool open_file(const char *what, HgrVmError code, const char *path, uint64_t max,
                      int *out_fd, size_t *len, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    const char *why = NULL;
    int err = 0;

    if (fd < 0) {
        err = errno;
        goto fail;
    }
    if (fstat(fd, &st) < 0) {
        err = errno;
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        why = "is a directory";
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        why = "is not a regular file";
        goto fail;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        g_set_error(error, HGR_VM_ERROR, code, "%s %s: too large (%" G_GUINT64_FORMAT
                    " bytes, at most %" G_GUINT64_FORMAT ")", what, path,
                    (uint64_t)st.st_size, max);
        return false;
    }
    *out_fd = fd;
    *len = (size_t)st.st_size;
    return true;

fail:
    if (fd >= 0)
        close(fd);
    g_set_error(error, HGR_VM_ERROR, code, "%s %s: %s", what, path,
                why ? why : g_strerror(err));
    return false;
}

/* Reads exactly len bytes at off; false on an error or a short file. */
static bool pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return true;
}

#define BAD_KERNEL(...) \
    (g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KERNEL, "Kernel " __VA_ARGS__), false)

/* Checks the setup header (img: the file's first bytes, up to HDR_END_MAX) of
 * a file of len bytes; fills the header fields of b. */
static bool parse_header(HgrLinuxBoot *b, const uint8_t *img, size_t len, GError **error)
{
    const char *path = b->kernel_path;

    if (len < HDR_END_MAX)
        return BAD_KERNEL("%s: not a bzImage (only %zu bytes)", path, len);
    if (memcmp(img + HDR_MAGIC, "HdrS", 4) != 0)
        return BAD_KERNEL("%s: not a bzImage (no \"HdrS\" magic at 0x202)", path);
    uint16_t version = get16(img, HDR_VERSION);
    if (version < PROTOCOL_MIN)
        return BAD_KERNEL("%s: boot protocol %u.%02u is too old (2.06 or later needed)",
                          path, version >> 8, version & 0xff);
    if (!(img[HDR_LOADFLAGS] & LOADED_HIGH))
        return BAD_KERNEL("%s: not a bzImage (a zImage, loaded below 1 MiB)", path);
    if (version < PROTOCOL_XLOADFLAGS || !(get16(img, HDR_XLOADFLAGS) & XLF_KERNEL_64))
        return BAD_KERNEL("%s: no 64-bit entry point (XLF_KERNEL_64 not set)", path);
    b->hdr_end = HDR_JUMP + 2 + img[HDR_JUMP + 1];
    if (b->hdr_end < HDR_END_MIN || b->hdr_end > HDR_END_MAX)
        return BAD_KERNEL("%s: malformed setup header (ends at 0x%zx)", path, b->hdr_end);
    memcpy(b->hdr, img, b->hdr_end);

    unsigned sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
    size_t setup_len = (sects + 1) * 512;
    uint64_t sys_len = (uint64_t)get32(img, HDR_SYSSIZE) * 16;
    if (len <= setup_len || len - setup_len < sys_len)
        return BAD_KERNEL("%s: truncated (its header describes %" G_GUINT64_FORMAT
                          " bytes, the file has %zu)", path, setup_len + sys_len, len);

    uint64_t pref = get64(img, HDR_PREF_ADDRESS);
    uint32_t align = get32(img, HDR_KERNEL_ALIGNMENT);
    bool relocatable = img[HDR_RELOCATABLE] != 0;
    if (pref > PREF_ADDRESS_MAX)
        return BAD_KERNEL("%s: malformed setup header (pref_address 0x%" G_GINT64_MODIFIER
                          "x)", path, pref);
    if (relocatable && (align == 0 || (align & (align - 1)) || align > GiB))
        return BAD_KERNEL("%s: malformed setup header (kernel_alignment 0x%x)", path, align);
    /* The decompressor runs at the aligned load address, but never below
     * LOAD_PHYSICAL_ADDR (= pref_address), and uses init_size bytes there. */
    uint64_t run = relocatable ? MAX(align_up(KERNEL_ADDR, align), pref) : pref;
    b->kernel_off = setup_len;
    b->kernel_len = len - setup_len;
    b->kernel_end = align_up(MAX(KERNEL_ADDR + b->kernel_len,
                                 run + get32(img, HDR_INIT_SIZE)), PAGE_SIZE);
    b->initrd_addr_max = get32(img, HDR_INITRD_ADDR_MAX);
    return true;
}

static bool load_kernel(HgrLinuxBoot *b, GError **error)
{
    uint8_t img[HDR_END_MAX] = {0};
    size_t len;

    if (!open_file("Kernel", HGR_VM_ERROR_KERNEL, b->kernel_path, KERNEL_FILE_MAX,
                   &b->kernel_fd, &len, error))
        return false;
    if (!pread_all(b->kernel_fd, img, MIN(len, sizeof(img)), 0)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KERNEL, "Kernel %s: cannot read it: %s",
                    b->kernel_path, g_strerror(errno));
        return false;
    }
    return parse_header(b, img, len, error);
}

static bool check_cmdline(HgrLinuxBoot *b, const char *cmdline, GError **error)
{
    size_t max = MIN((size_t)get32(b->hdr, HDR_CMDLINE_SIZE), CMDLINE_MAX - 1);
    size_t len = strlen(cmdline);

    if (len > max) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KERNEL,
                    "Kernel %s: the command line is %zu bytes, the kernel accepts at most %zu",
                    b->kernel_path, len, max);
        return false;
    }
    b->cmdline = g_strdup(cmdline);
    return true;
}

HgrLinuxBoot *hgr_linux_boot_new(const char *kernel, const char *initrd, const char *cmdline,
                                 GError **error)
{
    g_autoptr(HgrLinuxBoot) b = g_new0(HgrLinuxBoot, 1);

    b->kernel_fd = b->initrd_fd = -1;
    b->kernel_path = g_strdup(kernel);
    if (!load_kernel(b, error))
        return NULL;
    if (!check_cmdline(b, cmdline ? cmdline : "", error))
        return NULL;
    if (initrd) {
        b->initrd_path = g_strdup(initrd);
        uint64_t max = MIN(b->initrd_addr_max + 1, HGR_LOWMEM_LIMIT);
        if (!open_file("Initrd", HGR_VM_ERROR_INITRD, initrd, max, &b->initrd_fd,
                       &b->initrd_len, error))
            return NULL;
    }
    return g_steal_pointer(&b);
}

/* Where the initrd goes: as high as allowed, page aligned, above the kernel. */
static bool place_initrd(const HgrLinuxBoot *b, uint64_t low_end, uint64_t *addr)
{
    uint64_t top = MIN(MIN(b->initrd_addr_max + 1, low_end), 4 * GiB);

    if (b->initrd_len > top)
        return false;
    *addr = (top - b->initrd_len) & ~(PAGE_SIZE - 1);
    return *addr >= b->kernel_end;
}

static void fill_zero_page(const HgrLinuxBoot *b, const HgrGuestMem *mem, uint64_t rsdp,
                           uint64_t initrd_addr, uint8_t *zp)
{
    HgrE820Entry e820[BP_E820_MAX];

    memset(zp, 0, BP_SIZE);
    memcpy(zp + HDR_START, b->hdr + HDR_START, b->hdr_end - HDR_START);
    zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
    zp[HDR_LOADFLAGS] |= CAN_USE_HEAP;
    put(zp, HDR_HEAP_END_PTR, HEAP_END, 2);
    put(zp, HDR_CODE32_START, KERNEL_ADDR, 4);
    put(zp, HDR_CMD_LINE_PTR, CMDLINE_ADDR, 4);
    put(zp, HDR_RAMDISK_IMAGE, b->initrd_fd >= 0 ? initrd_addr : 0, 4);
    put(zp, HDR_RAMDISK_SIZE, b->initrd_len, 4);
    put(zp, BP_ACPI_RSDP_ADDR, rsdp, 8);
    /* Loader-owned pointers: whatever the image holds there is not ours. */
    put(zp, HDR_HARDWARE_SUBARCH, 0, 4);
    put(zp, HDR_HARDWARE_SUBARCH + 4, 0, 8);
    put(zp, HDR_SETUP_DATA, 0, 8);

    unsigned n = hgr_e820_build(mem, e820, BP_E820_MAX);
    zp[BP_E820_ENTRIES] = n;
    for (unsigned i = 0; i < n; i++) {
        size_t off = BP_E820_TABLE + i * E820_ENTRY_SIZE;
        put(zp, off, e820[i].addr, 8);
        put(zp, off + 8, e820[i].size, 8);
        put(zp, off + 16, e820[i].type, 4);
    }
}

static const HgrMemRegion *region_of(const HgrGuestMem *mem, uint64_t gpa)
{
    for (unsigned i = 0; i < mem->n_regions && i < HGR_MEM_MAX_REGIONS; i++) {
        const HgrMemRegion *r = &mem->regions[i];
        if (gpa >= r->gpa && gpa - r->gpa < r->size)
            return r;
    }
    return NULL;
}

bool hgr_linux_boot_load(const HgrLinuxBoot *b, const HgrGuestMem *mem, uint64_t rsdp,
                         HgrBootEntry *entry, GError **error)
{
    const HgrMemRegion *low = region_of(mem, KERNEL_ADDR);
    uint64_t low_end = low ? low->gpa + low->size : 0;
    uint64_t initrd_addr = 0;
    g_autofree uint8_t *zp = g_malloc(BP_SIZE);

    bool has_initrd = b->initrd_fd >= 0;
    if (low_end < b->kernel_end || (has_initrd && !place_initrd(b, low_end, &initrd_addr))) {
        uint64_t need = b->kernel_end + align_up(b->initrd_len, PAGE_SIZE);
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY,
                    "Kernel %s%s%s: needs %" G_GUINT64_FORMAT " MiB of low RAM (below "
                    "%" G_GUINT64_FORMAT " MiB), the VM has %" G_GUINT64_FORMAT " MiB there",
                    b->kernel_path, has_initrd ? " with initrd " : "",
                    has_initrd ? b->initrd_path : "", (uint64_t)(HGR_LOWMEM_LIMIT / MiB),
                    align_up(need, MiB) / MiB, low_end / MiB);
        return false;
    }
    /* Straight from the files into RAM (both inside the low region, checked above). */
    void *kdst = hgr_mem_ptr(mem, KERNEL_ADDR, b->kernel_len);
    void *idst = has_initrd ? hgr_mem_ptr(mem, initrd_addr, b->initrd_len) : NULL;
    if (!kdst || (has_initrd && !idst) ||
        !pread_all(b->kernel_fd, kdst, b->kernel_len, b->kernel_off) ||
        (has_initrd && !pread_all(b->initrd_fd, idst, b->initrd_len, 0))) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_KERNEL,
                    "Kernel %s%s%s: cannot be read again (changed or truncated since the VM "
                    "was created)", b->kernel_path, has_initrd ? " or initrd " : "",
                    has_initrd ? b->initrd_path : "");
        return false;
    }
    fill_zero_page(b, mem, rsdp, initrd_addr, zp);
    bool ok = hgr_mem_write(mem, CMDLINE_ADDR, b->cmdline, strlen(b->cmdline) + 1) &&
              hgr_mem_write(mem, ZERO_PAGE_ADDR, zp, BP_SIZE) &&
              hgr_x86_write_long_mode(mem, &entry->cr3, &entry->gdt_base, &entry->gdt_limit);
    if (!ok) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY,
                    "Kernel %s: guest RAM does not cover the boot area", b->kernel_path);
        return false;
    }
    entry->rip = KERNEL_ADDR + ENTRY_64_OFFSET;
    entry->rsi = ZERO_PAGE_ADDR;
    return true;
}
