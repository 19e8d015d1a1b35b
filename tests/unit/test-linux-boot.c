/* test-linux-boot.c — bzImage checks, the zero page, e820, page tables, GDT. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "boot/e820.h"
#include "boot/linux-boot.h"
#include "core/pc.h"
#include "hangar/vm.h"

#define MiB (1024ULL * 1024)
#define GiB (1024 * MiB)
#define RSDP 0xe0000ULL

/* A little-endian field of n bytes at p. */
static uint64_t le(const void *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n);
    return v;
}

static void wr(uint8_t *p, size_t off, uint64_t v, size_t n)
{
    memcpy(p + off, &v, n);
}

/* A made-up bzImage: just the setup header fields the loader reads. */
typedef struct {
    uint16_t version;
    uint8_t setup_sects;
    uint8_t header_end_jump;   /* byte at 0x201 */
    uint16_t xloadflags;
    uint32_t syssize;
    size_t payload;            /* bytes after the setup sectors */
    uint32_t cmdline_size;
    uint32_t initrd_addr_max;
    uint32_t init_size;
    uint64_t pref_address;
    uint64_t setup_data;       /* a loader field: must not reach the zero page */
    const char *magic;
} ImageSpec;

static ImageSpec image_default(void)
{
    return (ImageSpec){
        .version = 0x20f,
        .setup_sects = 4,
        .header_end_jump = 0x6a,
        .xloadflags = 0x3,
        .syssize = 64 * 1024 / 16,
        .payload = 64 * 1024,
        .cmdline_size = 255,
        .initrd_addr_max = 0x7fffffff,
        .init_size = 4 * MiB,
        .pref_address = 16 * MiB,
        .magic = "HdrS",
    };
}

static size_t setup_len(const ImageSpec *s)
{
    return (size_t)((s->setup_sects ? s->setup_sects : 4) + 1) * 512;
}

static char *write_image(const char *dir, const char *name, const ImageSpec *s)
{
    size_t len = setup_len(s) + s->payload;
    g_autofree uint8_t *img = g_malloc0(len);
    char *path = g_build_filename(dir, name, NULL);

    img[0x1f1] = s->setup_sects;
    wr(img, 0x1f4, s->syssize, 4);
    wr(img, 0x1fe, 0xaa55, 2);
    img[0x200] = 0xeb;
    img[0x201] = s->header_end_jump;
    memcpy(img + 0x202, s->magic, 4);
    wr(img, 0x206, s->version, 2);
    img[0x211] = 0x01;                      /* LOADED_HIGH */
    wr(img, 0x22c, s->initrd_addr_max, 4);
    wr(img, 0x230, 2 * MiB, 4);
    img[0x234] = 1;
    wr(img, 0x236, s->xloadflags, 2);
    wr(img, 0x238, s->cmdline_size, 4);
    wr(img, 0x250, s->setup_data, 8);
    wr(img, 0x258, s->pref_address, 8);
    wr(img, 0x260, s->init_size, 4);
    for (size_t i = setup_len(s); i < len; i++)
        img[i] = i * 7;
    g_assert_true(g_file_set_contents(path, (const char *)img, len, NULL));
    return path;
}

static char *write_file(const char *dir, const char *name, size_t len)
{
    g_autofree uint8_t *data = g_malloc(len);
    char *path = g_build_filename(dir, name, NULL);

    for (size_t i = 0; i < len; i++)
        data[i] = (i * 13) ^ (i >> 12);
    g_assert_true(g_file_set_contents(path, (const char *)data, len, NULL));
    return path;
}

static char *make_tmpdir(void)
{
    g_autoptr(GError) err = NULL;
    char *dir = g_dir_make_tmp("hangar-boot-XXXXXX", &err);
    g_assert_no_error(err);
    return dir;
}

static void rm_tmpdir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    for (const char *f; d && (f = g_dir_read_name(d));) {
        g_autofree char *path = g_build_filename(dir, f, NULL);
        g_rmdir(path);
        g_unlink(path);
    }
    g_rmdir(dir);
}

typedef struct {
    uint8_t *ram;
    HgrGuestMem mem;
} Ram;

static void ram_new(Ram *r, uint64_t size)
{
    r->ram = g_malloc0(size);
    hgr_mem_init_pc(&r->mem, r->ram, size);
}

