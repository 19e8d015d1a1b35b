/* test-nvme.c — the NVMe controller driven through its BAR the way Linux's
 * nvme driver does it, with queues and data in fake RAM and a raw image
 * checked with pread; every hostile case of HOSTILE-INPUTS.md for NVMe;
 * save/load round trip and tampered states. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <hangar/vm.h>
#include <string.h>
#include <unistd.h>

#include "block/aio.h"
#include "block/block.h"
#include "hw/nvme.h"
#include "pci-test-board.h"

#define IMG_SECTORS 2048                  /* 1 MiB */
#define ASQ_GPA     0x10000
#define ACQ_GPA     0x11000
#define IOSQ_GPA    0x12000
#define IOCQ_GPA    0x14000
#define ID_GPA      0x20000
#define LIST_GPA    0x22000
#define DATA_GPA    0x30000               /* up to 0x30000 + 256 pages */
#define DATA2_GPA   0x80000
#define AQ_SIZE     32
#define IOQ_SIZE    64
#define PAGE        4096u

#define CC_ENABLE   (1u | 6u << 16 | 4u << 20)
#define CSTS_RDY    1u
#define CSTS_CFS    2u
#define SHST(csts)  (((csts) >> 2) & 3)

/* Status field values (DW3 >> 17). */
#define S_OK         0x000
#define S_INV_OPCODE 0x4001
#define S_INV_FIELD  0x4002
#define S_XFER_ERR   0x0004
#define S_INV_NS     0x400b
#define S_PRP_OFF    0x4013
#define S_LBA_RANGE  0x4080
#define S_CQ_INVALID 0x4100
#define S_INV_QID    0x4101
#define S_INV_QSIZE  0x4102
#define S_INV_VECTOR 0x4108
#define S_INV_LOG    0x4109
#define S_INV_QDEL   0x410c

typedef struct {
    uint8_t opcode, flags;
    uint16_t cid;
    uint32_t nsid;
    uint64_t rsvd, mptr, prp1, prp2;
    uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
} Cmd;

typedef struct {
    uint64_t base;
    uint16_t size, idx;                   /* SQ tail or CQ head */
    bool phase;
} Ring;

typedef struct {
    TestBoard *tb;
    HgrDevice *dev;
    unsigned devfn;
    uint64_t bar;
    Ring sq[2], cq[2];
    uint16_t cid;
} Drv;

typedef struct {
    char *dir, *path;
    HgrBlock *blk;
    HgrIoThread *t;
    TestBoard *tb;
    Drv d;
} Fx;

typedef struct {
    uint32_t dw0;
    uint16_t sqhd, sqid, cid, status;
} Cqe;

/* Driver side */

static uint32_t reg_r(Drv *d, uint32_t off) { return (uint32_t)test_io(&d->tb->mmio, d->bar + off, 4); }
static void reg_w(Drv *d, uint32_t off, uint32_t v) { test_io_write(&d->tb->mmio, d->bar + off, 4, v); }

static void probe(Drv *d, TestBoard *tb, HgrDevice *dev)
{
    memset(d, 0, sizeof(*d));
    d->tb = tb;
    d->dev = dev;
    for (d->devfn = 0; d->devfn < 256; d->devfn += 8)
        if (test_cfg_read(tb, d->devfn, 0, 4) == 0x00101b36)
            break;
    g_assert_cmpuint(d->devfn, <, 256);
    g_assert_cmphex(test_cfg_read(tb, d->devfn, PCI_CLASS_PROG, 3), ==, 0x010802);
    uint32_t lo = test_cfg_read(tb, d->devfn, PCI_BASE_ADDRESS_0, 4);
    g_assert_cmphex(lo & 0x6, ==, 0x4);
    d->bar = (lo & ~0xfu) | (uint64_t)test_cfg_read(tb, d->devfn, 0x14, 4) << 32;
    test_cfg_write(tb, d->devfn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

    unsigned cap = test_cfg_read(tb, d->devfn, PCI_CAPABILITY_LIST, 1);
    while (cap && test_cfg_read(tb, d->devfn, cap, 1) != PCI_CAP_ID_MSIX)
        cap = test_cfg_read(tb, d->devfn, cap + 1, 1);
    g_assert_cmpuint(cap, !=, 0);
    g_assert_cmpuint((test_cfg_read(tb, d->devfn, cap + 2, 2) & 0x7ff) + 1, ==, 16);
    uint32_t table = test_cfg_read(tb, d->devfn, cap + 4, 4);
    for (unsigned v = 0; v < 2; v++) {
        uint64_t e = d->bar + (table & ~7u) + 16 * v;
        test_io_write(&tb->mmio, e, 4, 0xfee00000u | v << 12);
        test_io_write(&tb->mmio, e + 8, 4, 0x40 + v);
        test_io_write(&tb->mmio, e + 12, 4, 0);
    }
    test_cfg_write(tb, d->devfn, cap + 2, 2, 0x8000);
}

/* nvme_pci_configure_admin_queue: disable, program the admin queue, enable. */
static uint32_t enable_with(Drv *d, uint32_t aqa, uint64_t asq, uint64_t acq)
{
    reg_w(d, 0x14, 0);
    g_assert_cmpuint(reg_r(d, 0x1c) & CSTS_RDY, ==, 0);
    reg_w(d, 0x24, aqa);
    reg_w(d, 0x28, (uint32_t)asq);        /* lo_hi_writeq */
    reg_w(d, 0x2c, asq >> 32);
    reg_w(d, 0x30, (uint32_t)acq);
    reg_w(d, 0x34, acq >> 32);
    reg_w(d, 0x14, CC_ENABLE);
    return reg_r(d, 0x1c);
}

static void enable(Drv *d)
{
    memset(d->tb->ram + ASQ_GPA, 0, 0x2000);
    g_assert_cmphex(enable_with(d, (AQ_SIZE - 1) << 16 | (AQ_SIZE - 1), ASQ_GPA, ACQ_GPA), ==,
                    CSTS_RDY);
    d->sq[0] = (Ring){ ASQ_GPA, AQ_SIZE, 0, false };
    d->cq[0] = (Ring){ ACQ_GPA, AQ_SIZE, 0, true };
}

static void push(Drv *d, unsigned q, Cmd *c, bool ring)
{
    Ring *sq = &d->sq[q];
    memcpy(d->tb->ram + sq->base + 64 * sq->idx, c, 64);
    sq->idx = (uint16_t)((sq->idx + 1) % sq->size);
    if (ring)
        reg_w(d, 0x1000 + 8 * q, sq->idx);
}

static bool pop(Drv *d, unsigned q, Cqe *e)
{
    Ring *cq = &d->cq[q];
    uint32_t dw[4];
    memcpy(dw, d->tb->ram + cq->base + 16 * cq->idx, 16);
    if (((dw[3] >> 16) & 1) != cq->phase)
        return false;
    *e = (Cqe){ dw[0], (uint16_t)dw[2], (uint16_t)(dw[2] >> 16), (uint16_t)dw[3],
                (uint16_t)(dw[3] >> 17) };
    if (++cq->idx == cq->size) {
        cq->idx = 0;
        cq->phase = !cq->phase;
    }
    reg_w(d, 0x1000 + 8 * q + 4, cq->idx);
    return true;
}

/* Waits (up to 5 s, for the I/O thread) for one completion. */
static Cqe wait_cqe(Drv *d, unsigned q)
{
    Cqe e;
    for (gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC; !pop(d, q, &e);) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(100);
    }
    return e;
}

