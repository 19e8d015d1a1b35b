/* test-ahci.c — the ICH9 AHCI HBA driven the way Linux's ahci driver does
 * it (HBA reset, port start, COMRESET, signature, commands through the
 * command list) in a fake RAM, with a disk image checked by pread, an ISO
 * built by xorriso, the hostile cases, and save/load. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <hangar/vm.h>
#include <string.h>
#include <unistd.h>

#include "block/block.h"
#include "hw/ahci.h"
#include "pci-test-board.h"

#define IMG_SECTORS     2048                    /* 1 MiB disk */
#define DISK_PORT       0
#define CD_PORT         2
#define EMPTY_PORT      4
#define CLB(p)          (0x10000u + (p) * 0x1000u)
#define FB(p)           (CLB(p) + 0x400u)
#define CTBA(p, s)      (0x40000u + (p) * 0x8000u + (s) * 0x400u)
#define DATA            0x100000u               /* above the VGA window */
#define MSI_ADDR        0xfee00000u
#define MSI_DATA        0x4041u

/* Registers. */
#define GHC             0x04
#define PREG(p, r)      (0x100u + (p) * 0x80u + (r))
enum { P_CLB = 0x00, P_CLBU = 0x04, P_FB = 0x08, P_IS = 0x10, P_IE = 0x14, P_CMD = 0x18,
       P_TFD = 0x20, P_SIG = 0x24, P_SSTS = 0x28, P_SCTL = 0x2c, P_SERR = 0x30,
       P_CI = 0x38 };
#define IS_DHRS         (1u << 0)
#define IS_PSS          (1u << 1)
#define IS_HBFS         (1u << 29)
#define IS_TFES         (1u << 30)

typedef struct {
    uint64_t addr;
    uint32_t len;
} Prd;

typedef struct {
    TestBoard *tb;
    HgrIoThread *t;
    HgrDevice *dev;
    char *dir;
    char *disk_path;
    HgrBlock *disk;
    HgrBlock *cd;
    uint64_t bar;
    unsigned devfn;
} Fx;

/* MMIO */

static uint32_t rd(Fx *f, uint32_t off)
{
    return (uint32_t)test_io(&f->tb->mmio, f->bar + off, 4);
}

static void wr(Fx *f, uint32_t off, uint32_t v)
{
    test_io_write(&f->tb->mmio, f->bar + off, 4, v);
}

static uint8_t *ram(Fx *f, uint64_t gpa)
{
    return f->tb->ram + gpa;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Bring-up, as ahci_pci_init_one / ahci_reset_controller / ahci_port_start
 * / ahci_hardreset do it. */

static void enable_pci(Fx *f)
{
    TestBoard *tb = f->tb;

    for (f->devfn = 8; f->devfn < 256; f->devfn += 8)
        if (test_cfg_read(tb, f->devfn, PCI_VENDOR_ID, 2) == 0x8086)
            break;
    g_assert_cmpuint(f->devfn, <, 256);
    test_cfg_write(tb, f->devfn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    f->bar = test_cfg_read(tb, f->devfn, PCI_BASE_ADDRESS_0 + 4 * 5, 4) & ~0xfu;
    g_assert_cmphex(f->bar, !=, 0);
    unsigned cap = test_cfg_read(tb, f->devfn, PCI_CAPABILITY_LIST, 1);
    while (cap && test_cfg_read(tb, f->devfn, cap, 1) != 0x05)
        cap = test_cfg_read(tb, f->devfn, cap + 1, 1);
    g_assert_cmpuint(cap, !=, 0);
    test_cfg_write(tb, f->devfn, cap + 4, 4, MSI_ADDR);
    test_cfg_write(tb, f->devfn, cap + 8, 4, 0);
    test_cfg_write(tb, f->devfn, cap + 12, 2, MSI_DATA);
    test_cfg_write(tb, f->devfn, cap + 2, 2, 1);
}

static void hba_reset(Fx *f)
{
    wr(f, GHC, 1u << 31);
    wr(f, GHC, 1u << 31 | 1);
    g_assert_cmphex(rd(f, GHC) & 1, ==, 0);
    wr(f, GHC, 1u << 31 | 2);
}

static void comreset(Fx *f, unsigned p)
{
    wr(f, PREG(p, P_SCTL), 0x301);
    g_assert_cmphex(rd(f, PREG(p, P_SSTS)) & 0xf, ==, 0);
    wr(f, PREG(p, P_SCTL), 0x300);
}

static void port_start(Fx *f, unsigned p)
{
    wr(f, PREG(p, P_CLB), CLB(p));
    wr(f, PREG(p, P_CLBU), 0);
    wr(f, PREG(p, P_FB), FB(p));
    wr(f, PREG(p, P_CMD), 1u << 4);                 /* FRE */
    g_assert_true(rd(f, PREG(p, P_CMD)) & (1u << 14));
    ram(f, FB(p) + 0x40)[2] = 0x80;                 /* BSY, until the signature FIS */
    comreset(f, p);
    wr(f, PREG(p, P_SERR), 0xffffffff);
    wr(f, PREG(p, P_IS), 0xffffffff);
    wr(f, PREG(p, P_IE), 0xfdc000ff);
    wr(f, PREG(p, P_CMD), 1u << 4 | 1u);            /* FRE | ST */
    g_assert_true(rd(f, PREG(p, P_CMD)) & (1u << 15));
}

static void fx_init(Fx *f, bool iothread, bool with_cd)
{
    memset(f, 0, sizeof(*f));
    f->tb = test_board_new(NULL);
    f->dir = g_dir_make_tmp("hangar-test-ahci-XXXXXX", NULL);
    f->disk_path = g_build_filename(f->dir, "disk.img", NULL);
    g_autofree uint8_t *img = g_malloc(IMG_SECTORS * 512);
    for (unsigned i = 0; i < IMG_SECTORS * 512; i++)
        img[i] = (uint8_t)(i / 512 + i);
    g_assert_true(g_file_set_contents(f->disk_path, (char *)img, IMG_SECTORS * 512, NULL));
    g_autoptr(GError) err = NULL;
    f->disk = hgr_block_open(f->disk_path, HGR_DISK_FORMAT_RAW, false, &err);
    g_assert_no_error(err);
    if (iothread) {
        f->t = hgr_iothread_new("test-ahci");
        hgr_iothread_start(f->t);
    }
    f->dev = hgr_ahci_new("ahci.0", &f->tb->mem, f->t);
    g_assert_true(hgr_ahci_attach_disk(f->dev, DISK_PORT, f->disk, &err));
    if (with_cd)
        g_assert_true(hgr_ahci_attach_cdrom(f->dev, CD_PORT, NULL, &err));
    g_assert_no_error(err);
    g_assert_true(f->dev->ops->realize(f->dev, &f->tb->board, &err));
    g_assert_no_error(err);
    enable_pci(f);
    hba_reset(f);
}

static void fx_clear(Fx *f)
{
    hgr_device_free(f->dev);
    g_clear_pointer(&f->disk, hgr_block_free);
    g_clear_pointer(&f->cd, hgr_block_free);
    if (f->t)
        hgr_iothread_free(f->t);
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    for (const char *n; d && (n = g_dir_read_name(d));) {
        g_autofree char *p = g_build_filename(f->dir, n, NULL);
        g_unlink(p);
    }
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->disk_path);
    test_board_free(f->tb, true);
}

/* Commands */

static void build_cmd(Fx *f, unsigned p, unsigned slot, const uint8_t fis[20],
                      const uint8_t *acmd, const Prd *prd, unsigned n_prd, bool write)
{
    uint8_t *hdr = ram(f, CLB(p) + 32 * slot);
    uint8_t *tbl = ram(f, CTBA(p, slot));

    memset(hdr, 0, 32);
    put32(hdr, 5 | (acmd ? 1u << 5 : 0) | (write ? 1u << 6 : 0) | (uint32_t)n_prd << 16);
    put32(hdr + 4, 0xdeadbeef);                     /* PRDBC: the HBA must overwrite it */
    put32(hdr + 8, CTBA(p, slot));
    memset(tbl, 0, 0x80);
    memcpy(tbl, fis, 20);
    if (acmd)
        memcpy(tbl + 0x40, acmd, 16);
    for (unsigned i = 0; i < n_prd; i++) {
        uint8_t *e = tbl + 0x80 + 16 * i;
        put32(e, (uint32_t)prd[i].addr);
        put32(e + 4, (uint32_t)(prd[i].addr >> 32));
        put32(e + 8, 0);
        put32(e + 12, prd[i].len - 1);
    }
}

static void wait_ci(Fx *f, unsigned p, unsigned slot)
{
    for (int i = 0; i < 5000 && (rd(f, PREG(p, P_CI)) & (1u << slot)); i++)
        g_usleep(1000);
    g_assert_cmphex(rd(f, PREG(p, P_CI)) & (1u << slot), ==, 0);
}

/* Issues one command in slot and waits for it; returns PxTFD. */
static uint32_t run(Fx *f, unsigned p, unsigned slot, const uint8_t fis[20],
                    const uint8_t *acmd, const Prd *prd, unsigned n_prd, bool write)
{
    build_cmd(f, p, slot, fis, acmd, prd, n_prd, write);
    wr(f, PREG(p, P_CI), 1u << slot);
    wait_ci(f, p, slot);
    return rd(f, PREG(p, P_TFD));
}

static void ata_fis(uint8_t fis[20], uint8_t cmd, uint64_t lba, uint32_t count)
{
    memset(fis, 0, 20);
    fis[0] = 0x27;
    fis[1] = 0x80;
    fis[2] = cmd;
    fis[4] = (uint8_t)lba;
    fis[5] = (uint8_t)(lba >> 8);
    fis[6] = (uint8_t)(lba >> 16);
    fis[7] = 0x40;
    fis[8] = (uint8_t)(lba >> 24);
    fis[9] = (uint8_t)(lba >> 32);
    fis[10] = (uint8_t)(lba >> 40);
    fis[12] = (uint8_t)count;
    fis[13] = (uint8_t)(count >> 8);
}

static uint32_t prdbc(Fx *f, unsigned p, unsigned slot)
{
    return get32(ram(f, CLB(p) + 32 * slot + 4));
}

static void expect_tfes(Fx *f, unsigned p, uint32_t tfd)
{
    g_assert_cmphex(tfd & 1, ==, 1);                /* ERR */
    g_assert_true(rd(f, PREG(p, P_IS)) & IS_TFES);
    g_assert_cmphex(ram(f, FB(p) + 0x40)[2] & 1, ==, 1);
    wr(f, PREG(p, P_IS), 0xffffffff);
}

static void pread_all(const char *path, uint64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, (off_t)off), ==, (ssize_t)len);
    close(fd);
}