/* The e820 table is sorted, entries never overlap, types are RAM or
 * reserved, ECAM is reserved. Returns the bytes of RAM it lists. */
static uint64_t check_e820(const HgrE820Entry *e, unsigned n)
{
    uint64_t ram = 0;
    bool ecam = false;

    g_assert_cmpuint(n, >, 0);
    for (unsigned i = 0; i < n; i++) {
        g_assert_cmpuint(e[i].size, >, 0);
        g_assert_true(e[i].type == HGR_E820_RAM || e[i].type == HGR_E820_RESERVED);
        if (i > 0)
            g_assert_cmphex(e[i - 1].addr + e[i - 1].size, <=, e[i].addr);
        if (e[i].type == HGR_E820_RAM)
            ram += e[i].size;
        if (e[i].type == HGR_E820_RESERVED && e[i].addr <= HGR_PCI_ECAM_BASE &&
            e[i].addr + e[i].size >= HGR_PCI_ECAM_BASE + HGR_PCI_ECAM_SIZE)
            ecam = true;
        /* Nothing in the EBDA, the BIOS area or ECAM is RAM. */
        if (e[i].type == HGR_E820_RAM) {
            g_assert_true(e[i].addr + e[i].size <= 0x9fc00 || e[i].addr >= 0x100000);
            g_assert_true(e[i].addr + e[i].size <= HGR_PCI_ECAM_BASE ||
                          e[i].addr >= HGR_PCI_ECAM_BASE + HGR_PCI_ECAM_SIZE);
        }
    }
    g_assert_true(ecam);
    return ram;
}

static const HgrE820Entry *find_entry(const HgrE820Entry *e, unsigned n, uint64_t addr)
{
    for (unsigned i = 0; i < n; i++)
        if (addr >= e[i].addr && addr - e[i].addr < e[i].size)
            return &e[i];
    return NULL;
}

/* 5 GiB of "RAM" at an address never dereferenced: e820 reads only the map. */
static void test_e820_high(void)
{
    HgrGuestMem mem;
    HgrE820Entry e[HGR_E820_MAX];

    hgr_mem_init_pc(&mem, (uint8_t *)0x1000, 5 * GiB);
    unsigned n = hgr_e820_build(&mem, e, G_N_ELEMENTS(e));
    uint64_t ram = check_e820(e, n);
    g_assert_cmpuint(ram, ==, 5 * GiB - (0x100000 - 0x9fc00));
    g_assert_cmpuint(find_entry(e, n, 0x9fc00)->type, ==, HGR_E820_RESERVED);
    g_assert_cmpuint(find_entry(e, n, HGR_PC_ACPI_BASE)->type, ==, HGR_E820_RESERVED);
    g_assert_null(find_entry(e, n, 0xa0000));              /* VGA hole: not RAM */
    g_assert_cmpuint(find_entry(e, n, 0x100000)->type, ==, HGR_E820_RAM);
    g_assert_cmphex(find_entry(e, n, 0x100000)->addr + find_entry(e, n, 0x100000)->size, ==,
                    HGR_LOWMEM_LIMIT);
    g_assert_cmpuint(find_entry(e, n, HGR_PCI_ECAM_BASE)->type, ==, HGR_E820_RESERVED);
    g_assert_null(find_entry(e, n, HGR_PCI_MMIO_BASE));     /* PCI hole */
    const HgrE820Entry *high = find_entry(e, n, HGR_HIGHMEM_BASE);
    g_assert_nonnull(high);
    g_assert_cmphex(high->addr, ==, HGR_HIGHMEM_BASE);
    g_assert_cmphex(high->size, ==, 5 * GiB - HGR_LOWMEM_LIMIT);

    /* A short output array gets the first entries only. */
    HgrE820Entry two[2];
    g_assert_cmpuint(hgr_e820_build(&mem, two, 2), ==, 2);
    g_assert_cmpmem(two, sizeof(two), e, sizeof(two));
}

static void test_e820_tiny(void)
{
    HgrGuestMem mem;
    HgrE820Entry e[HGR_E820_MAX];

    hgr_mem_init_pc(&mem, (uint8_t *)0x1000, 512 * 1024);
    unsigned n = hgr_e820_build(&mem, e, G_N_ELEMENTS(e));
    g_assert_cmpuint(check_e820(e, n), ==, 512 * 1024);
}