static Cqe run(Drv *d, unsigned q, Cmd c)
{
    c.cid = ++d->cid;
    push(d, q, &c, true);
    Cqe e = wait_cqe(d, q);
    g_assert_cmpuint(e.cid, ==, c.cid);
    g_assert_cmpuint(e.sqid, ==, q);
    return e;
}

static uint16_t admin(Drv *d, Cmd c, uint32_t *dw0)
{
    Cqe e = run(d, 0, c);
    if (dw0)
        *dw0 = e.dw0;
    return e.status;
}

static void create_io_queues(Drv *d, uint16_t cq_size)
{
    uint32_t dw0;
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x09, .cdw10 = 0x07, .cdw11 = 0 }, &dw0), ==, S_OK);
    g_assert_cmphex(dw0, ==, 14u << 16 | 14u);
    memset(d->tb->ram + IOCQ_GPA, 0, 16 * IOQ_SIZE);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x05, .prp1 = IOCQ_GPA,
                                    .cdw10 = (uint32_t)(cq_size - 1) << 16 | 1,
                                    .cdw11 = 1u << 16 | 3 }, NULL), ==, S_OK);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x01, .prp1 = IOSQ_GPA,
                                    .cdw10 = (IOQ_SIZE - 1) << 16 | 1,
                                    .cdw11 = 1u << 16 | 1 }, NULL), ==, S_OK);
    d->sq[1] = (Ring){ IOSQ_GPA, IOQ_SIZE, 0, false };
    d->cq[1] = (Ring){ IOCQ_GPA, cq_size, 0, true };
}

static Cmd rw(uint8_t op, uint64_t lba, unsigned sectors, uint64_t prp1, uint64_t prp2)
{
    return (Cmd){ .opcode = op, .nsid = 1, .prp1 = prp1, .prp2 = prp2,
                  .cdw10 = (uint32_t)lba, .cdw11 = lba >> 32, .cdw12 = sectors - 1 };
}

/* Fixture */

static void fx_setup(Fx *fx, bool iothread)
{
    memset(fx, 0, sizeof(*fx));
    fx->dir = g_dir_make_tmp("hangar-test-nvme-XXXXXX", NULL);
    fx->path = g_build_filename(fx->dir, "disk.img", NULL);
    g_autofree uint8_t *img = g_malloc(IMG_SECTORS * 512);
    memset(img, 0xa5, IMG_SECTORS * 512);
    g_assert_true(g_file_set_contents(fx->path, (char *)img, IMG_SECTORS * 512, NULL));
    g_autoptr(GError) err = NULL;
    fx->blk = hgr_block_open_engine(fx->path, HGR_DISK_FORMAT_RAW, false, "thread", &err);
    g_assert_no_error(err);
    if (iothread) {
        fx->t = hgr_iothread_new("test-nvme");
        hgr_iothread_start(fx->t);
    }
    fx->tb = test_board_new(NULL);
    HgrDevice *dev = hgr_nvme_new("nvme.0", fx->blk, &fx->tb->mem, fx->t);
    g_assert_true(dev->ops->realize(dev, &fx->tb->board, NULL));
    probe(&fx->d, fx->tb, dev);
}