/* Guest nonsense is logged as a (rate-limited) warning, which GTest would
 * make fatal: count the HBA's instead; any other warning fails the test. */
static gint guest_warnings;

static void count_guest_warnings(const gchar *domain, GLogLevelFlags level,
                                 const gchar *message, gpointer data)
{
    if (strstr(message, "ahci.0")) {
        g_atomic_int_inc(&guest_warnings);
        return;
    }
    g_log_default_handler(domain, level, message, data);
    g_test_fail();
}

/* Tests */

static void test_pci_identity(void)
{
    Fx f;

    fx_init(&f, false, false);
    g_assert_cmphex(test_cfg_read(f.tb, f.devfn, PCI_DEVICE_ID, 2), ==, 0x2922);
    g_assert_cmphex(test_cfg_read(f.tb, f.devfn, PCI_CLASS_PROG, 4) & 0xffffff, ==, 0x010601);
    g_assert_cmphex(rd(&f, 0x00) & 0x1f, ==, 5);           /* six ports */
    g_assert_cmphex(rd(&f, 0x00) >> 8 & 0x1f, ==, 31);     /* 32 slots */
    g_assert_cmphex(rd(&f, 0x0c), ==, 0x3f);
    g_assert_cmphex(rd(&f, 0x10), ==, 0x00010300);
    g_assert_true(rd(&f, GHC) & (1u << 31));
    /* A port with a disk has a link and the ATA signature; an empty one not. */
    g_assert_cmphex(rd(&f, PREG(DISK_PORT, P_SSTS)), ==, 0x113);
    g_assert_cmphex(rd(&f, PREG(EMPTY_PORT, P_SSTS)) & 0xf, ==, 0);
    fx_clear(&f);
}

static void test_disk_identify(void)
{
    Fx f;
    uint8_t fis[20];

    fx_init(&f, false, false);
    port_start(&f, DISK_PORT);
    g_assert_cmphex(rd(&f, PREG(DISK_PORT, P_SIG)), ==, 0x00000101);
    g_assert_cmphex(ram(&f, FB(DISK_PORT) + 0x40)[2], ==, 0x50);   /* signature FIS */
    unsigned msi_before = f.tb->n_msi;
    Prd prd = { DATA, 512 };
    ata_fis(fis, 0xec, 0, 0);
    uint32_t tfd = run(&f, DISK_PORT, 3, fis, NULL, &prd, 1, false);
    g_assert_cmphex(tfd, ==, 0x50);
    g_assert_cmpuint(prdbc(&f, DISK_PORT, 3), ==, 512);
    g_assert_cmphex(ram(&f, FB(DISK_PORT) + 0x20)[15], ==, 0x50);   /* PIO setup E_Status */
    g_assert_true(rd(&f, PREG(DISK_PORT, P_IS)) & IS_PSS);
    g_assert_cmpuint(f.tb->n_msi, >, msi_before);
    g_assert_cmphex(f.tb->msi[f.tb->n_msi - 1].addr, ==, MSI_ADDR);
    g_assert_cmphex(f.tb->msi[f.tb->n_msi - 1].data, ==, MSI_DATA);
    g_assert_cmphex(rd(&f, 0x08), ==, 1u << DISK_PORT);

    const uint8_t *id = ram(&f, DATA);
    char model[41];
    for (unsigned i = 0; i < 20; i++) {
        model[2 * i] = (char)id[54 + 2 * i + 1];
        model[2 * i + 1] = (char)id[54 + 2 * i];
    }
    model[40] = 0;
    g_assert_cmpstr(g_strchomp(model), ==, "HANGAR HARDDISK");
    uint64_t lba48 = 0;
    for (unsigned i = 0; i < 8; i++)
        lba48 |= (uint64_t)id[200 + i] << (8 * i);
    g_assert_cmpuint(lba48, ==, IMG_SECTORS);
    g_assert_true(id[83 * 2 + 1] & 0x04);                  /* LBA48 */
    g_assert_true(id[49 * 2 + 1] & 0x01);                  /* DMA */
    uint8_t sum = 0;
    for (unsigned i = 0; i < 512; i++)
        sum += id[i];
    g_assert_cmpuint(sum, ==, 0);
    /* Interrupt acknowledged as Linux does: port IS, then HBA IS. */
    wr(&f, PREG(DISK_PORT, P_IS), 0xffffffff);
    wr(&f, 0x08, 0xffffffff);
    g_assert_cmphex(rd(&f, 0x08), ==, 0);
    fx_clear(&f);
}