/* Walks the guest's 4-level page tables like the MMU; returns the physical
 * address for va or UINT64_MAX. */
static uint64_t translate(const Ram *r, uint64_t cr3, uint64_t va)
{
    uint64_t table = cr3 & ~0xfffULL;

    for (int level = 3; level >= 0; level--) {
        unsigned idx = (va >> (12 + 9 * level)) & 0x1ff;
        g_assert_cmpuint(table + 8 * idx + 8, <=, r->mem.ram_size);
        uint64_t pte = le(r->ram + table + 8 * idx, 8);
        if (!(pte & 1))
            return UINT64_MAX;
        g_assert_true(pte & 2);                          /* writable */
        uint64_t addr = pte & 0x000ffffffffff000ULL;
        if (level == 0 || (level <= 2 && (pte & 0x80))) {
            uint64_t page_mask = (1ULL << (12 + 9 * level)) - 1;
            return (addr & ~page_mask) | (va & page_mask);
        }
        table = addr;
    }
    return UINT64_MAX;
}

static void check_page_tables(const Ram *r, uint64_t cr3)
{
    for (uint64_t va = 0; va < 4 * GiB; va += 2 * MiB) {
        g_assert_cmphex(translate(r, cr3, va), ==, va);
        g_assert_cmphex(translate(r, cr3, va + 2 * MiB - 1), ==, va + 2 * MiB - 1);
    }
}

static void check_gdt(const Ram *r, const HgrBootEntry *entry)
{
    g_assert_cmpuint(entry->gdt_limit, >=, HGR_BOOT_DS + 7);
    g_assert_cmpuint((entry->gdt_limit + 1) % 8, ==, 0);
    uint64_t cs = le(r->ram + entry->gdt_base + HGR_BOOT_CS, 8);
    uint64_t ds = le(r->ram + entry->gdt_base + HGR_BOOT_DS, 8);
    /* Present, DPL 0, code segment, L=1 and D=0: 64-bit code. */
    g_assert_true(cs & (1ULL << 47));
    g_assert_cmpuint((cs >> 45) & 3, ==, 0);
    g_assert_true(cs & (1ULL << 44));
    g_assert_true(cs & (1ULL << 43));
    g_assert_true(cs & (1ULL << 53));
    g_assert_false(cs & (1ULL << 54));
    /* Present, data, writable, 4 GiB limit. */
    g_assert_true(ds & (1ULL << 47));
    g_assert_false(ds & (1ULL << 43));
    g_assert_true(ds & (1ULL << 41));
    g_assert_true(ds & (1ULL << 55));
    g_assert_cmphex(ds & 0xffff, ==, 0xffff);
    g_assert_cmphex((ds >> 48) & 0xf, ==, 0xf);
}

static char *find_host_kernel(void)
{
    g_autoptr(GDir) d = g_dir_open("/boot", 0, NULL);
    char *best = NULL;

    for (const char *f; d && (f = g_dir_read_name(d));) {
        if (g_str_has_prefix(f, "vmlinuz-") && (!best || strcmp(f, best) > 0)) {
            g_free(best);
            best = g_strdup(f);
        }
    }
    if (!best)
        return NULL;
    char *path = g_build_filename("/boot", best, NULL);
    g_free(best);
    return path;
}