static void fx_teardown(Fx *fx)
{
    hgr_device_free(fx->d.dev);
    test_board_free(fx->tb, true);
    hgr_block_free(fx->blk);
    if (fx->t)
        hgr_iothread_free(fx->t);
    g_unlink(fx->path);
    g_rmdir(fx->dir);
    g_free(fx->path);
    g_free(fx->dir);
}

static void setup(Fx *fx, gconstpointer data) { fx_setup(fx, false); }
static void teardown(Fx *fx, gconstpointer data) { fx_teardown(fx); }

static void pread_image(Fx *fx, uint64_t off, void *buf, size_t len)
{
    int fd = open(fx->path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, (off_t)off), ==, (ssize_t)len);
    close(fd);
}

static void fill(Fx *fx, uint64_t gpa, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        fx->tb->ram[gpa + i] = (uint8_t)(seed + i * 7);
}

/* Tests */

static void test_identify(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;
    uint8_t *id = fx->tb->ram + ID_GPA;

    g_assert_cmphex(reg_r(d, 0x08), ==, 0x00010400);
    g_assert_cmpuint((reg_r(d, 0x00) & 0xffff) + 1, ==, 1024);   /* MQES */
    g_assert_cmpuint(reg_r(d, 0x04) & 0xf, ==, 0);                /* doorbell stride 4 */
    enable(d);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x06, .prp1 = ID_GPA, .cdw10 = 1 }, NULL), ==, S_OK);
    g_assert_cmphex(id[0] | id[1] << 8, ==, 0x1b36);
    g_assert_cmpmem(id + 24, 16, "Hangar NVMe Ctrl", 16);
    g_assert_cmpuint(id[77], ==, 8);                               /* MDTS: 1 MiB */
    g_assert_cmphex(id[512], ==, 0x66);
    g_assert_cmphex(id[513], ==, 0x44);
    g_assert_cmpuint(id[516], ==, 1);                              /* NN */
    g_assert_cmpmem(id + 768, 4, "nqn.", 4);

    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x06, .nsid = 1, .prp1 = ID_GPA }, NULL), ==, S_OK);
    uint64_t nsze;
    memcpy(&nsze, id, 8);
    g_assert_cmpuint(nsze, ==, IMG_SECTORS);
    g_assert_cmpuint(id[128 + 2], ==, 9);                          /* 512-byte LBAs */

    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x06, .prp1 = ID_GPA, .cdw10 = 2 }, NULL), ==, S_OK);
    g_assert_cmpuint(id[0], ==, 1);
    g_assert_cmpuint(id[4], ==, 0);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x06, .nsid = 1, .prp1 = ID_GPA, .cdw10 = 3 },
                          NULL), ==, S_OK);
    g_assert_cmpuint(id[0], ==, 3);                                /* a UUID */
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x06, .nsid = 2, .prp1 = ID_GPA }, NULL), ==, S_INV_NS);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x06, .prp1 = ID_GPA, .cdw10 = 0x55 }, NULL), ==,
                    S_INV_FIELD);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x7f }, NULL), ==, S_INV_OPCODE);
    /* The admin CQ interrupts on vector 0. */
    g_assert_cmpuint(fx->tb->n_msi, >=, 1);
    g_assert_cmphex(fx->tb->msi[0].data, ==, 0x40);
}

static void test_read_write_prp_list(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;
    enable(d);
    create_io_queues(d, IOQ_SIZE);
    unsigned msi_before = fx->tb->n_msi;

    /* 16 KiB from a PRP1 with an offset: 3 pages through a list, plus a
     * tail, like a bio from an unaligned buffer. */
    const size_t len = 16384;
    uint64_t prp1 = DATA_GPA + 0x200;
    fill(fx, DATA_GPA, 5 * PAGE, 3);
    uint64_t list[4] = { DATA_GPA + PAGE, DATA_GPA + 2 * PAGE, DATA_GPA + 3 * PAGE,
                         DATA_GPA + 4 * PAGE };
    memcpy(fx->tb->ram + LIST_GPA, list, sizeof(list));
    Cqe e = run(d, 1, rw(0x01, 100, len / 512, prp1, LIST_GPA));
    g_assert_cmphex(e.status, ==, S_OK);
    g_assert_cmpuint(e.sqhd, ==, 1);
    g_assert_cmpuint(fx->tb->n_msi, ==, msi_before + 1);
    g_assert_cmphex(fx->tb->msi[msi_before].data, ==, 0x41);

    g_autofree uint8_t *img = g_malloc(len);
    pread_image(fx, 100 * 512, img, len);
    g_assert_cmpmem(img, len, fx->tb->ram + prp1, len);        /* guest buffer is contiguous */

    /* Read it back into two pages given directly by PRP1/PRP2. */
    memset(fx->tb->ram + DATA2_GPA, 0, 2 * PAGE);
    e = run(d, 1, rw(0x02, 100, 16, DATA2_GPA, DATA2_GPA + PAGE));
    g_assert_cmphex(e.status, ==, S_OK);
    g_assert_cmpmem(fx->tb->ram + DATA2_GPA, 2 * PAGE, img, 2 * PAGE);
    /* And a single sector. */
    e = run(d, 1, rw(0x02, 0, 1, DATA2_GPA, 0));
    g_assert_cmphex(e.status, ==, S_OK);
    g_assert_cmphex(fx->tb->ram[DATA2_GPA], ==, 0xa5);

    g_assert_cmphex(run(d, 1, (Cmd){ .opcode = 0x00, .nsid = 1 }).status, ==, S_OK);
    g_assert_cmphex(run(d, 1, (Cmd){ .opcode = 0x00, .nsid = 0xffffffff }).status, ==, S_OK);

    /* SMART counts the commands. */
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x02, .prp1 = ID_GPA,
                                    .cdw10 = 0x02 | (512 / 4 - 1) << 16 }, NULL), ==, S_OK);
    g_assert_cmpuint(fx->tb->ram[ID_GPA + 64], ==, 2);   /* host reads */
    g_assert_cmpuint(fx->tb->ram[ID_GPA + 80], ==, 1);   /* host writes */
}