static void do_read_write(bool iothread)
{
    Fx f;
    uint8_t fis[20];
    uint8_t expect[8 * 512], got[8 * 512];

    fx_init(&f, iothread, false);
    port_start(&f, DISK_PORT);
    /* WRITE DMA EXT of 8 sectors at 100 from two PRDs (3 + 5 sectors). */
    for (unsigned i = 0; i < sizeof(expect); i++)
        expect[i] = (uint8_t)(i * 7 + 3);
    memcpy(ram(&f, DATA), expect, 3 * 512);
    memcpy(ram(&f, DATA + 0x10000), expect + 3 * 512, 5 * 512);
    Prd wprd[2] = { { DATA, 3 * 512 }, { DATA + 0x10000, 5 * 512 } };
    ata_fis(fis, 0x35, 100, 8);
    g_assert_cmphex(run(&f, DISK_PORT, 0, fis, NULL, wprd, 2, true), ==, 0x50);
    g_assert_cmpuint(prdbc(&f, DISK_PORT, 0), ==, sizeof(expect));
    pread_all(f.disk_path, 100 * 512, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), expect, sizeof(expect));

    /* READ DMA EXT back into one PRD, and READ DMA (LBA28) of a sector the
     * image was made with. */
    memset(ram(&f, DATA + 0x20000), 0, sizeof(got));
    Prd rprd = { DATA + 0x20000, sizeof(got) };
    ata_fis(fis, 0x25, 100, 8);
    g_assert_cmphex(run(&f, DISK_PORT, 1, fis, NULL, &rprd, 1, false), ==, 0x50);
    g_assert_cmpmem(ram(&f, DATA + 0x20000), sizeof(got), expect, sizeof(expect));
    ata_fis(fis, 0xc8, 2047, 1);
    g_assert_cmphex(run(&f, DISK_PORT, 2, fis, NULL, &rprd, 1, false), ==, 0x50);
    pread_all(f.disk_path, 2047 * 512, got, 512);
    g_assert_cmpmem(ram(&f, DATA + 0x20000), 512, got, 512);

    /* FLUSH CACHE EXT, and two commands issued at once both complete. */
    ata_fis(fis, 0xea, 0, 0);
    build_cmd(&f, DISK_PORT, 5, fis, NULL, NULL, 0, false);
    ata_fis(fis, 0x25, 0, 1);
    build_cmd(&f, DISK_PORT, 6, fis, NULL, &rprd, 1, false);
    wr(&f, PREG(DISK_PORT, P_CI), 3u << 5);
    wait_ci(&f, DISK_PORT, 5);
    wait_ci(&f, DISK_PORT, 6);
    g_assert_cmphex(rd(&f, PREG(DISK_PORT, P_TFD)), ==, 0x50);
    pread_all(f.disk_path, 0, got, 512);
    g_assert_cmpmem(ram(&f, DATA + 0x20000), 512, got, 512);
    fx_clear(&f);
}

static void test_read_write_inline(void)
{
    do_read_write(false);
}

static void test_read_write_iothread(void)
{
    do_read_write(true);
}

static void put_range(uint8_t *p, uint64_t lba, uint16_t n)
{
    uint64_t e = GUINT64_TO_LE(lba | (uint64_t)n << 48);
    memcpy(p, &e, 8);
}

/* Discarded: all zeros, or untouched. */
static bool zero_or(const uint8_t *got, const uint8_t *old, size_t len)
{
    if (memcmp(got, old, len) == 0)
        return true;
    for (size_t i = 0; i < len; i++)
        if (got[i] != 0)
            return false;
    return true;
}

static void test_trim(void)
{
    Fx f;
    uint8_t fis[20], old[8192], got[8192];

    fx_init(&f, false, false);
    port_start(&f, DISK_PORT);
    Prd prd = { DATA, 512 };
    ata_fis(fis, 0xec, 0, 0);
    g_assert_cmphex(run(&f, DISK_PORT, 0, fis, NULL, &prd, 1, false), ==, 0x50);
    g_assert_true(ram(&f, DATA)[169 * 2] & 1);              /* TRIM offered */

    /* Two ranges (and empty ones): they read as zeros, or as before where
     * the file system cannot punch holes; the sectors around are intact. */
    pread_all(f.disk_path, 192 * 512, old, sizeof(old));
    memset(ram(&f, DATA), 0, 512);
    put_range(ram(&f, DATA), 200, 8);
    put_range(ram(&f, DATA) + 24, 208, 8);
    ata_fis(fis, 0x06, 0, 1);
    fis[3] = 1;
    g_assert_cmphex(run(&f, DISK_PORT, 1, fis, NULL, &prd, 1, true), ==, 0x50);
    pread_all(f.disk_path, 192 * 512, got, sizeof(got));
    g_assert_cmpmem(got, 8 * 512, old, 8 * 512);
    g_assert_true(zero_or(got + 4096, old + 4096, 4096));

    /* A range past the end fails the whole command before anything goes;
     * so do zero or two blocks of ranges. */
    pread_all(f.disk_path, 0, old, 4096);
    put_range(ram(&f, DATA), 0, 8);
    put_range(ram(&f, DATA) + 8, IMG_SECTORS - 1, 2);
    uint32_t tfd = run(&f, DISK_PORT, 2, fis, NULL, &prd, 1, true);
    expect_tfes(&f, DISK_PORT, tfd);
    g_assert_cmphex(tfd >> 8 & 0x10, ==, 0x10);
    pread_all(f.disk_path, 0, got, 4096);
    g_assert_cmpmem(got, 4096, old, 4096);
    fis[12] = 0;
    expect_tfes(&f, DISK_PORT, run(&f, DISK_PORT, 3, fis, NULL, &prd, 1, true));
    fis[12] = 2;
    expect_tfes(&f, DISK_PORT, run(&f, DISK_PORT, 3, fis, NULL, &prd, 1, true));
    fx_clear(&f);
}

