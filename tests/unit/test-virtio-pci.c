/* test-virtio-pci.c — a virtio-rng driven through PCI the way Linux's
 * virtio_pci_modern does it, the hostile queue-register cases, MSI-X
 * masking, reset during I/O, and save/load (round trip and tampered). */
#include <glib.h>
#include <hangar/vm.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "virtio-pci-driver.h"

typedef struct {
    TestBoard *tb;
    HgrDevice *dev;
    Drv d;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    f->tb = test_board_new(NULL);
    f->dev = new_rng(f->tb);
    probe(&f->d, f->tb);
}

static void teardown(Fixture *f, gconstpointer data)
{
    hgr_device_free(f->dev);
    test_board_free(f->tb, true);
}

static void test_linux_bring_up(Fixture *f, gconstpointer data)
{
    Drv *d = &f->d;

    bring_up(d, f->tb);
    g_assert_cmpuint(cc_r(d, CC_NUMQ, 2), ==, 1);
    request(d, 0);
    g_assert_cmpuint(test_ring_used_idx(&d->ring), ==, 1);
    uint32_t id, len;
    test_ring_used_elem(&d->ring, 0, &id, &len);
    g_assert_cmpuint(id, ==, 0);
    g_assert_cmpuint(len, ==, 64);
    g_assert_true(buffer_filled(d, 0));
    g_assert_cmpuint(f->tb->n_msi, ==, 1);
    g_assert_cmphex(f->tb->msi[0].addr, ==, MSI_ADDR(1));
    g_assert_cmphex(f->tb->msi[0].data, ==, MSI_DATA(1));
    /* The ISR says "queue", and reading it clears it. */
    g_assert_cmpuint(test_io(&f->tb->mmio, d->bar + d->isr, 1), ==, 1);
    g_assert_cmpuint(test_io(&f->tb->mmio, d->bar + d->isr, 1), ==, 0);

    request(d, 1);
    g_assert_cmpuint(test_ring_used_idx(&d->ring), ==, 2);
    g_assert_cmpuint(f->tb->n_msi, ==, 2);
}

static void test_features_refused(Fixture *f, gconstpointer data)
{
    g_assert_false(negotiate(&f->d, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << 40));
    g_assert_false(negotiate(&f->d, 0));           /* no VERSION_1: no legacy here */
    g_assert_true(negotiate(&f->d, 1ULL << VIRTIO_F_VERSION_1));
}