static void test_write_zeroes_deallocate(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;
    uint8_t buf[4096], zero[4096] = { 0 };

    enable(d);
    create_io_queues(d, IOQ_SIZE);
    g_assert_cmphex(run(d, 1, (Cmd){ .opcode = 0x08, .nsid = 1, .cdw10 = 8, .cdw12 = 7 }).status,
                    ==, S_OK);
    pread_image(fx, 8 * 512, buf, 4096);
    g_assert_cmpmem(buf, 4096, zero, 4096);
    pread_image(fx, 16 * 512, buf, 1);
    g_assert_cmphex(buf[0], ==, 0xa5);

    /* Two ranges, deallocate: the raw file reads zeros there. */
    struct { uint32_t cattr, nlb; uint64_t slba; } ranges[2] = { { 0, 8, 64 }, { 0, 16, 512 } };
    memcpy(fx->tb->ram + DATA_GPA, ranges, sizeof(ranges));
    g_assert_cmphex(run(d, 1, (Cmd){ .opcode = 0x09, .nsid = 1, .prp1 = DATA_GPA, .cdw10 = 1,
                                     .cdw11 = 1u << 2 }).status, ==, S_OK);
    pread_image(fx, 64 * 512, buf, 4096);
    g_assert_cmpmem(buf, 4096, zero, 4096);
    pread_image(fx, 512 * 512, buf, 4096);
    g_assert_cmpmem(buf, 4096, zero, 4096);
    /* A range past the end is refused whole. */
    ranges[1].slba = IMG_SECTORS - 1;
    memcpy(fx->tb->ram + DATA_GPA, ranges, sizeof(ranges));
    g_assert_cmphex(run(d, 1, (Cmd){ .opcode = 0x09, .nsid = 1, .prp1 = DATA_GPA, .cdw10 = 1,
                                     .cdw11 = 1u << 2 }).status, ==, S_LBA_RANGE);
}

static void test_admin_queue_bad(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;

    /* Size 1 (AQA 0), too large, unaligned, outside RAM: fatal, never ready. */
    g_assert_cmphex(enable_with(d, 0, ASQ_GPA, ACQ_GPA), ==, CSTS_CFS);
    g_assert_cmphex(enable_with(d, 4095 << 16 | 4095, ASQ_GPA, ACQ_GPA), ==, CSTS_CFS);
    g_assert_cmphex(enable_with(d, 31 << 16 | 31, ASQ_GPA + 64, ACQ_GPA), ==, CSTS_CFS);
    g_assert_cmphex(enable_with(d, 1023 << 16 | 1023, TEST_RAM_SIZE - PAGE, ACQ_GPA), ==, CSTS_CFS);
    g_assert_cmphex(enable_with(d, 31 << 16 | 31, 0xfee00000ull, ACQ_GPA), ==, CSTS_CFS);
    /* Commands rung in while fatal are not run. */
    Cmd c = { .opcode = 0x06, .cid = 1, .prp1 = ID_GPA, .cdw10 = 1 };
    memcpy(fx->tb->ram + ASQ_GPA, &c, 64);
    reg_w(d, 0x1000, 1);
    g_assert_cmpuint(fx->tb->ram[ACQ_GPA + 14], ==, 0);
    /* A reset clears it and a good queue works. */
    enable(d);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x06, .prp1 = ID_GPA, .cdw10 = 1 }, NULL), ==, S_OK);
}

static void test_doorbells_bad(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;
    Cqe e;

    /* Before ready: ignored. */
    reg_w(d, 0x1000, 3);
    reg_w(d, 0x1000 + 8 * 7, 1);
    enable(d);
    g_assert_false(pop(d, 0, &e));
    /* An AER is held until something happens... */
    Cmd aer = { .opcode = 0x0c, .cid = 77 };
    push(d, 0, &aer, true);
    g_assert_false(pop(d, 0, &e));
    /* ...such as a doorbell of a queue never created. */
    reg_w(d, 0x1000 + 8 * 5, 1);
    e = wait_cqe(d, 0);
    g_assert_cmpuint(e.cid, ==, 77);
    g_assert_cmphex(e.dw0, ==, 0x10000);
    /* A value beyond the queue is remembered for the next AER; queue 0 is untouched. */
    reg_w(d, 0x1000, AQ_SIZE + 3);
    reg_w(d, 0x1000 + 8 * 200, 1);        /* beyond every queue id */
    reg_w(d, 0x1002, 1);                  /* unaligned */
    aer.cid = 78;
    push(d, 0, &aer, true);
    e = wait_cqe(d, 0);
    g_assert_cmpuint(e.cid, ==, 78);
    g_assert_cmphex(e.dw0, ==, 0x10100);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x06, .prp1 = ID_GPA, .cdw10 = 1 }, NULL), ==, S_OK);
    /* At most four held. */
    for (unsigned i = 0; i < 4; i++) {
        aer.cid = (uint16_t)(90 + i);
        push(d, 0, &aer, true);
    }
    g_assert_false(pop(d, 0, &e));
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x0c }, NULL), ==, 0x4105);
    /* Abort may fail: it says "not aborted". */
    uint32_t dw0;
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x08, .cdw10 = 90 }, &dw0), ==, S_OK);
    g_assert_cmpuint(dw0 & 1, ==, 1);
}