static void test_hostile_commands(void)
{
    Fx f;
    uint8_t fis[20];
    uint8_t before[4096], after[4096];

    fx_init(&f, false, false);
    port_start(&f, DISK_PORT);
    pread_all(f.disk_path, 0, before, sizeof(before));

    /* A write with no PRD at all. */
    ata_fis(fis, 0x35, 0, 1);
    expect_tfes(&f, DISK_PORT, run(&f, DISK_PORT, 0, fis, NULL, NULL, 0, true));
    /* PRDs pointing into MMIO (the ABAR itself, ECAM) and past RAM. */
    const uint64_t bad[] = { f.bar, HGR_PCI_ECAM_BASE, TEST_RAM_SIZE - 256, 1ull << 40 };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        Prd prd = { bad[i], 4096 };
        ata_fis(fis, i % 2 ? 0x35 : 0x25, 0, 8);
        expect_tfes(&f, DISK_PORT, run(&f, DISK_PORT, 1, fis, NULL, &prd, 1, i % 2));
    }
    /* A PRDT shorter than the transfer; the most entries there can be. */
    Prd shortp = { DATA, 512 };
    ata_fis(fis, 0x25, 0, 8);
    expect_tfes(&f, DISK_PORT, run(&f, DISK_PORT, 2, fis, NULL, &shortp, 1, false));
    build_cmd(&f, DISK_PORT, 2, fis, NULL, &shortp, 1, false);
    put32(ram(&f, CLB(DISK_PORT) + 64), 5 | 0xffffu << 16);   /* 65535 PRDs, mostly zeros */
    wr(&f, PREG(DISK_PORT, P_CI), 1u << 2);
    wait_ci(&f, DISK_PORT, 2);
    g_assert_cmphex(rd(&f, PREG(DISK_PORT, P_TFD)), ==, 0x50);  /* zero entries are 1 byte each */
    /* LBA and count past the end; a count that wraps. */
    Prd big = { DATA, 0x10000 };
    ata_fis(fis, 0x25, IMG_SECTORS - 1, 2);
    uint32_t tfd = run(&f, DISK_PORT, 3, fis, NULL, &big, 1, false);
    expect_tfes(&f, DISK_PORT, tfd);
    g_assert_cmphex(tfd >> 8 & 0x10, ==, 0x10);             /* IDNF */
    ata_fis(fis, 0x35, 0xffffffffffffull, 0xffff);
    expect_tfes(&f, DISK_PORT, run(&f, DISK_PORT, 3, fis, NULL, &big, 1, true));
    /* Not a register FIS; a command FIS length of 0; an unknown command. */
    ata_fis(fis, 0x25, 0, 1);
    fis[0] = 0x39;
    expect_tfes(&f, DISK_PORT, run(&f, DISK_PORT, 4, fis, NULL, &big, 1, false));
    ata_fis(fis, 0x25, 0, 1);
    build_cmd(&f, DISK_PORT, 4, fis, NULL, &big, 1, false);
    put32(ram(&f, CLB(DISK_PORT) + 4 * 32), 1u << 16);
    wr(&f, PREG(DISK_PORT, P_CI), 1u << 4);
    wait_ci(&f, DISK_PORT, 4);
    expect_tfes(&f, DISK_PORT, rd(&f, PREG(DISK_PORT, P_TFD)));
    ata_fis(fis, 0xb0, 0, 0);
    expect_tfes(&f, DISK_PORT, run(&f, DISK_PORT, 4, fis, NULL, NULL, 0, false));
    /* A command table in MMIO. */
    build_cmd(&f, DISK_PORT, 7, fis, NULL, NULL, 0, false);
    put32(ram(&f, CLB(DISK_PORT) + 7 * 32 + 8), (uint32_t)f.bar);
    wr(&f, PREG(DISK_PORT, P_CI), 1u << 7);
    wait_ci(&f, DISK_PORT, 7);
    expect_tfes(&f, DISK_PORT, rd(&f, PREG(DISK_PORT, P_TFD)));
    /* A command list outside RAM: a host bus error, and still alive. */
    wr(&f, PREG(DISK_PORT, P_CMD), 1u << 4);
    wr(&f, PREG(DISK_PORT, P_CLB), 0xfff00000u);
    wr(&f, PREG(DISK_PORT, P_CMD), 1u << 4 | 1);
    wr(&f, PREG(DISK_PORT, P_CI), 1);
    wait_ci(&f, DISK_PORT, 0);
    g_assert_true(rd(&f, PREG(DISK_PORT, P_IS)) & IS_HBFS);
    wr(&f, PREG(DISK_PORT, P_CMD), 1u << 4);

    /* Nothing reached the disk, the guest was told about it in the log,
     * and the port still works. */
    g_assert_cmpint(g_atomic_int_get(&guest_warnings), >=, 1);
    pread_all(f.disk_path, 0, after, sizeof(after));
    g_assert_cmpmem(before, sizeof(before), after, sizeof(after));
    port_start(&f, DISK_PORT);
    ata_fis(fis, 0x25, 0, 1);
    g_assert_cmphex(run(&f, DISK_PORT, 0, fis, NULL, &big, 1, false), ==, 0x50);
    g_assert_cmpmem(ram(&f, DATA), 512, before, 512);
    fx_clear(&f);
}

static void test_commands_before_start(void)
{
    Fx f;
    uint8_t fis[20];

    fx_init(&f, false, false);
    wr(&f, PREG(DISK_PORT, P_CLB), CLB(DISK_PORT));
    wr(&f, PREG(DISK_PORT, P_FB), FB(DISK_PORT));
    Prd prd = { DATA, 512 };
    ata_fis(fis, 0xec, 0, 0);
    build_cmd(&f, DISK_PORT, 0, fis, NULL, &prd, 1, false);
    memset(ram(&f, DATA), 0xaa, 512);
    wr(&f, PREG(DISK_PORT, P_CI), 1);
    g_assert_cmphex(rd(&f, PREG(DISK_PORT, P_CI)), ==, 0);
    g_assert_cmphex(ram(&f, DATA)[0], ==, 0xaa);
    g_assert_cmpuint(prdbc(&f, DISK_PORT, 0), ==, 0xdeadbeef);
    g_assert_cmpuint(f.tb->n_msi, ==, 0);
    /* On a port with no drive, even started, nothing happens either. */
    wr(&f, PREG(EMPTY_PORT, P_CLB), CLB(EMPTY_PORT));
    wr(&f, PREG(EMPTY_PORT, P_CMD), 1u << 4 | 1);
    build_cmd(&f, EMPTY_PORT, 0, fis, NULL, &prd, 1, false);
    wr(&f, PREG(EMPTY_PORT, P_CI), 1);
    g_assert_cmphex(rd(&f, PREG(EMPTY_PORT, P_CI)), ==, 0);
    g_assert_cmphex(ram(&f, DATA)[0], ==, 0xaa);
    fx_clear(&f);
}

static void test_comreset_during_dma(void)
{
    Fx f;
    uint8_t fis[20];

    fx_init(&f, true, false);
    port_start(&f, DISK_PORT);
    Prd prd[4];
    for (unsigned i = 0; i < 4; i++)
        prd[i] = (Prd){ DATA + i * 0x10000u, 0x10000 };
    for (unsigned round = 0; round < 20; round++) {
        ata_fis(fis, round % 2 ? 0x35 : 0x25, 0, 512);
        build_cmd(&f, DISK_PORT, 0, fis, NULL, prd, 4, round % 2);
        wr(&f, PREG(DISK_PORT, P_CI), 1);
        /* Linux's error handling: stop the engine, COMRESET, start again. */
        wr(&f, PREG(DISK_PORT, P_CMD), 1u << 4);
        g_assert_cmphex(rd(&f, PREG(DISK_PORT, P_CMD)) & (1u << 15), ==, 0);
        g_assert_cmphex(rd(&f, PREG(DISK_PORT, P_CI)), ==, 0);
        comreset(&f, DISK_PORT);
        g_assert_cmphex(rd(&f, PREG(DISK_PORT, P_SIG)), ==, 0x101);
        wr(&f, PREG(DISK_PORT, P_CMD), 1u << 4 | 1);
    }
    /* COMRESET with the engine still running, mid-command. */
    ata_fis(fis, 0x25, 0, 512);
    build_cmd(&f, DISK_PORT, 0, fis, NULL, prd, 4, false);
    wr(&f, PREG(DISK_PORT, P_CI), 1);
    comreset(&f, DISK_PORT);
    wr(&f, PREG(DISK_PORT, P_CMD), 1u << 4);
    port_start(&f, DISK_PORT);
    ata_fis(fis, 0x25, 0, 1);
    g_assert_cmphex(run(&f, DISK_PORT, 1, fis, NULL, prd, 1, false), ==, 0x50);
    fx_clear(&f);
}

/* Native command queuing */