static void test_debian_kernel(void)
{
    g_autofree char *kernel = find_host_kernel();
    const char *cmdline = "console=ttyS0 root=/dev/vda ro quiet";

    if (!kernel || access(kernel, R_OK) != 0) {
        g_printerr("WARNING: no readable /boot/vmlinuz-*: the real kernel was NOT loaded\n");
        g_test_skip("no readable /boot/vmlinuz-* (install linux-image-amd64): real kernel "
                    "NOT tested");
        return;
    }
    g_autofree char *dir = make_tmpdir();
    g_autofree char *initrd = write_file(dir, "initrd", 3 * MiB + 123);
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrLinuxBoot) b = hgr_linux_boot_new(kernel, initrd, cmdline, &err);
    g_assert_no_error(err);

    g_autofree char *img = NULL, *rd = NULL;
    size_t img_len, rd_len;
    g_assert_true(g_file_get_contents(kernel, &img, &img_len, NULL));
    g_assert_true(g_file_get_contents(initrd, &rd, &rd_len, NULL));
    const uint8_t *hdr = (const uint8_t *)img;
    size_t setup = ((hdr[0x1f1] ? hdr[0x1f1] : 4) + 1) * 512;

    Ram r;
    ram_new(&r, 256 * MiB);
    HgrBootEntry entry;
    for (int pass = 0; pass < 2; pass++) {           /* the second load is a reset */
        g_assert_true(hgr_linux_boot_load(b, &r.mem, RSDP, &entry, &err));
        g_assert_no_error(err);
    }

    g_assert_cmphex(entry.rip, ==, 0x100000 + 0x200);
    g_assert_cmpmem(r.ram + 0x100000, img_len - setup, img + setup, img_len - setup);

    const uint8_t *zp = r.ram + entry.rsi;
    g_assert_cmpuint(entry.rsi + 4096, <=, 0x9fc00);
    /* The setup header is the image's, except the loader's own fields. */
    size_t hdr_end = 0x202 + hdr[0x201];
    g_assert_cmpmem(zp + 0x1f1, 0x210 - 0x1f1, hdr + 0x1f1, 0x210 - 0x1f1);
    g_assert_cmpmem(zp + 0x22c, hdr_end - 0x22c, hdr + 0x22c, hdr_end - 0x22c);
    g_assert_cmphex(zp[0x210], ==, 0xff);
    g_assert_cmphex(zp[0x211] & 0x81, ==, 0x81);     /* LOADED_HIGH, CAN_USE_HEAP */
    g_assert_cmphex(le(zp + 0x224, 2), !=, 0);
    g_assert_cmphex(le(zp + 0x070, 8), ==, RSDP);
    g_assert_cmpuint(zp[0x1ef], ==, 0);              /* sentinel */

    uint32_t cmd = le(zp + 0x228, 4);
    g_assert_cmpuint(le(zp + 0x0c8, 4), ==, 0);
    g_assert_cmpuint(cmd + strlen(cmdline) + 1, <=, 0x9fc00);
    g_assert_cmpstr((const char *)r.ram + cmd, ==, cmdline);
    g_assert_cmpuint(strlen(cmdline), <=, le(hdr + 0x238, 4));

    uint64_t rd_addr = le(zp + 0x218, 4) | (uint64_t)le(zp + 0x0c0, 4) << 32;
    uint64_t rd_size = le(zp + 0x21c, 4) | (uint64_t)le(zp + 0x0c4, 4) << 32;
    g_assert_cmpuint(rd_size, ==, rd_len);
    g_assert_cmphex(rd_addr % 4096, ==, 0);
    g_assert_cmphex(rd_addr + rd_size - 1, <=, le(hdr + 0x22c, 4));
    g_assert_cmphex(rd_addr + rd_size, <=, 256 * MiB);
    g_assert_cmphex(256 * MiB - (rd_addr + rd_size), <, 4096);     /* as high as it goes */
    /* Above the loaded kernel and the area it decompresses into. */
    uint64_t run_end = MAX(le(hdr + 0x258, 8), 2 * MiB) + le(hdr + 0x260, 4);
    g_assert_cmphex(rd_addr, >=, 0x100000 + img_len - setup);
    g_assert_cmphex(rd_addr, >=, run_end);
    g_assert_cmpmem(r.ram + rd_addr, rd_size, rd, rd_len);

    HgrE820Entry e[128] = { 0 };
    unsigned n = zp[0x1e8];
    g_assert_cmpuint(n, <=, 128);
    for (unsigned i = 0; i < n; i++) {
        e[i].addr = le(zp + 0x2d0 + 20 * i, 8);
        e[i].size = le(zp + 0x2d0 + 20 * i + 8, 8);
        e[i].type = le(zp + 0x2d0 + 20 * i + 16, 4);
    }
    g_assert_cmpuint(check_e820(e, n), ==, 256 * MiB - (0x100000 - 0x9fc00));
    g_assert_cmpuint(find_entry(e, n, rd_addr)->type, ==, HGR_E820_RAM);
    g_assert_cmpuint(find_entry(e, n, entry.rsi)->type, ==, HGR_E820_RAM);

    check_page_tables(&r, entry.cr3);
    check_gdt(&r, &entry);
    g_free(r.ram);
    rm_tmpdir(dir);
}