static void test_queue_commands_bad(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;
    enable(d);

    const struct { Cmd c; uint16_t status; } cases[] = {
        { { .opcode = 0x05, .prp1 = IOCQ_GPA, .cdw10 = 15 << 16 | 0, .cdw11 = 1 }, S_INV_QID },
        { { .opcode = 0x05, .prp1 = IOCQ_GPA, .cdw10 = 15 << 16 | 16, .cdw11 = 1 }, S_INV_QID },
        { { .opcode = 0x05, .prp1 = IOCQ_GPA, .cdw10 = 0 << 16 | 1, .cdw11 = 1 }, S_INV_QSIZE },
        { { .opcode = 0x05, .prp1 = IOCQ_GPA, .cdw10 = 4095u << 16 | 1, .cdw11 = 1 }, S_INV_QSIZE },
        { { .opcode = 0x05, .prp1 = IOCQ_GPA, .cdw10 = 15 << 16 | 1, .cdw11 = 0 }, S_INV_FIELD },
        { { .opcode = 0x05, .prp1 = IOCQ_GPA, .cdw10 = 15 << 16 | 1, .cdw11 = 99u << 16 | 3 },
          S_INV_VECTOR },
        { { .opcode = 0x05, .prp1 = IOCQ_GPA + 8, .cdw10 = 15 << 16 | 1, .cdw11 = 1 }, S_PRP_OFF },
        { { .opcode = 0x05, .prp1 = 0xc0000000, .cdw10 = 15 << 16 | 1, .cdw11 = 1 }, S_INV_FIELD },
        { { .opcode = 0x01, .prp1 = IOSQ_GPA, .cdw10 = 15 << 16 | 1, .cdw11 = 1u << 16 | 1 },
          S_CQ_INVALID },
        { { .opcode = 0x01, .prp1 = IOSQ_GPA, .cdw10 = 15 << 16 | 1, .cdw11 = 0u << 16 | 1 },
          S_CQ_INVALID },
        { { .opcode = 0x00, .cdw10 = 0 }, S_INV_QID },
        { { .opcode = 0x00, .cdw10 = 3 }, S_INV_QID },
        { { .opcode = 0x04, .cdw10 = 0 }, S_INV_QID },
        { { .opcode = 0x04, .cdw10 = 0xffff }, S_INV_QID },
        { { .opcode = 0x02, .prp1 = ID_GPA, .cdw10 = 0x02 | 127 << 16, .cdw12 = 512 }, S_INV_FIELD },
        { { .opcode = 0x02, .prp1 = ID_GPA, .cdw10 = 0x02 | 127 << 16, .cdw13 = 1 }, S_INV_FIELD },
        { { .opcode = 0x02, .prp1 = ID_GPA, .cdw10 = 0x02 | 127 << 16, .cdw12 = 2 }, S_INV_FIELD },
        { { .opcode = 0x02, .prp1 = ID_GPA, .cdw10 = 0x42 | 127 << 16 }, S_INV_LOG },
        { { .opcode = 0x09, .cdw10 = 0x07, .cdw11 = 0xffff }, S_INV_FIELD },
        { { .opcode = 0x09, .cdw10 = 0x30 }, S_INV_FIELD },
        { { .opcode = 0x0a, .cdw10 = 0x07 | 5 << 8 }, S_INV_FIELD },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("case %zu", i);
        g_assert_cmphex(admin(d, cases[i].c, NULL), ==, cases[i].status);
    }
    /* A log page read past its end but starting inside it is cut short. */
    memset(fx->tb->ram + ID_GPA, 0xee, 2 * PAGE);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x02, .prp1 = ID_GPA,
                                    .cdw10 = 0x03 | 0xffffu << 16, .cdw11 = 0xffff,
                                    .cdw12 = 504 }, NULL), ==, S_OK);
    g_assert_cmphex(fx->tb->ram[ID_GPA + 8], ==, 0xee);   /* 8 bytes written, no more */
    create_io_queues(d, IOQ_SIZE);
    /* Queue 1 exists now; its CQ cannot go while the SQ uses it. */
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x05, .prp1 = IOCQ_GPA, .cdw10 = 15 << 16 | 1,
                                    .cdw11 = 1 }, NULL), ==, S_INV_QID);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x04, .cdw10 = 1 }, NULL), ==, S_INV_QDEL);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x00, .cdw10 = 1 }, NULL), ==, S_OK);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x04, .cdw10 = 1 }, NULL), ==, S_OK);
    /* Its doorbell is now one of a queue that does not exist. */
    reg_w(d, 0x1008, 1);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x0c }, NULL), ==, S_OK);
}