static void test_queue_select_out_of_range(Fixture *f, gconstpointer data)
{
    Drv *d = &f->d;
    const uint16_t sel[] = { 1, 0x7fff, 0x8000, 0xffff };

    g_assert_true(negotiate(d, 1ULL << VIRTIO_F_VERSION_1));
    for (size_t i = 0; i < G_N_ELEMENTS(sel); i++) {
        cc_w(d, CC_Q_SELECT, 2, sel[i]);
        g_assert_cmpuint(cc_r(d, CC_Q_SIZE, 2), ==, 0);
        cc_w(d, CC_Q_SIZE, 2, 8);
        cc_w64(d, CC_Q_DESC, 0x1234000);
        cc_w(d, CC_Q_MSIX, 2, 1);
        cc_w(d, CC_Q_ENABLE, 2, 1);
        g_assert_cmpuint(cc_r(d, CC_Q_SIZE, 2), ==, 0);
        g_assert_cmpuint(cc_r(d, CC_Q_ENABLE, 2), ==, 0);
        kick(d, sel[i]);
    }
    g_assert_false(status(d) & VIRTIO_STATUS_NEEDS_RESET);
    cc_w(d, CC_Q_SELECT, 2, 0);
    g_assert_cmpuint(cc_r(d, CC_Q_SIZE, 2), ==, 64);
    g_assert_cmphex(cc_r(d, CC_Q_DESC, 8), ==, 0);
    g_assert_cmphex(cc_r(d, CC_Q_MSIX, 2), ==, VIRTIO_MSI_NO_VECTOR);
    /* A kick at a notify address no queue owns. */
    test_io_write(&f->tb->mmio, d->bar + d->notify + 5 * d->notify_mult, 2, 5);
    g_assert_false(status(d) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_queue_writes_after_enable(Fixture *f, gconstpointer data)
{
    Drv *d = &f->d;

    g_assert_true(negotiate(d, 1ULL << VIRTIO_F_VERSION_1));
    setup_msix(d);
    g_assert_true(setup_queue(d, QSIZE));
    cc_w(d, CC_Q_SIZE, 2, 32);
    cc_w64(d, CC_Q_DESC, 0xdead0000);
    cc_w(d, CC_Q_MSIX, 2, 0);
    cc_w(d, CC_Q_ENABLE, 2, 0);
    g_assert_cmpuint(cc_r(d, CC_Q_SIZE, 2), ==, QSIZE);
    g_assert_cmphex(cc_r(d, CC_Q_DESC, 8), ==, d->ring.desc);
    g_assert_cmpuint(cc_r(d, CC_Q_MSIX, 2), ==, 1);
    g_assert_cmpuint(cc_r(d, CC_Q_ENABLE, 2), ==, 1);
    driver_ok(d);
    request(d, 0);
    g_assert_cmpuint(test_ring_used_idx(&d->ring), ==, 1);
}

static void test_queue_writes_after_driver_ok(Fixture *f, gconstpointer data)
{
    Drv *d = &f->d;

    g_assert_true(negotiate(d, 1ULL << VIRTIO_F_VERSION_1));
    driver_ok(d);
    test_ring_init(&d->ring, &f->tb->mem, RING_GPA, QSIZE);
    cc_w(d, CC_Q_SELECT, 2, 0);
    cc_w(d, CC_Q_SIZE, 2, QSIZE);
    cc_w64(d, CC_Q_DESC, d->ring.desc);
    cc_w(d, CC_Q_ENABLE, 2, 1);
    g_assert_cmpuint(cc_r(d, CC_Q_SIZE, 2), ==, 64);
    g_assert_cmphex(cc_r(d, CC_Q_DESC, 8), ==, 0);
    g_assert_cmpuint(cc_r(d, CC_Q_ENABLE, 2), ==, 0);
    kick(d, 0);
    g_assert_false(status(d) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_queue_size_refused(Fixture *f, gconstpointer data)
{
    const uint16_t sizes[] = { 12, 128, 0 };

    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        Drv *d = &f->d;
        g_assert_true(negotiate(d, 1ULL << VIRTIO_F_VERSION_1));
        setup_msix(d);
        g_assert_false(setup_queue(d, sizes[i]));
        g_assert_true(status(d) & VIRTIO_STATUS_NEEDS_RESET);
        driver_ok(d);
        request(d, 0);
        g_assert_cmpuint(test_ring_used_idx(&d->ring), ==, 0);
    }
    /* A reset brings it back. */
    bring_up(&f->d, f->tb);
    request(&f->d, 0);
    g_assert_cmpuint(test_ring_used_idx(&f->d.ring), ==, 1);
}

static void test_vector_out_of_range(Fixture *f, gconstpointer data)
{
    Drv *d = &f->d;

    g_assert_true(negotiate(d, 1ULL << VIRTIO_F_VERSION_1));
    cc_w(d, CC_MSIX, 2, 2);
    g_assert_cmphex(cc_r(d, CC_MSIX, 2), ==, VIRTIO_MSI_NO_VECTOR);
    cc_w(d, CC_Q_SELECT, 2, 0);
    cc_w(d, CC_Q_MSIX, 2, 0x7ff);
    g_assert_cmphex(cc_r(d, CC_Q_MSIX, 2), ==, VIRTIO_MSI_NO_VECTOR);
}

static void test_msix_mask_pending(Fixture *f, gconstpointer data)
{
    Drv *d = &f->d;
    TestBoard *tb = f->tb;

    bring_up(d, tb);
    msix_entry(d, 1, true);
    request(d, 0);
    g_assert_cmpuint(test_ring_used_idx(&d->ring), ==, 1);
    g_assert_cmpuint(tb->n_msi, ==, 0);
    g_assert_cmphex(pba(d), ==, 1u << 1);
    msix_entry(d, 1, false);                       /* unmask: the pending one goes out */
    g_assert_cmpuint(tb->n_msi, ==, 1);
    g_assert_cmphex(tb->msi[0].data, ==, MSI_DATA(1));
    g_assert_cmphex(pba(d), ==, 0);

    msix_control(d, MSIX_ENABLE | MSIX_FMASK);     /* function mask */
    request(d, 1);
    g_assert_cmpuint(tb->n_msi, ==, 1);
    g_assert_cmphex(pba(d), ==, 1u << 1);
    msix_control(d, MSIX_ENABLE);
    g_assert_cmpuint(tb->n_msi, ==, 2);
    g_assert_cmphex(pba(d), ==, 0);

    msix_control(d, 0);                            /* MSI-X off: nothing */
    request(d, 2);
    g_assert_cmpuint(test_ring_used_idx(&d->ring), ==, 3);
    g_assert_cmpuint(tb->n_msi, ==, 2);
    /* The PBA is read-only. */
    test_io_write(&tb->mmio, d->bar + d->msix_pba, 8, ~0ULL);
    g_assert_cmphex(pba(d), ==, 0);
}

static void test_pci_cfg_window(Fixture *f, gconstpointer data)
{
    Drv *d = &f->d;
    unsigned cap = d->pci_cfg_cap;

    test_cfg_write(f->tb, d->devfn, cap + 4, 1, 0);
    test_cfg_write(f->tb, d->devfn, cap + 8, 4, d->common + CC_NUMQ);
    test_cfg_write(f->tb, d->devfn, cap + 12, 4, 2);
    g_assert_cmpuint(test_cfg_read(f->tb, d->devfn, cap + 16, 2), ==, 1);
    test_cfg_write(f->tb, d->devfn, cap + 8, 4, d->common + CC_STATUS);
    test_cfg_write(f->tb, d->devfn, cap + 12, 4, 1);
    test_cfg_write(f->tb, d->devfn, cap + 16, 1, VIRTIO_STATUS_ACKNOWLEDGE);
    g_assert_cmpuint(status(d), ==, VIRTIO_STATUS_ACKNOWLEDGE);
    /* A window off the end of the BAR, or of a silly length, does nothing. */
    test_cfg_write(f->tb, d->devfn, cap + 8, 4, 0xfffffffe);
    test_cfg_write(f->tb, d->devfn, cap + 12, 4, 4);
    test_cfg_write(f->tb, d->devfn, cap + 16, 4, 0);
    test_cfg_read(f->tb, d->devfn, cap + 16, 4);
    test_cfg_write(f->tb, d->devfn, cap + 8, 4, d->common + CC_STATUS);
    test_cfg_write(f->tb, d->devfn, cap + 12, 4, 3);
    test_cfg_write(f->tb, d->devfn, cap + 16, 4, 0);
    g_assert_cmpuint(status(d), ==, VIRTIO_STATUS_ACKNOWLEDGE);
}

static void test_reset_mid_io(Fixture *f, gconstpointer data)
{
    Drv *d = &f->d;

    bring_up(d, f->tb);
    test_ring_desc(&d->ring, 0, BUF_GPA, 64, VRING_DESC_F_WRITE, 0);
    test_ring_publish(&d->ring, 0);                /* offered, not yet kicked */
    set_status(d, 0);
    kick(d, 0);
    g_assert_cmpuint(test_ring_used_idx(&d->ring), ==, 0);
    g_assert_cmpuint(f->tb->n_msi, ==, 0);
    g_assert_cmpuint(status(d), ==, 0);
    cc_w(d, CC_Q_SELECT, 2, 0);
    g_assert_cmpuint(cc_r(d, CC_Q_SIZE, 2), ==, 64);
    g_assert_cmpuint(cc_r(d, CC_Q_ENABLE, 2), ==, 0);
    g_assert_cmphex(cc_r(d, CC_Q_MSIX, 2), ==, VIRTIO_MSI_NO_VECTOR);
    g_assert_cmphex(cc_r(d, CC_MSIX, 2), ==, VIRTIO_MSI_NO_VECTOR);

    bring_up(d, f->tb);                            /* the driver starts over */
    request(d, 0);
    g_assert_cmpuint(test_ring_used_idx(&d->ring), ==, 1);
    g_assert_cmpuint(f->tb->n_msi, ==, 1);

    /* A machine reset: config space to power-on, decode off, MSI-X off,
     * BARs where they were assigned. */
    uint64_t bar = d->bar;
    f->dev->ops->reset(f->dev);
    g_assert_cmphex(test_cfg_read(f->tb, d->devfn, PCI_COMMAND, 2), ==, 0);
    g_assert_cmphex(cc_r(d, CC_NUMQ, 2), ==, 0xffff);       /* not decoded */
    g_assert_cmphex(test_cfg_read(f->tb, d->devfn, d->msix_cap + 2, 2) & MSIX_ENABLE, ==, 0);
    probe(d, f->tb);
    g_assert_cmphex(d->bar, ==, bar);
    g_assert_cmpuint(status(d), ==, 0);
}

/* Saves and builds the section bytes of a state struct. */
static GByteArray *section_of(HgrDevice *dev, HgrVirtioPciState *st)
{
    g_autoptr(GByteArray) data = g_byte_array_new();
    g_autoptr(HgrVisitor) v = hgr_visitor_new_save(data);
    GByteArray *s = g_byte_array_new();

    dev->ops->visit_state(v, st);
    hgr_state_write_section(s, dev->id, dev->ops->state_version, data->data, data->len);
    return s;
}

static void test_save_load_roundtrip(Fixture *f, gconstpointer data)
{
    Drv *d = &f->d;

    bring_up(d, f->tb);
    request(d, 0);
    msix_entry(d, 1, true);
    request(d, 1);                                 /* leaves vector 1 pending */
    g_autoptr(GByteArray) saved = test_save(f->dev);

    /* A fresh machine on the same RAM. */
    TestBoard *tb2 = test_board_new(f->tb->ram);
    HgrDevice *dev2 = new_rng(tb2);
    g_autoptr(GError) err = NULL;
    g_assert_true(test_load(dev2, saved, &err));
    g_assert_no_error(err);
    g_autoptr(GByteArray) again = test_save(dev2);
    g_assert_cmpmem(saved->data, saved->len, again->data, again->len);

    /* It carries on: the pending vector fires on unmask, new work completes. */
    Drv d2 = *d;
    d2.tb = tb2;
    msix_entry(&d2, 1, false);
    g_assert_cmpuint(tb2->n_msi, ==, 1);
    request(&d2, 2);
    g_assert_cmpuint(test_ring_used_idx(&d2.ring), ==, 3);
    g_assert_true(buffer_filled(&d2, 2));
    g_assert_cmpuint(tb2->n_msi, ==, 2);
    g_assert_cmphex(tb2->msi[1].addr, ==, MSI_ADDR(1));

    hgr_device_free(dev2);
    test_board_free(tb2, false);
}

typedef void (*Tamper)(HgrVirtioPciState *st);

static void tamper_features(HgrVirtioPciState *st) { st->virtio.driver_features |= 1ULL << 40; }
static void tamper_queue_size(HgrVirtioPciState *st) { st->virtio.queues[0].size = 4096; }
static void tamper_ring(HgrVirtioPciState *st) { st->virtio.queues[0].used_gpa = 0x40000000; }
static void tamper_num_queues(HgrVirtioPciState *st) { st->virtio.num_queues = 2; }
static void tamper_vector(HgrVirtioPciState *st) { st->virtio.queues[0].msix_vector = 7; }
static void tamper_config_vector(HgrVirtioPciState *st) { st->config_msix_vector = 2; }
static void tamper_vendor(HgrVirtioPciState *st) { st->pci.config[PCI_VENDOR_ID] = 0x86; }
static void tamper_msix_table_size(HgrVirtioPciState *st) { st->msix.nvec = 3; }
static void tamper_msix_reserved(HgrVirtioPciState *st) { st->msix.table[12] = 0x80; }
static void tamper_pba(HgrVirtioPciState *st) { st->msix.pba = 1ULL << 9; }
static void tamper_device_state(HgrVirtioPciState *st) { st->device_state_len = 5; }
static void tamper_device_state_len(HgrVirtioPciState *st) { st->device_state_len = 1u << 30; }

static void test_load_tampered(Fixture *f, gconstpointer data)
{
    const Tamper tampers[] = {
        tamper_features, tamper_queue_size, tamper_ring, tamper_num_queues, tamper_vector,
        tamper_config_vector, tamper_vendor, tamper_msix_table_size, tamper_msix_reserved,
        tamper_pba, tamper_device_state, tamper_device_state_len,
    };
    Drv *d = &f->d;

    bring_up(d, f->tb);
    request(d, 0);
    g_autoptr(GByteArray) before = test_save(f->dev);
    HgrVirtioPciState *st = g_malloc0(sizeof(*st));
    for (size_t i = 0; i < G_N_ELEMENTS(tampers); i++) {
        memset(st, 0, sizeof(*st));
        f->dev->ops->get_state(f->dev, st);
        tampers[i](st);
        g_autoptr(GByteArray) s = section_of(f->dev, st);
        g_autoptr(GError) err = NULL;
        g_assert_false(test_load(f->dev, s, &err));
        g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_STATE);
        g_autoptr(GByteArray) after = test_save(f->dev);
        g_assert_cmpmem(before->data, before->len, after->data, after->len);
    }
    g_free(st);
    /* Still working. */
    request(d, 1);
    g_assert_cmpuint(test_ring_used_idx(&d->ring), ==, 2);
}

/* Cut anywhere, the section is refused and the device is untouched. */
static void test_load_truncated(Fixture *f, gconstpointer data)
{
    bring_up(&f->d, f->tb);
    g_autoptr(GByteArray) before = test_save(f->dev);
    HgrVirtioPciState *st = g_malloc0(sizeof(*st));
    f->dev->ops->get_state(f->dev, st);
    g_autoptr(GByteArray) payload = g_byte_array_new();
    g_autoptr(HgrVisitor) v = hgr_visitor_new_save(payload);
    f->dev->ops->visit_state(v, st);
    for (guint cut = 0; cut < payload->len; cut += 97) {
        g_autoptr(GByteArray) s = g_byte_array_new();
        hgr_state_write_section(s, f->dev->id, 1, payload->data, cut);
        g_assert_false(test_load(f->dev, s, NULL));
    }
    g_free(st);
    g_autoptr(GByteArray) after = test_save(f->dev);
    g_assert_cmpmem(before->data, before->len, after->data, after->len);
}

/* lspci, the reference decoder, reads our config space (from a dump in
 * its own -xxxx format) the way we mean it. */
static void test_lspci_decodes_config(Fixture *f, gconstpointer data)
{
    g_autofree char *lspci = g_find_program_in_path("lspci");
    if (!lspci) {
        g_test_skip("lspci (pciutils) is not installed");
        return;
    }
    bring_up(&f->d, f->tb);
    g_autoptr(GString) dump = g_string_new("00:01.0 virtio\n");
    for (uint32_t off = 0; off < HGR_PCI_CONFIG_SIZE; off += 16) {
        g_string_append_printf(dump, "%03x:", off);
        for (uint32_t i = 0; i < 16; i++)
            g_string_append_printf(dump, " %02x", test_cfg_read(f->tb, f->d.devfn, off + i, 1));
        g_string_append_c(dump, '\n');
    }
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("hangar-pci-XXXXXX", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    g_assert_true(g_file_set_contents(path, dump->str, dump->len, NULL));
    const char *argv[] = { lspci, "-F", path, "-vvv", "-nn", NULL };
    g_autofree char *out = NULL;
    int wait_status;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                               NULL, &out, NULL, &wait_status, NULL));
    g_unlink(path);
    g_test_message("%s", out);
    const char *want[] = {
        "[1af4:1044] (rev 01)",
        "Control: I/O- Mem+ BusMaster+",
        "Memory at 100000000 (64-bit, non-prefetchable)",
        "VirtIO: CommonCfg\n\t\tBAR=0 offset=00000000 size=00000038",
        "VirtIO: Notify\n\t\tBAR=0 offset=00003000 size=00000004 multiplier=00000004",
        "VirtIO: ISR\n\t\tBAR=0 offset=00001000 size=00000001",
        "VirtIO: DeviceCfg\n\t\tBAR=0 offset=00002000",
        "MSI-X: Enable+ Count=2 Masked-\n\t\tVector table: BAR=0 offset=00004000\n"
        "\t\tPBA: BAR=0 offset=00005000",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        if (!strstr(out, want[i]))
            g_error("lspci output lacks \"%s\":\n%s", want[i], out);
}

/* With a KVM VM fd: kicks are ioeventfds that follow the BAR, interrupts
 * are irqfds whose GSI routes follow the MSI-X table, also after a load.
 * Needs only ioctls on /dev/kvm (no guest code runs); skipped without it. */
typedef struct {
    unsigned next_gsi;
    bool refuse;
    unsigned n;
    unsigned gsi;
    uint64_t addr;
    uint32_t data;
} Routes;

static unsigned kvm_alloc_gsi(void *opaque)
{
    return ((Routes *)opaque)->next_gsi++;
}

static bool kvm_set_route(void *opaque, unsigned gsi, uint64_t addr, uint32_t data)
{
    Routes *r = opaque;
    r->n++;
    r->gsi = gsi;
    r->addr = addr;
    r->data = data;
    return !r->refuse;
}

/* 0 if nobody watches addr, EEXIST if an ioeventfd of ours does. */
static int ioeventfd_probe(int vm_fd, uint64_t addr)
{
    int fd = eventfd(0, EFD_CLOEXEC);
    struct kvm_ioeventfd ev = { .addr = addr, .len = 2, .fd = fd };
    int r = ioctl(vm_fd, KVM_IOEVENTFD, &ev) == 0 ? 0 : errno;
    if (r == 0) {
        ev.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
        ioctl(vm_fd, KVM_IOEVENTFD, &ev);
    }
    close(fd);
    return r;
}

static TestBoard *kvm_board(int vm_fd, Routes *routes, uint8_t *ram)
{
    TestBoard *tb = test_board_new(ram);
    tb->board.vm_fd = vm_fd;
    tb->board.alloc_gsi = kvm_alloc_gsi;
    tb->board.set_msi_route = kvm_set_route;
    tb->board.opaque = routes;
    return tb;
}

static void test_kvm_ioeventfd_irqfd(void)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int vm_fd = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm_fd < 0 || ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        g_test_skip("no usable /dev/kvm");
        if (vm_fd >= 0)
            close(vm_fd);
        if (kvm >= 0)
            close(kvm);
        return;
    }
    Routes routes = { .next_gsi = 24 };
    TestBoard *tb = kvm_board(vm_fd, &routes, NULL);
    HgrIoThread *io = hgr_iothread_new("test-io");
    hgr_iothread_start(io);
    HgrDevice *dev = hgr_virtio_pci_new("virtio-rng.0", hgr_virtio_rng_new(&tb->mem, io));
    g_assert_true(dev->ops->realize(dev, &tb->board, NULL));
    Drv d;

    probe(&d, tb);                                 /* decode on */
    uint64_t kick_addr = d.bar + d.notify;
    g_assert_cmpint(ioeventfd_probe(vm_fd, kick_addr), ==, EEXIST);
    test_cfg_write(tb, d.devfn, PCI_COMMAND, 2, 0);
    g_assert_cmpint(ioeventfd_probe(vm_fd, kick_addr), ==, 0);
    uint64_t moved = d.bar + 0x100000;
    test_cfg_write(tb, d.devfn, PCI_BASE_ADDRESS_0, 4, (uint32_t)moved);
    test_cfg_write(tb, d.devfn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    g_assert_cmpint(ioeventfd_probe(vm_fd, kick_addr), ==, 0);
    g_assert_cmpint(ioeventfd_probe(vm_fd, moved + d.notify), ==, EEXIST);
    d.bar = moved;

    /* Unmasking vector 1 routes its GSI to the table entry. */
    bring_up(&d, tb);
    g_assert_cmpuint(routes.addr, ==, MSI_ADDR(1));
    g_assert_cmpuint(routes.data, ==, MSI_DATA(1));
    g_assert_cmpuint(routes.gsi, ==, 24 + 1);

    /* A kick through the MMIO exit reaches the I/O thread via the eventfd;
     * the interrupt leaves through the irqfd, not the irqchip. */
    request(&d, 0);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (test_ring_used_idx(&d.ring) < 1 && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    g_assert_cmpuint(test_ring_used_idx(&d.ring), ==, 1);
    g_assert_cmpuint(tb->n_msi, ==, 0);

    /* Load into a second device on the same VM after a BAR move on the
     * first: its kick follows the loaded BAR, its route the loaded table. */
    msix_entry(&d, 1, true);
    test_io_write(&tb->mmio, d.bar + d.msix_table + 16 + 8, 4, 0x77);
    test_io_write(&tb->mmio, d.bar + d.msix_table + 16 + 12, 4, 0);
    g_assert_cmpuint(routes.data, ==, 0x77);
    g_autoptr(GByteArray) saved = test_save(dev);
    hgr_device_free(dev);
    g_assert_cmpint(ioeventfd_probe(vm_fd, moved + d.notify), ==, 0);   /* released */

    Routes routes2 = { .next_gsi = 40, .refuse = true };
    TestBoard *tb2 = kvm_board(vm_fd, &routes2, tb->ram);
    HgrDevice *dev2 = hgr_virtio_pci_new("virtio-rng.0", hgr_virtio_rng_new(&tb2->mem, io));
    g_assert_true(dev2->ops->realize(dev2, &tb2->board, NULL));
    g_assert_true(test_load(dev2, saved, NULL));
    g_assert_cmpint(ioeventfd_probe(vm_fd, moved + d.notify), ==, EEXIST);
    g_assert_cmpuint(routes2.gsi, ==, 40 + 1);
    g_assert_cmpuint(routes2.data, ==, 0x77);
    /* KVM refused that route (routes2.refuse): interrupts still arrive,
     * through the irqchip. */
    d.tb = tb2;
    request(&d, 1);
    deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (tb2->n_msi < 1 && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    g_assert_cmpuint(tb2->n_msi, ==, 1);
    g_assert_cmphex(tb2->msi[0].data, ==, 0x77);

    hgr_device_free(dev2);
    hgr_iothread_free(io);
    test_board_free(tb2, false);
    test_board_free(tb, true);
    close(vm_fd);
    close(kvm);
}

#define ADD(path, fn) g_test_add("/vmm/virtio-pci/" path, Fixture, NULL, setup, fn, teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);    /* NEEDS_RESET warns, as it should */
    ADD("linux-bring-up", test_linux_bring_up);
    ADD("features-refused", test_features_refused);
    ADD("queue-select-out-of-range", test_queue_select_out_of_range);
    ADD("queue-writes-after-enable", test_queue_writes_after_enable);
    ADD("queue-writes-after-driver-ok", test_queue_writes_after_driver_ok);
    ADD("queue-size-refused", test_queue_size_refused);
    ADD("vector-out-of-range", test_vector_out_of_range);
    ADD("msix-mask-pending", test_msix_mask_pending);
    ADD("pci-cfg-window", test_pci_cfg_window);
    ADD("reset-mid-io", test_reset_mid_io);
    ADD("save-load-roundtrip", test_save_load_roundtrip);
    ADD("load-tampered", test_load_tampered);
    ADD("load-truncated", test_load_truncated);
    ADD("lspci-decodes-config", test_lspci_decodes_config);
    g_test_add_func("/vmm/virtio-pci/kvm-ioeventfd-irqfd", test_kvm_ioeventfd_irqfd);
    return g_test_run();
}