/* Expects hgr_linux_boot_new to fail with code, naming `names` and saying why. */
static void expect_new_fails(const char *kernel, const char *initrd, const char *cmdline,
                             int code, const char *names, const char *why)
{
    g_autoptr(GError) err = NULL;
    HgrLinuxBoot *b = hgr_linux_boot_new(kernel, initrd, cmdline, &err);

    g_assert_null(b);
    g_assert_error(err, HGR_VM_ERROR, code);
    if (!strstr(err->message, names) || !strstr(err->message, why))
        g_error("error \"%s\" should name %s and say \"%s\"", err->message, names, why);
    g_assert_null(strchr(err->message, '\n'));
}

static void test_bad_kernels(void)
{
    g_autofree char *dir = make_tmpdir();
    ImageSpec s;

    g_autofree char *text = write_file(dir, "text", 8192);
    expect_new_fails(text, NULL, NULL, HGR_VM_ERROR_KERNEL, text, "not a bzImage");
    g_autofree char *tiny = write_file(dir, "tiny", 10);
    expect_new_fails(tiny, NULL, NULL, HGR_VM_ERROR_KERNEL, tiny, "not a bzImage");
    g_autofree char *empty = write_file(dir, "empty", 0);
    expect_new_fails(empty, NULL, NULL, HGR_VM_ERROR_KERNEL, empty, "not a bzImage");

    s = image_default();
    s.payload = 1000;                       /* syssize says 64 KiB */
    g_autofree char *trunc = write_image(dir, "truncated", &s);
    expect_new_fails(trunc, NULL, NULL, HGR_VM_ERROR_KERNEL, trunc, "truncated");

    s = image_default();
    s.setup_sects = 200;                    /* more setup than the file has */
    s.payload = 0;
    g_autofree char *setup = write_image(dir, "setup", &s);
    g_assert_true(truncate(setup, 3 * 512) == 0);
    expect_new_fails(setup, NULL, NULL, HGR_VM_ERROR_KERNEL, setup, "truncated");

    s = image_default();
    s.version = 0x205;
    g_autofree char *old = write_image(dir, "old", &s);
    expect_new_fails(old, NULL, NULL, HGR_VM_ERROR_KERNEL, old, "2.05 is too old");

    s = image_default();
    s.xloadflags = 0x2;
    g_autofree char *no64 = write_image(dir, "no64", &s);
    expect_new_fails(no64, NULL, NULL, HGR_VM_ERROR_KERNEL, no64, "XLF_KERNEL_64");

    s = image_default();
    s.version = 0x20b;                      /* before xloadflags existed */
    g_autofree char *pre212 = write_image(dir, "pre212", &s);
    expect_new_fails(pre212, NULL, NULL, HGR_VM_ERROR_KERNEL, pre212, "64-bit");

    s = image_default();
    s.header_end_jump = 0xff;               /* header would run into the e820 table */
    g_autofree char *longhdr = write_image(dir, "longhdr", &s);
    expect_new_fails(longhdr, NULL, NULL, HGR_VM_ERROR_KERNEL, longhdr, "malformed");

    s = image_default();
    s.pref_address = UINT64_MAX - 4096;     /* would wrap kernel_end */
    g_autofree char *pref = write_image(dir, "pref", &s);
    expect_new_fails(pref, NULL, NULL, HGR_VM_ERROR_KERNEL, pref, "malformed");

    expect_new_fails(dir, NULL, NULL, HGR_VM_ERROR_KERNEL, dir, "is a directory");
    g_autofree char *missing = g_build_filename(dir, "missing", NULL);
    expect_new_fails(missing, NULL, NULL, HGR_VM_ERROR_KERNEL, missing, "No such file");
    expect_new_fails("/dev/null", NULL, NULL, HGR_VM_ERROR_KERNEL, "/dev/null",
                     "not a regular file");

    g_autofree char *good = write_image(dir, "good", (s = image_default(), &s));
    if (geteuid() != 0) {
        g_assert_cmpint(g_chmod(good, 0), ==, 0);
        expect_new_fails(good, NULL, NULL, HGR_VM_ERROR_KERNEL, good, "Permission denied");
        g_assert_cmpint(g_chmod(good, 0644), ==, 0);
    } else {
        g_test_message("running as root: the unreadable-kernel case cannot be made");
    }
    rm_tmpdir(dir);
}