static void test_io_commands_bad(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;
    enable(d);
    create_io_queues(d, IOQ_SIZE);

    /* A list starting three quarters into its page, so it must chain, and
     * whose chain points back at its own page: the transfer bounds it. */
    uint64_t *list = (uint64_t *)(fx->tb->ram + LIST_GPA);
    for (unsigned i = 0; i < 511; i++)
        list[i] = DATA_GPA;
    list[511] = LIST_GPA;
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 2048, DATA2_GPA, LIST_GPA + 0xc00)).status, ==, S_OK);
    /* A chain pointer that is not page aligned, and a list starting at the
     * last slot whose chain points at itself. */
    list[511] = LIST_GPA + 8;
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 2048, DATA2_GPA, LIST_GPA + 0xc00)).status, ==,
                    S_PRP_OFF);
    list[511] = LIST_GPA + 0xff8;
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 2048, DATA2_GPA, LIST_GPA + 0xff8)).status, ==,
                    S_PRP_OFF);
    /* Entries with an offset, outside RAM, in the MMIO hole. */
    list[0] = DATA_GPA + 4;
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 24, DATA2_GPA, LIST_GPA)).status, ==, S_PRP_OFF);
    list[0] = 0xfee00000;
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 24, DATA2_GPA, LIST_GPA)).status, ==, S_XFER_ERR);
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 8, TEST_RAM_SIZE, 0)).status, ==, S_XFER_ERR);
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 8, DATA_GPA + 2, 0)).status, ==, S_PRP_OFF);
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 16, DATA_GPA, DATA_GPA + 0x800)).status, ==, S_PRP_OFF);
    /* More than MDTS, past the end, another namespace, unknown opcode. */
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 4096, DATA_GPA, LIST_GPA)).status, ==, S_INV_FIELD);
    g_assert_cmphex(run(d, 1, rw(0x01, IMG_SECTORS - 1, 2, DATA_GPA, 0)).status, ==, S_LBA_RANGE);
    g_assert_cmphex(run(d, 1, rw(0x02, UINT64_MAX, 1, DATA_GPA, 0)).status, ==, S_LBA_RANGE);
    g_assert_cmphex(run(d, 1, (Cmd){ .opcode = 0x08, .nsid = 1, .cdw10 = IMG_SECTORS,
                                     .cdw12 = 0 }).status, ==, S_LBA_RANGE);
    Cmd other = rw(0x02, 0, 1, DATA_GPA, 0);
    other.nsid = 2;
    g_assert_cmphex(run(d, 1, other).status, ==, S_INV_NS);
    g_assert_cmphex(run(d, 1, (Cmd){ .opcode = 0x7e, .nsid = 1 }).status, ==, S_INV_OPCODE);

    /* The same CID twice: both complete. */
    Cmd w = rw(0x01, 10, 1, DATA_GPA, 0);
    w.cid = 5;
    push(d, 1, &w, false);
    push(d, 1, &w, true);
    Cqe a = wait_cqe(d, 1), b = wait_cqe(d, 1);
    g_assert_cmpuint(a.cid, ==, 5);
    g_assert_cmpuint(b.cid, ==, 5);
    g_assert_cmphex(a.status | b.status, ==, S_OK);
}

/* A CQ with one free slot: fetching waits for the host to make room. */
static void test_cq_full(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;
    Cqe e;
    enable(d);
    create_io_queues(d, 2);
    for (unsigned i = 0; i < 3; i++) {
        Cmd c = rw(0x02, i, 1, DATA_GPA, 0);
        c.cid = (uint16_t)(200 + i);
        push(d, 1, &c, i == 2);
    }
    for (unsigned i = 0; i < 3; i++) {
        /* pop() rings the CQ head doorbell, which lets the next one in. */
        g_assert_true(pop(d, 1, &e));
        g_assert_cmpuint(e.cid, ==, 200 + i);
        g_assert_cmpuint(e.sqhd, ==, (i + 1) % IOQ_SIZE);
    }
    g_assert_false(pop(d, 1, &e));
}

static void test_shutdown(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;
    Cqe e;
    enable(d);
    create_io_queues(d, IOQ_SIZE);
    g_assert_cmphex(run(d, 1, rw(0x01, 1, 1, DATA_GPA, 0)).status, ==, S_OK);
    reg_w(d, 0x14, CC_ENABLE | 1u << 14);
    g_assert_cmpuint(SHST(reg_r(d, 0x1c)), ==, 2);
    /* After shutdown, commands are not fetched. */
    Cmd c = rw(0x02, 0, 1, DATA_GPA, 0);
    push(d, 1, &c, true);
    push(d, 0, &(Cmd){ .opcode = 0x06, .prp1 = ID_GPA, .cdw10 = 1 }, true);
    g_assert_false(pop(d, 1, &e));
    g_assert_false(pop(d, 0, &e));
    /* A reset brings it back, queues gone. */
    reg_w(d, 0x14, 0);
    g_assert_cmphex(reg_r(d, 0x1c), ==, 0);
    enable(d);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x06, .prp1 = ID_GPA, .cdw10 = 1 }, NULL), ==, S_OK);
    reg_w(d, 0x1008, 0);                 /* SQ 1 no longer exists */
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x0c }, NULL), ==, S_OK);
}