static void fpdma_fis(uint8_t fis[20], bool write, unsigned tag, uint64_t lba, uint32_t count)
{
    ata_fis(fis, write ? 0x61 : 0x60, lba, 0);
    fis[3] = (uint8_t)count;
    fis[11] = (uint8_t)(count >> 8);
    fis[12] = (uint8_t)(tag << 3);
}

static void wait_sact(Fx *f, unsigned p, uint32_t mask)
{
    for (int i = 0; i < 5000 && (rd(f, PREG(p, 0x34)) & mask); i++)
        g_usleep(1000);
    g_assert_cmphex(rd(f, PREG(p, 0x34)) & mask, ==, 0);
}

static void do_ncq(bool iothread)
{
    Fx f;
    uint8_t fis[20];

    fx_init(&f, iothread, false);
    g_assert_true(rd(&f, 0x00) & (1u << 30));              /* CAP.SNCQ */
    port_start(&f, DISK_PORT);
    /* Eight queued writes at once, as libata issues them: SACT, then CI. */
    for (unsigned tag = 0; tag < 8; tag++) {
        memset(ram(&f, DATA + tag * 0x1000u), 0x10 + tag, 1024);
        Prd prd = { DATA + tag * 0x1000u, 1024 };
        fpdma_fis(fis, true, tag, 10 + 2 * tag, 2);
        build_cmd(&f, DISK_PORT, tag, fis, NULL, &prd, 1, true);
    }
    wr(&f, PREG(DISK_PORT, 0x34), 0xff);
    wr(&f, PREG(DISK_PORT, P_CI), 0xff);
    wait_sact(&f, DISK_PORT, 0xff);
    g_assert_cmphex(rd(&f, PREG(DISK_PORT, P_CI)), ==, 0);
    g_assert_true(rd(&f, PREG(DISK_PORT, P_IS)) & (1u << 3));     /* SDBS */
    g_assert_false(rd(&f, PREG(DISK_PORT, P_IS)) & IS_TFES);
    g_assert_cmphex(ram(&f, FB(DISK_PORT) + 0x58)[0], ==, 0xa1);  /* Set Device Bits FIS */
    uint8_t got[16 * 512];
    pread_all(f.disk_path, 10 * 512, got, sizeof(got));
    for (unsigned tag = 0; tag < 8; tag++)
        for (unsigned i = 0; i < 1024; i++)
            g_assert_cmphex(got[tag * 1024 + i], ==, 0x10 + tag);

    /* Queued reads of the same back, into fresh buffers. */
    memset(ram(&f, DATA + 0x20000), 0, 0x10000);
    for (unsigned tag = 0; tag < 8; tag++) {
        Prd prd = { DATA + 0x20000 + tag * 0x1000u, 1024 };
        fpdma_fis(fis, false, tag, 10 + 2 * tag, 2);
        build_cmd(&f, DISK_PORT, tag, fis, NULL, &prd, 1, false);
    }
    wr(&f, PREG(DISK_PORT, 0x34), 0xff);
    wr(&f, PREG(DISK_PORT, P_CI), 0xff);
    wait_sact(&f, DISK_PORT, 0xff);
    for (unsigned tag = 0; tag < 8; tag++)
        g_assert_cmpmem(ram(&f, DATA + 0x20000 + tag * 0x1000u), 1024, got + tag * 1024, 1024);
    fx_clear(&f);
}

static void test_ncq_inline(void)
{
    do_ncq(false);
}

static void test_ncq_iothread(void)
{
    do_ncq(true);
}

static void test_ncq_hostile(void)
{
    Fx f;
    uint8_t fis[20];
    Prd prd = { DATA, 0x10000 };

    fx_init(&f, true, false);
    port_start(&f, DISK_PORT);
    /* A tag that is not the slot's; a slot without its SActive bit. */
    fpdma_fis(fis, false, 5, 0, 1);
    build_cmd(&f, DISK_PORT, 3, fis, NULL, &prd, 1, false);
    wr(&f, PREG(DISK_PORT, 0x34), 1u << 3);
    wr(&f, PREG(DISK_PORT, P_CI), 1u << 3);
    wait_ci(&f, DISK_PORT, 3);
    expect_tfes(&f, DISK_PORT, rd(&f, PREG(DISK_PORT, P_TFD)));
    g_assert_cmphex(rd(&f, PREG(DISK_PORT, 0x34)), ==, 0);
    fpdma_fis(fis, false, 4, 0, 1);
    expect_tfes(&f, DISK_PORT, run(&f, DISK_PORT, 4, fis, NULL, &prd, 1, false));

    /* A queued read past the end fails in a Set Device Bits FIS, and log
     * 10h names its tag (then no longer). */
    fpdma_fis(fis, false, 6, IMG_SECTORS, 1);
    build_cmd(&f, DISK_PORT, 6, fis, NULL, &prd, 1, false);
    wr(&f, PREG(DISK_PORT, 0x34), 1u << 6);
    wr(&f, PREG(DISK_PORT, P_CI), 1u << 6);
    wait_sact(&f, DISK_PORT, 1u << 6);
    g_assert_true(rd(&f, PREG(DISK_PORT, P_IS)) & IS_TFES);
    g_assert_cmphex(ram(&f, FB(DISK_PORT) + 0x58)[2] & 1, ==, 1);
    wr(&f, PREG(DISK_PORT, P_IS), 0xffffffff);
    ata_fis(fis, 0x2f, 0x10, 1);
    fis[7] = 0;
    g_assert_cmphex(run(&f, DISK_PORT, 0, fis, NULL, &prd, 1, false), ==, 0x50);
    g_assert_cmphex(ram(&f, DATA)[0], ==, 6);
    uint8_t sum = 0;
    for (unsigned i = 0; i < 512; i++)
        sum += ram(&f, DATA)[i];
    g_assert_cmpuint(sum, ==, 0);
    g_assert_cmphex(run(&f, DISK_PORT, 0, fis, NULL, &prd, 1, false), ==, 0x50);
    g_assert_cmphex(ram(&f, DATA)[0], ==, 0x80);

    /* A tag issued again while it is queued: refused, every time; the first
     * one completes, and nothing is left behind. */
    for (unsigned round = 0; round < 20; round++) {
        fpdma_fis(fis, false, 1, 0, 128);
        build_cmd(&f, DISK_PORT, 1, fis, NULL, &prd, 1, false);
        wr(&f, PREG(DISK_PORT, 0x34), 1u << 1);
        wr(&f, PREG(DISK_PORT, P_CI), 1u << 1);
        wr(&f, PREG(DISK_PORT, P_CI), 1u << 1);
        wait_ci(&f, DISK_PORT, 1);
        wait_sact(&f, DISK_PORT, 1u << 1);
        g_assert_true(rd(&f, PREG(DISK_PORT, P_IS)) & IS_TFES);
        wr(&f, PREG(DISK_PORT, P_IS), 0xffffffff);
    }
    /* A non-queued command while queued ones run waits its turn. */
    fpdma_fis(fis, false, 2, 0, 128);
    build_cmd(&f, DISK_PORT, 2, fis, NULL, &prd, 1, false);
    ata_fis(fis, 0xec, 0, 0);
    Prd idp = { DATA + 0x20000, 512 };
    build_cmd(&f, DISK_PORT, 7, fis, NULL, &idp, 1, false);
    wr(&f, PREG(DISK_PORT, 0x34), 1u << 2);
    wr(&f, PREG(DISK_PORT, P_CI), 1u << 2 | 1u << 7);
    wait_sact(&f, DISK_PORT, 1u << 2);
    wait_ci(&f, DISK_PORT, 7);
    g_assert_cmphex(rd(&f, PREG(DISK_PORT, P_TFD)), ==, 0x50);
    g_assert_false(rd(&f, PREG(DISK_PORT, P_IS)) & IS_TFES);
    fx_clear(&f);
}