static void test_bad_cmdline_initrd(void)
{
    g_autofree char *dir = make_tmpdir();
    ImageSpec s = image_default();

    s.cmdline_size = 16;
    s.initrd_addr_max = 0xffff;             /* an initrd of at most 64 KiB */
    g_autofree char *kernel = write_image(dir, "kernel", &s);
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrLinuxBoot) ok = hgr_linux_boot_new(kernel, NULL, "0123456789abcdef", &err);
    g_assert_no_error(err);
    expect_new_fails(kernel, NULL, "0123456789abcdefg", HGR_VM_ERROR_KERNEL, kernel,
                     "command line is 17 bytes");

    g_autofree char *big = write_file(dir, "big-initrd", 64 * 1024 + 1);
    expect_new_fails(kernel, big, NULL, HGR_VM_ERROR_INITRD, big, "too large");
    g_autofree char *missing = g_build_filename(dir, "no-initrd", NULL);
    expect_new_fails(kernel, missing, NULL, HGR_VM_ERROR_INITRD, missing, "No such file");
    expect_new_fails(kernel, dir, NULL, HGR_VM_ERROR_INITRD, dir, "is a directory");
    rm_tmpdir(dir);
}

/* The loader's placement rules on a kernel whose numbers we chose. */
static void test_synthetic_load(void)
{
    g_autofree char *dir = make_tmpdir();
    ImageSpec s = image_default();
    s.setup_data = 0xdeadbeef;
    g_autofree char *kernel = write_image(dir, "kernel", &s);
    g_autofree char *initrd = write_file(dir, "initrd", 5 * MiB + 1);
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrLinuxBoot) b = hgr_linux_boot_new(kernel, initrd, "", &err);
    HgrBootEntry entry;
    Ram r;

    g_assert_no_error(err);
    /* The kernel runs at 16 MiB (pref_address) for 4 MiB: 20 MiB of RAM fit
     * it exactly, 25 MiB do not fit the initrd as well, 26 MiB do. */
    ram_new(&r, 26 * MiB);
    g_assert_true(hgr_linux_boot_load(b, &r.mem, RSDP, &entry, &err));
    g_assert_no_error(err);
    const uint8_t *zp = r.ram + entry.rsi;
    g_assert_cmphex(le(zp + 0x218, 4), ==, (26 * MiB - (5 * MiB + 1)) & ~0xfffULL);
    g_assert_cmphex(le(zp + 0x218, 4), >=, 20 * MiB);
    g_assert_cmpstr((const char *)r.ram + le(zp + 0x228, 4), ==, "");
    g_assert_cmphex(le(zp + 0x250, 8), ==, 0);
    check_page_tables(&r, entry.cr3);
    g_free(r.ram);

    ram_new(&r, 25 * MiB);
    g_assert_false(hgr_linux_boot_load(b, &r.mem, RSDP, &entry, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY);
    g_assert_nonnull(strstr(err->message, kernel));
    g_clear_error(&err);
    g_free(r.ram);

    g_autoptr(HgrLinuxBoot) no_initrd = hgr_linux_boot_new(kernel, NULL, NULL, &err);
    g_assert_no_error(err);
    ram_new(&r, 20 * MiB);
    g_assert_true(hgr_linux_boot_load(no_initrd, &r.mem, RSDP, &entry, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(le(r.ram + entry.rsi + 0x218, 4), ==, 0);
    g_assert_cmpuint(le(r.ram + entry.rsi + 0x21c, 4), ==, 0);
    g_free(r.ram);
    ram_new(&r, 20 * MiB - 4096);
    g_assert_false(hgr_linux_boot_load(no_initrd, &r.mem, RSDP, &entry, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY);
    g_free(r.ram);
    rm_tmpdir(dir);
}

/* The images are read from disk at every load (power-on and each reset):
 * their bytes land in RAM, and a file cut short since is a clear error. */
static void test_reload_from_disk(void)
{
    g_autofree char *dir = make_tmpdir();
    ImageSpec s = image_default();
    g_autofree char *kernel = write_image(dir, "kernel", &s);
    g_autofree char *initrd = write_file(dir, "initrd", 1 * MiB + 7);
    g_autofree char *want = NULL;
    gsize want_len;
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrLinuxBoot) b = hgr_linux_boot_new(kernel, initrd, "x", &err);
    HgrBootEntry entry;
    Ram r;

    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(initrd, &want, &want_len, NULL));
    ram_new(&r, 64 * MiB);
    g_assert_true(hgr_linux_boot_load(b, &r.mem, RSDP, &entry, &err));
    const uint8_t *zp = r.ram + entry.rsi;
    g_assert_cmpmem(r.ram + le(zp + 0x218, 4), le(zp + 0x21c, 4), want, want_len);
    memset(r.ram, 0, 64 * MiB);                /* a reset loads everything again */
    g_assert_true(hgr_linux_boot_load(b, &r.mem, RSDP, &entry, &err));
    g_assert_cmpmem(r.ram + le(zp + 0x218, 4), le(zp + 0x21c, 4), want, want_len);
    g_assert_cmpint(truncate(initrd, 4096), ==, 0);
    g_assert_false(hgr_linux_boot_load(b, &r.mem, RSDP, &entry, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_KERNEL);
    g_assert_nonnull(strstr(err->message, "changed"));
    g_free(r.ram);
    rm_tmpdir(dir);
}

/* With more than 4 GiB of RAM the initrd still lands below initrd_addr_max
 * and inside low RAM; only the map of the fake RAM above 3 GiB is read. */
static void test_initrd_below_limit(void)
{
    g_autofree char *dir = make_tmpdir();
    ImageSpec s = image_default();
    s.initrd_addr_max = 64 * MiB - 1;
    g_autofree char *kernel = write_image(dir, "kernel", &s);
    g_autofree char *initrd = write_file(dir, "initrd", 8192);
    g_autoptr(GError) err = NULL;
    g_autoptr(HgrLinuxBoot) b = hgr_linux_boot_new(kernel, initrd, NULL, &err);
    HgrBootEntry entry;
    Ram r;

    g_assert_no_error(err);
    ram_new(&r, 128 * MiB);
    g_assert_true(hgr_linux_boot_load(b, &r.mem, RSDP, &entry, &err));
    g_assert_no_error(err);
    g_assert_cmphex(le(r.ram + entry.rsi + 0x218, 4), ==, 64 * MiB - 8192);
    g_free(r.ram);
    rm_tmpdir(dir);
}

/* RAM too small for the Debian kernel: a clear MEMORY error. */
static void test_debian_kernel_small_ram(void)
{
    g_autofree char *kernel = find_host_kernel();
    g_autoptr(GError) err = NULL;
    HgrBootEntry entry;
    Ram r;

    if (!kernel || access(kernel, R_OK) != 0) {
        g_printerr("WARNING: no readable /boot/vmlinuz-*: the real kernel was NOT loaded\n");
        g_test_skip("no readable /boot/vmlinuz-*: real kernel NOT tested");
        return;
    }
    g_autoptr(HgrLinuxBoot) b = hgr_linux_boot_new(kernel, NULL, NULL, &err);
    g_assert_no_error(err);
    ram_new(&r, 32 * MiB);
    g_assert_false(hgr_linux_boot_load(b, &r.mem, RSDP, &entry, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_MEMORY);
    g_assert_nonnull(strstr(err->message, kernel));
    g_free(r.ram);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/e820/above-3g", test_e820_high);
    g_test_add_func("/vmm/e820/below-640k", test_e820_tiny);
    g_test_add_func("/vmm/linux-boot/debian-kernel", test_debian_kernel);
    g_test_add_func("/vmm/linux-boot/debian-kernel-small-ram", test_debian_kernel_small_ram);
    g_test_add_func("/vmm/linux-boot/bad-kernels", test_bad_kernels);
    g_test_add_func("/vmm/linux-boot/bad-cmdline-initrd", test_bad_cmdline_initrd);
    g_test_add_func("/vmm/linux-boot/placement", test_synthetic_load);
    g_test_add_func("/vmm/linux-boot/initrd-below-limit", test_initrd_below_limit);
    g_test_add_func("/vmm/linux-boot/reload-from-disk", test_reload_from_disk);
    return g_test_run();
}