/* Real asynchrony: the doorbell only kicks; the I/O thread does the work. */
static void test_iothread(void)
{
    Fx fx;
    fx_setup(&fx, true);
    Drv *d = &fx.d;
    enable(d);
    create_io_queues(d, IOQ_SIZE);
    for (unsigned i = 0; i < 32; i++) {
        fill(&fx, DATA_GPA + i * PAGE, PAGE, (uint8_t)i);
        Cmd c = rw(0x01, i * 8, 8, DATA_GPA + i * PAGE, 0);
        c.cid = (uint16_t)i;
        push(d, 1, &c, true);
    }
    for (unsigned i = 0; i < 32; i++)
        g_assert_cmphex(wait_cqe(d, 1).status, ==, S_OK);
    g_autofree uint8_t *img = g_malloc(32 * PAGE);
    pread_image(&fx, 0, img, 32 * PAGE);
    g_assert_cmpmem(img, 32 * PAGE, fx.tb->ram + DATA_GPA, 32 * PAGE);
    /* Shutdown flushes on the I/O thread; the driver polls SHST. */
    reg_w(d, 0x14, CC_ENABLE | 1u << 14);
    for (gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
         SHST(reg_r(d, 0x1c)) != 2;) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(100);
    }
    fx_teardown(&fx);
}

/* Random commands on both queues, pointing anywhere in RAM (the rings
 * included): the controller answers or goes fatal, and a reset always
 * brings it back. */
static void test_random_commands(Fx *fx, gconstpointer data)
{
    static const uint8_t ops[] = { 0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0a,
                                   0x0c, 0x08, 0x09, 0x55 };
    Drv *d = &fx->d;
    Cqe e;

    enable(d);
    create_io_queues(d, IOQ_SIZE);
    for (unsigned i = 0; i < 4000; i++) {
        Cmd c;
        uint32_t *w = (uint32_t *)&c;
        for (unsigned j = 0; j < 16; j++)
            w[j] = g_test_rand_int();
        unsigned q = i % 2;
        c.opcode = ops[g_test_rand_int_range(0, G_N_ELEMENTS(ops))];
        if (g_test_rand_bit())
            c.nsid = 1;
        if (g_test_rand_bit()) {
            c.prp1 = (uint64_t)g_test_rand_int_range(0, TEST_RAM_SIZE / PAGE) * PAGE;
            c.prp2 = (uint64_t)g_test_rand_int_range(0, TEST_RAM_SIZE / 8) * 8;
        }
        if (g_test_rand_bit())
            c.cdw11 = 0, c.cdw12 &= 0xff;
        if (q == 0 && g_test_rand_int_range(0, 8))
            c.cdw10 &= 0xff00ffff;          /* mostly valid queue ids and sizes */
        push(d, q, &c, true);
        for (unsigned n = 0; n < 2 * IOQ_SIZE && pop(d, q, &e); n++)
            ;
    }
    g_test_message("CSTS after the storm: 0x%x", reg_r(d, 0x1c));
    enable(d);
    g_assert_cmphex(admin(d, (Cmd){ .opcode = 0x06, .prp1 = ID_GPA, .cdw10 = 1 }, NULL), ==, S_OK);
    create_io_queues(d, IOQ_SIZE);
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 8, DATA_GPA, 0)).status, ==, S_OK);
}

/* Save / load */

static GByteArray *section_of(HgrDevice *dev, HgrNvmeState *st)
{
    g_autoptr(GByteArray) data = g_byte_array_new();
    g_autoptr(HgrVisitor) v = hgr_visitor_new_save(data);
    GByteArray *s = g_byte_array_new();

    dev->ops->visit_state(v, st);
    hgr_state_write_section(s, dev->id, dev->ops->state_version, data->data, data->len);
    return s;
}

static void test_save_load(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;
    enable(d);
    create_io_queues(d, IOQ_SIZE);
    fill(fx, DATA_GPA, PAGE, 9);
    g_assert_cmphex(run(d, 1, rw(0x01, 40, 8, DATA_GPA, 0)).status, ==, S_OK);
    push(d, 0, &(Cmd){ .opcode = 0x0c, .cid = 300 }, true);      /* held across */
    d->dev->ops->pause(d->dev);
    /* Submitted while paused: saved unfetched, run after the load. */
    Cmd c = rw(0x02, 40, 8, DATA2_GPA, 0);
    c.cid = 301;
    push(d, 1, &c, true);
    g_autoptr(GByteArray) saved = test_save(d->dev);

    TestBoard *tb2 = test_board_new(fx->tb->ram);
    HgrDevice *dev2 = hgr_nvme_new("nvme.0", fx->blk, &tb2->mem, NULL);
    g_assert_true(dev2->ops->realize(dev2, &tb2->board, NULL));
    g_autoptr(GError) err = NULL;
    memset(fx->tb->ram + DATA2_GPA, 0, PAGE);
    g_assert_true(test_load(dev2, saved, &err));
    g_assert_no_error(err);
    g_autoptr(GByteArray) again = test_save(dev2);
    /* The loaded device ran the pending read; otherwise identical. */
    Drv d2 = *d;
    d2.tb = tb2;
    d2.dev = dev2;
    Cqe e = wait_cqe(&d2, 1);
    g_assert_cmpuint(e.cid, ==, 301);
    g_assert_cmphex(e.status, ==, S_OK);
    g_assert_cmpmem(fx->tb->ram + DATA2_GPA, PAGE, fx->tb->ram + DATA_GPA, PAGE);
    g_assert_cmpuint(tb2->n_msi, ==, 1);
    g_assert_cmpuint(saved->len, ==, again->len);

    /* The held AER still answers; new commands still work. */
    reg_w(&d2, 0x1000 + 8 * 9, 1);
    e = wait_cqe(&d2, 0);
    g_assert_cmpuint(e.cid, ==, 300);
    g_assert_cmphex(run(&d2, 1, rw(0x02, 0, 1, DATA2_GPA, 0)).status, ==, S_OK);
    hgr_device_free(dev2);
    test_board_free(tb2, false);
}