/* The CD-ROM */

static uint32_t packet(Fx *f, unsigned slot, const uint8_t cdb[12], uint32_t len)
{
    uint8_t fis[20];
    uint8_t acmd[16] = { 0 };
    Prd prd = { DATA, len ? len : 2 };

    memcpy(acmd, cdb, 12);
    ata_fis(fis, 0xa0, 0, 0);
    fis[3] = 1;                                     /* DMA */
    fis[7] = 0;
    return run(f, CD_PORT, slot, fis, acmd, &prd, len ? 1 : 0, false);
}

static uint8_t sense_key(uint32_t tfd)
{
    return (tfd & 1) ? (uint8_t)(tfd >> 12 & 0xf) : 0;
}

static char *build_iso(Fx *f, const char *name, unsigned n_sectors)
{
    g_autofree char *xorriso = g_find_program_in_path("xorriso");
    if (!xorriso)
        return NULL;
    g_autofree char *src = g_build_filename(f->dir, "iso-src", NULL);
    g_assert_cmpint(g_mkdir(src, 0700), ==, 0);
    g_autofree char *file = g_build_filename(src, "DATA.BIN", NULL);
    g_autofree uint8_t *data = g_malloc(n_sectors * 2048);
    for (unsigned i = 0; i < n_sectors * 2048; i++)
        data[i] = (uint8_t)(i / 2048 * 31 + i);
    g_assert_true(g_file_set_contents(file, (char *)data, n_sectors * 2048, NULL));
    char *iso = g_build_filename(f->dir, name, NULL);
    const char *argv[] = { xorriso, "-as", "mkisofs", "-quiet", "-V", "HANGAR_TEST", "-o", iso,
                           src, NULL };
    int status;
    g_autofree char *err = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                               NULL, NULL, &err, &status, NULL));
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_unlink(file);
    g_rmdir(src);
    return iso;
}

static bool cd_fixture(Fx *f, const char *iso_name)
{
    fx_init(f, false, true);
    g_autofree char *iso = build_iso(f, iso_name, 40);
    if (!iso) {
        g_printerr("# xorriso is not installed: the CD tests cannot build an ISO\n");
        g_test_skip("xorriso is not installed");
        fx_clear(f);
        return false;
    }
    g_autoptr(GError) err = NULL;
    f->cd = hgr_block_open(iso, HGR_DISK_FORMAT_RAW, true, &err);
    g_assert_no_error(err);
    g_assert_true(hgr_ahci_change_media(f->dev, CD_PORT, f->cd, false, &err));
    g_assert_no_error(err);
    port_start(f, CD_PORT);
    return true;
}

static void test_cd_identify(void)
{
    Fx f;
    uint8_t fis[20];

    fx_init(&f, false, true);
    port_start(&f, CD_PORT);
    g_assert_cmphex(rd(&f, PREG(CD_PORT, P_SIG)), ==, 0xeb140101);
    g_assert_true(rd(&f, PREG(CD_PORT, P_CMD)) & (1u << 24));
    /* IDENTIFY DEVICE: aborted, the signature in the D2H FIS. */
    Prd prd = { DATA, 512 };
    ata_fis(&fis[0], 0xec, 0, 0);
    expect_tfes(&f, CD_PORT, run(&f, CD_PORT, 0, fis, NULL, &prd, 1, false));
    const uint8_t *d2h = ram(&f, FB(CD_PORT) + 0x40);
    g_assert_cmphex(d2h[5], ==, 0x14);
    g_assert_cmphex(d2h[6], ==, 0xeb);
    ata_fis(fis, 0xa1, 0, 0);
    g_assert_cmphex(run(&f, CD_PORT, 1, fis, NULL, &prd, 1, false), ==, 0x50);
    g_assert_cmphex(ram(&f, DATA)[1], ==, 0x85);    /* ATAPI, CD-ROM */
    /* The disk refuses IDENTIFY PACKET DEVICE: that is how SeaBIOS tells. */
    port_start(&f, DISK_PORT);
    expect_tfes(&f, DISK_PORT, run(&f, DISK_PORT, 0, fis, NULL, &prd, 1, false));
    /* No medium: TEST UNIT READY says NOT READY, medium not present. */
    const uint8_t tur[12] = { 0x00 };
    g_assert_cmpuint(sense_key(packet(&f, 2, tur, 0)), ==, 2);
    const uint8_t rs[12] = { 0x03, 0, 0, 0, 18 };
    g_assert_cmphex(packet(&f, 3, rs, 18), ==, 0x50);
    g_assert_cmphex(ram(&f, DATA)[12], ==, 0x3a);
    fx_clear(&f);
}

static void test_cd_read(void)
{
    Fx f;

    if (!cd_fixture(&f, "test.iso"))
        return;
    const uint8_t tur[12] = { 0x00 };
    g_assert_cmpuint(sense_key(packet(&f, 0, tur, 0)), ==, 6);  /* the insertion */
    g_assert_cmphex(packet(&f, 0, tur, 0), ==, 0x50);

    const uint8_t inq[12] = { 0x12, 0, 0, 0, 36 };
    g_assert_cmphex(packet(&f, 1, inq, 36), ==, 0x50);
    g_assert_cmphex(ram(&f, DATA)[0], ==, 0x05);
    g_assert_cmpmem(ram(&f, DATA) + 8, 6, "HANGAR", 6);

    uint64_t sectors = hgr_block_size(f.cd) / 2048;
    const uint8_t cap[12] = { 0x25 };
    g_assert_cmphex(packet(&f, 2, cap, 8), ==, 0x50);
    const uint8_t *b = ram(&f, DATA);
    g_assert_cmpuint((uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3], ==, sectors - 1);
    g_assert_cmpuint((uint32_t)b[6] << 8 | b[7], ==, 2048);

    /* READ(10) of the primary volume descriptor, READ(12) of the last two
     * sectors: byte for byte what pread sees in the ISO. */
    g_autofree uint8_t *want = g_malloc(4096);
    const uint8_t r10[12] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
    g_assert_cmphex(packet(&f, 3, r10, 2048), ==, 0x50);
    g_assert_cmpmem(ram(&f, DATA) + 1, 5, "CD001", 5);
    pread_all(hgr_block_path(f.cd), 16 * 2048, want, 2048);
    g_assert_cmpmem(ram(&f, DATA), 2048, want, 2048);
    g_assert_cmpuint(prdbc(&f, CD_PORT, 3), ==, 2048);
    uint32_t last = (uint32_t)sectors - 2;
    const uint8_t r12[12] = { 0xa8, 0, last >> 24, last >> 16, last >> 8, last, 0, 0, 0, 2 };
    g_assert_cmphex(packet(&f, 4, r12, 4096), ==, 0x50);
    pread_all(hgr_block_path(f.cd), (uint64_t)last * 2048, want, 4096);
    g_assert_cmpmem(ram(&f, DATA), 4096, want, 4096);
    /* Past the end: ILLEGAL REQUEST, LBA out of range. */
    const uint8_t r10bad[12] = { 0x28, 0, 0, 0, last >> 8, last, 0, 0, 3 };
    g_assert_cmpuint(sense_key(packet(&f, 5, r10bad, 6144)), ==, 5);

    /* READ TOC: one data track and the lead-out at the end. */
    const uint8_t toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 20 };
    g_assert_cmphex(packet(&f, 6, toc, 20), ==, 0x50);
    g_assert_cmphex(b[1], ==, 18);
    g_assert_cmphex(b[6], ==, 1);
    g_assert_cmphex(b[14], ==, 0xaa);
    g_assert_cmpuint((uint32_t)b[18] << 8 | b[19], ==, sectors);
    /* MODE SENSE(10) capabilities page, GET CONFIGURATION (profile CD-ROM). */
    const uint8_t ms[12] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 64 };
    g_assert_cmphex(packet(&f, 7, ms, 64), ==, 0x50);
    g_assert_cmphex(b[8], ==, 0x2a);
    const uint8_t gc[12] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 64 };
    g_assert_cmphex(packet(&f, 8, gc, 64), ==, 0x50);
    g_assert_cmphex((uint32_t)b[6] << 8 | b[7], ==, 0x08);
    /* An unknown opcode. */
    const uint8_t bad[12] = { 0xff };
    g_assert_cmpuint(sense_key(packet(&f, 9, bad, 0)), ==, 5);
    fx_clear(&f);
}