static void test_save_load_compare(Fx *fx, gconstpointer data)
{
    Drv *d = &fx->d;
    enable(d);
    create_io_queues(d, IOQ_SIZE);
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 1, DATA_GPA, 0)).status, ==, S_OK);
    g_autoptr(GByteArray) saved = test_save(d->dev);
    TestBoard *tb2 = test_board_new(fx->tb->ram);
    HgrDevice *dev2 = hgr_nvme_new("nvme.0", fx->blk, &tb2->mem, NULL);
    g_assert_true(dev2->ops->realize(dev2, &tb2->board, NULL));
    g_assert_true(test_load(dev2, saved, NULL));
    g_autoptr(GByteArray) again = test_save(dev2);
    g_assert_cmpmem(saved->data, saved->len, again->data, again->len);
    hgr_device_free(dev2);
    test_board_free(tb2, false);
}

typedef void (*Tamper)(HgrNvmeState *st);
static void t_sectors(HgrNvmeState *st) { st->sectors++; }
static void t_qsize(HgrNvmeState *st) { st->sq[1].size = 4096; }
static void t_head(HgrNvmeState *st) { st->cq[1].head = st->cq[1].size; }
static void t_base(HgrNvmeState *st) { st->sq[1].base = TEST_RAM_SIZE - 64; }
static void t_cqid(HgrNvmeState *st) { st->sq[1].cqid = 7; }
static void t_vector(HgrNvmeState *st) { st->cq[1].vector = 16; }
static void t_aer(HgrNvmeState *st) { st->n_aer = 5; }
static void t_csts(HgrNvmeState *st) { st->csts = 0xc; }
static void t_no_admin(HgrNvmeState *st) { st->sq[0].valid = false; }
static void t_vendor(HgrNvmeState *st) { st->pci.config[0] = 0x86; }

static void test_load_tampered(Fx *fx, gconstpointer data)
{
    const Tamper tampers[] = { t_sectors, t_qsize, t_head, t_base, t_cqid, t_vector, t_aer,
                               t_csts, t_no_admin, t_vendor };
    Drv *d = &fx->d;
    enable(d);
    create_io_queues(d, IOQ_SIZE);
    g_autoptr(GByteArray) before = test_save(d->dev);
    HgrNvmeState *st = g_malloc0(sizeof(*st));
    for (size_t i = 0; i < G_N_ELEMENTS(tampers); i++) {
        memset(st, 0, sizeof(*st));
        d->dev->ops->get_state(d->dev, st);
        tampers[i](st);
        g_autoptr(GByteArray) s = section_of(d->dev, st);
        g_autoptr(GError) err = NULL;
        g_assert_false(test_load(d->dev, s, &err));
        g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
        g_autoptr(GByteArray) after = test_save(d->dev);
        g_assert_cmpmem(before->data, before->len, after->data, after->len);
    }
    /* Cut anywhere: refused. */
    memset(st, 0, sizeof(*st));
    d->dev->ops->get_state(d->dev, st);
    g_autoptr(GByteArray) payload = g_byte_array_new();
    g_autoptr(HgrVisitor) v = hgr_visitor_new_save(payload);
    d->dev->ops->visit_state(v, st);
    for (guint cut = 0; cut < payload->len; cut += 101) {
        g_autoptr(GByteArray) s = g_byte_array_new();
        hgr_state_write_section(s, d->dev->id, 1, payload->data, cut);
        g_assert_false(test_load(d->dev, s, NULL));
    }
    g_free(st);
    g_assert_cmphex(run(d, 1, rw(0x02, 0, 1, DATA_GPA, 0)).status, ==, S_OK);
}

static gboolean ignore_guest_warnings(const gchar *domain, GLogLevelFlags level,
                                      const gchar *message, gpointer data)
{
    return !(level & G_LOG_LEVEL_WARNING);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* The device warns (rate-limited) about what hostile tests do on purpose. */
    g_test_log_set_fatal_handler(ignore_guest_warnings, NULL);
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(path, fn) g_test_add("/vmm/nvme/" path, Fx, NULL, setup, fn, teardown)
    ADD("identify", test_identify);
    ADD("read-write-prp-list", test_read_write_prp_list);
    ADD("write-zeroes-deallocate", test_write_zeroes_deallocate);
    ADD("cq-full-waits", test_cq_full);
    ADD("shutdown", test_shutdown);
    ADD("hostile/admin-queue", test_admin_queue_bad);
    ADD("hostile/doorbells", test_doorbells_bad);
    ADD("hostile/queue-commands", test_queue_commands_bad);
    ADD("hostile/io-commands", test_io_commands_bad);
    ADD("hostile/random-commands", test_random_commands);
    ADD("save-load/roundtrip", test_save_load_compare);
    ADD("save-load/pending-work", test_save_load);
    ADD("save-load/tampered", test_load_tampered);
    g_test_add_func("/vmm/nvme/iothread", test_iothread);
    return g_test_run();
}