static void test_cd_media_change(void)
{
    Fx f;
    g_autoptr(GError) err = NULL;

    if (!cd_fixture(&f, "one.iso"))
        return;
    const uint8_t tur[12] = { 0x00 };
    const uint8_t rs[12] = { 0x03, 0, 0, 0, 18 };
    const uint8_t gesn[12] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8 };
    packet(&f, 0, tur, 0);
    g_assert_cmphex(packet(&f, 0, tur, 0), ==, 0x50);

    /* The guest locks the tray: a change is refused unless forced. */
    const uint8_t lock[12] = { 0x1e, 0, 0, 0, 1 };
    g_assert_cmphex(packet(&f, 1, lock, 0), ==, 0x50);
    g_assert_false(hgr_ahci_change_media(f.dev, CD_PORT, NULL, false, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE_INVALID);
    g_clear_error(&err);
    const uint8_t eject[12] = { 0x1b, 0, 0, 0, 2 };
    g_assert_cmpuint(sense_key(packet(&f, 1, eject, 0)), ==, 5);
    const uint8_t unlock[12] = { 0x1e };
    g_assert_cmphex(packet(&f, 1, unlock, 0), ==, 0x50);

    /* Swap the ISO: the next TEST UNIT READY is a UNIT ATTENTION, medium
     * changed; REQUEST SENSE tells it; then the drive is ready. */
    g_autofree char *iso2 = build_iso(&f, "two.iso", 80);
    HgrBlock *cd2 = hgr_block_open(iso2, HGR_DISK_FORMAT_RAW, true, &err);
    g_assert_no_error(err);
    g_assert_true(hgr_ahci_change_media(f.dev, CD_PORT, cd2, false, &err));
    hgr_block_free(f.cd);
    f.cd = cd2;
    g_assert_cmphex(packet(&f, 2, gesn, 8), ==, 0x50);
    g_assert_cmphex(ram(&f, DATA)[4], ==, 2);              /* new media */
    g_assert_cmpuint(sense_key(packet(&f, 3, tur, 0)), ==, 6);
    g_assert_cmphex(packet(&f, 4, rs, 18), ==, 0x50);
    g_assert_cmphex(ram(&f, DATA)[2], ==, 6);
    g_assert_cmphex(ram(&f, DATA)[12], ==, 0x28);
    g_assert_cmphex(packet(&f, 5, tur, 0), ==, 0x50);

    /* Eject by the host: NOT READY, medium not present. */
    g_assert_true(hgr_ahci_change_media(f.dev, CD_PORT, NULL, false, &err));
    g_assert_cmpuint(sense_key(packet(&f, 6, tur, 0)), ==, 2);
    const uint8_t r10[12] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
    g_assert_cmpuint(sense_key(packet(&f, 7, r10, 2048)), ==, 2);
    g_assert_false(hgr_ahci_change_media(f.dev, DISK_PORT, NULL, true, &err));
    fx_clear(&f);
}

/* SeaBIOS's probe: no COMRESET, FRE and spin-up, wait for the link, ST,
 * then IDENTIFY PACKET DEVICE and, when that fails, IDENTIFY DEVICE; it
 * writes SACT for every command and judges by the FIS that IS names. */
static int seabios_command(Fx *f, unsigned p, uint8_t cmd)
{
    uint8_t fis[20];
    Prd prd = { DATA, 512 };

    ata_fis(fis, cmd, 0, 0);
    fis[7] = 0;
    build_cmd(f, p, 0, fis, NULL, &prd, 1, false);
    wr(f, PREG(p, P_IS), rd(f, PREG(p, P_IS)));
    wr(f, PREG(p, 0x34), 1);
    wr(f, PREG(p, P_CI), 1);
    wait_ci(f, p, 0);
    uint32_t is = rd(f, PREG(p, P_IS));
    wr(f, PREG(p, P_IS), is);
    g_assert_cmphex(is & 3, !=, 0);
    uint8_t status = ram(f, FB(p) + (is & 2 ? 0x20 : 0x40))[2];
    g_assert_cmphex(status & 0x80, ==, 0);
    if ((status & 0x61) == 0x40)
        return 0;
    /* Its non-queued error recovery: stop, wait for CR, start again. */
    uint32_t cmdreg = rd(f, PREG(p, P_CMD));
    wr(f, PREG(p, P_CMD), cmdreg & ~1u);
    g_assert_cmphex(rd(f, PREG(p, P_CMD)) & (1u << 15), ==, 0);
    wr(f, PREG(p, P_SERR), rd(f, PREG(p, P_SERR)));
    wr(f, PREG(p, P_IS), rd(f, PREG(p, P_IS)));
    g_assert_cmphex(rd(f, PREG(p, P_TFD)) & 0x88, ==, 0);
    wr(f, PREG(p, P_CMD), rd(f, PREG(p, P_CMD)) | 1);
    return -1;
}

static void test_seabios_probe(void)
{
    Fx f;

    fx_init(&f, false, true);
    const unsigned ports[] = { DISK_PORT, CD_PORT };
    for (unsigned i = 0; i < G_N_ELEMENTS(ports); i++) {
        unsigned p = ports[i];
        wr(&f, PREG(p, P_CLB), CLB(p));
        wr(&f, PREG(p, P_FB), FB(p));
        uint32_t cmd = rd(&f, PREG(p, P_CMD)) | 1u << 4;
        wr(&f, PREG(p, P_CMD), cmd);
        cmd |= 1u << 1;
        wr(&f, PREG(p, P_CMD), cmd);
        g_assert_cmphex(rd(&f, PREG(p, P_SSTS)) & 7, ==, 3);
        g_assert_cmphex(rd(&f, PREG(p, P_TFD)) & 0x88, ==, 0);
        wr(&f, PREG(p, P_CMD), cmd | 1);
        bool atapi = seabios_command(&f, p, 0xa1) == 0;
        g_assert_true(atapi == (p == CD_PORT));
        if (!atapi)
            g_assert_cmpint(seabios_command(&f, p, 0xec), ==, 0);
        const uint8_t *id = ram(&f, DATA);
        if (atapi)
            g_assert_cmphex(id[1] & 0x1f, ==, 0x05);       /* a CD-ROM */
        else
            g_assert_cmphex(id[83 * 2 + 1] & 0x04, ==, 0x04);
        g_assert_cmphex(rd(&f, PREG(p, 0x34)), ==, 0);
    }
    /* The empty port: no link within its 10 ms. */
    g_assert_cmphex(rd(&f, PREG(EMPTY_PORT, P_SSTS)) & 7, ==, 0);
    fx_clear(&f);
}

/* Save and load */

static void test_save_load(void)
{
    Fx a, b;
    uint8_t fis[20];
    g_autoptr(GError) err = NULL;

    fx_init(&a, false, true);
    port_start(&a, DISK_PORT);
    Prd prd = { DATA, 512 };
    ata_fis(fis, 0xef, 0, 0x44);                    /* SET FEATURES: UDMA4 */
    fis[3] = 0x03;
    g_assert_cmphex(run(&a, DISK_PORT, 0, fis, NULL, NULL, 0, false), ==, 0x50);
    ata_fis(fis, 0xec, 0, 0);
    g_assert_cmphex(run(&a, DISK_PORT, 1, fis, NULL, &prd, 1, false), ==, 0x50);
    g_assert_cmphex(get32(a.tb->ram + DATA + 88 * 2) & 0xffff, ==, 0x103f);   /* UDMA4 */
    g_autoptr(GByteArray) s1 = test_save(a.dev);

    /* A second machine on the same disk takes it, saves the same bytes,
     * and its port carries on where the first one was. */
    fx_init(&b, false, true);
    g_assert_true(test_load(b.dev, s1, &err));
    g_assert_no_error(err);
    g_autoptr(GByteArray) s2 = test_save(b.dev);
    g_assert_cmpmem(s1->data, s1->len, s2->data, s2->len);
    memcpy(b.tb->ram, a.tb->ram, TEST_RAM_SIZE);
    memset(b.tb->ram + DATA, 0, 512);
    g_assert_cmphex(run(&b, DISK_PORT, 2, fis, NULL, &prd, 1, false), ==, 0x50);
    g_assert_cmphex(get32(b.tb->ram + DATA + 88 * 2) & 0xffff, ==, 0x103f);

    /* Cut short anywhere, or from a machine with another drive: refused. */
    for (size_t len = 0; len < s1->len; len += 97) {
        g_autoptr(GByteArray) cut = g_byte_array_new();
        g_byte_array_append(cut, s1->data, (guint)len);
        g_clear_error(&err);
        g_assert_false(test_load(b.dev, cut, &err));
    }
    Fx c;
    fx_init(&c, false, false);
    g_clear_error(&err);
    g_assert_false(test_load(c.dev, s1, &err));
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
    fx_clear(&c);
    fx_clear(&b);
    fx_clear(&a);
}

/* Offsets in the saved data: PCI config, GHC, then per port 17 registers,
 * the drive kind, its size, sig_pending and 13 bytes of drive state. */
#define ST_GHC          4096
#define ST_PORT(p)      (4100 + (p) * 91)
#define ST_REG(p, r)    (ST_PORT(p) + (r))
#define ST_KIND(p)      (ST_PORT(p) + 68)
#define ST_SENSE(p)     (ST_PORT(p) + 68 + 1 + 8 + 1 + 2)

/* Loads s with the byte at off of its data changed to val: true if taken. */
static bool load_forged(HgrDevice *dev, GByteArray *s, size_t off, uint8_t val)
{
    HgrStateSection sec;
    size_t pos = 0;
    g_autoptr(GError) err = NULL;

    g_assert_true(hgr_state_read_section(s->data, s->len, &pos, &sec, NULL));
    g_assert_cmpuint(off, <, sec.len);
    g_autofree uint8_t *data = g_memdup2(sec.data, sec.len);
    data[off] = val;
    g_autoptr(GByteArray) forged = g_byte_array_new();
    hgr_state_write_section(forged, sec.name, sec.version, data, sec.len);
    if (test_load(dev, forged, &err))
        return true;
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
    return false;
}

static void test_load_forged(void)
{
    Fx a, b;

    fx_init(&a, false, true);
    port_start(&a, DISK_PORT);
    port_start(&a, CD_PORT);
    g_autoptr(GByteArray) s = test_save(a.dev);
    fx_init(&b, false, true);
    g_autoptr(GByteArray) before = test_save(b.dev);

    g_assert_cmpuint(s->len, >, ST_PORT(HGR_AHCI_PORTS));
    g_assert_true(load_forged(b.dev, s, ST_SENSE(CD_PORT), 0x0f));     /* the layout is right */
    g_assert_false(load_forged(b.dev, s, ST_GHC + 3, 0x00));           /* AHCI mode off */
    g_assert_false(load_forged(b.dev, s, ST_GHC, 0x04));               /* MRSM: not offered */
    g_assert_false(load_forged(b.dev, s, ST_KIND(DISK_PORT), 2));      /* a CD, not a disk */
    g_assert_false(load_forged(b.dev, s, ST_KIND(EMPTY_PORT), 1));
    g_assert_false(load_forged(b.dev, s, ST_PORT(DISK_PORT) + 69, 0x55));  /* disk size */
    g_assert_false(load_forged(b.dev, s, ST_REG(DISK_PORT, P_CLB), 0x10));
    g_assert_false(load_forged(b.dev, s, ST_REG(EMPTY_PORT, P_CI), 1));
    g_assert_false(load_forged(b.dev, s, ST_REG(EMPTY_PORT, P_CMD), 1));
    g_assert_false(load_forged(b.dev, s, ST_SENSE(CD_PORT), 0x10));
    g_assert_false(load_forged(b.dev, s, PCI_DEVICE_ID, 0x23));
    fx_clear(&b);

    /* Refusals leave the live device as it was. */
    fx_init(&b, false, true);
    g_assert_false(load_forged(b.dev, s, ST_KIND(DISK_PORT), 2));
    g_autoptr(GByteArray) after = test_save(b.dev);
    g_assert_cmpmem(before->data, before->len, after->data, after->len);
    fx_clear(&b);
    fx_clear(&a);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    g_log_set_handler("hangar-vmm", G_LOG_LEVEL_WARNING, count_guest_warnings, NULL);
    g_test_add_func("/vmm/ahci/pci-identity", test_pci_identity);
    g_test_add_func("/vmm/ahci/disk-identify", test_disk_identify);
    g_test_add_func("/vmm/ahci/read-write-inline", test_read_write_inline);
    g_test_add_func("/vmm/ahci/read-write-iothread", test_read_write_iothread);
    g_test_add_func("/vmm/ahci/trim", test_trim);
    g_test_add_func("/vmm/ahci/hostile-commands", test_hostile_commands);
    g_test_add_func("/vmm/ahci/commands-before-start", test_commands_before_start);
    g_test_add_func("/vmm/ahci/comreset-during-dma", test_comreset_during_dma);
    g_test_add_func("/vmm/ahci/ncq-inline", test_ncq_inline);
    g_test_add_func("/vmm/ahci/ncq-iothread", test_ncq_iothread);
    g_test_add_func("/vmm/ahci/ncq-hostile", test_ncq_hostile);
    g_test_add_func("/vmm/ahci/cd-identify", test_cd_identify);
    g_test_add_func("/vmm/ahci/cd-read", test_cd_read);
    g_test_add_func("/vmm/ahci/cd-media-change", test_cd_media_change);
    g_test_add_func("/vmm/ahci/seabios-probe", test_seabios_probe);
    g_test_add_func("/vmm/ahci/save-load", test_save_load);
    g_test_add_func("/vmm/ahci/load-forged", test_load_forged);
    return g_test_run();
}
