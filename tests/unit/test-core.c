/* test-core.c — guest memory bounds, the I/O bus, the state stream and
 * the VM's configuration as hgr_vm_new() checks it. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "core/io-bus.h"
#include "core/iothread.h"
#include "core/memory.h"
#include "core/state.h"
#include "core/vm-private.h"

static void test_mem_bounds(void)
{
    static uint8_t ram[1 << 16];
    HgrGuestMem mem;

    hgr_mem_init_pc(&mem, ram, sizeof(ram));
    g_assert_nonnull(hgr_mem_ptr(&mem, 0, sizeof(ram)));
    g_assert_null(hgr_mem_ptr(&mem, 1, sizeof(ram)));
    g_assert_null(hgr_mem_ptr(&mem, UINT64_MAX, 2));
    g_assert_null(hgr_mem_ptr(&mem, 16, UINT64_MAX - 8));
    g_assert_nonnull(hgr_mem_ptr(&mem, sizeof(ram), 0));
    uint8_t buf[8];
    g_assert_false(hgr_mem_read(&mem, sizeof(ram) - 4, buf, 8));
    g_assert_false(hgr_mem_read(&mem, UINT64_MAX - 3, buf, 8));
    g_assert_true(hgr_mem_write(&mem, 100, "hangar", 6));
    g_assert_cmpmem(ram + 100, 6, "hangar", 6);
}

static void test_mem_high_split(void)
{
    /* 3 GiB + 8 KiB of "RAM": the last 8 KiB live at 4 GiB. Only the page
     * table of this mapping is touched. */
    uint64_t size = HGR_LOWMEM_LIMIT + 8192;
    HgrGuestMem mem;
    uint8_t *fake = (uint8_t *)0x10000;   /* never dereferenced */
    struct iovec iov_probe[4];
    unsigned n_probe = 0;

    hgr_mem_init_pc(&mem, fake, size);
    g_assert_cmpuint(mem.n_regions, ==, 3);
    g_assert_null(hgr_mem_ptr(&mem, HGR_VGA_WINDOW_BASE, 1));   /* the VGA window */
    g_assert_true(hgr_mem_ptr(&mem, HGR_VGA_WINDOW_END, 1) == fake + HGR_VGA_WINDOW_END);
    g_assert_false(hgr_mem_iov(&mem, HGR_VGA_WINDOW_BASE - 16, 32, iov_probe, &n_probe, 4));
    g_assert_cmphex(mem.regions[2].gpa, ==, HGR_HIGHMEM_BASE);
    g_assert_true(hgr_mem_ptr(&mem, HGR_HIGHMEM_BASE, 4096) == fake + HGR_LOWMEM_LIMIT);
    g_assert_null(hgr_mem_ptr(&mem, HGR_LOWMEM_LIMIT, 1));   /* the hole */
    struct iovec iov[4];
    unsigned n = 0;
    g_assert_false(hgr_mem_iov(&mem, HGR_LOWMEM_LIMIT - 4096, 8192, iov, &n, 4));
    g_assert_cmphex(hgr_mem_top(&mem), ==, HGR_HIGHMEM_BASE + 8192);
}

static unsigned hits;
static void count_fn(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool w)
{
    hits++;
    if (!w)
        hgr_io_put(data, len, off);
}

static void test_io_bus(void)
{
    HgrIoBus bus = {0};
    uint8_t d[4];

    g_assert_true(hgr_io_bus_register(&bus, 0x3f8, 8, count_fn, NULL, "a"));
    g_assert_false(hgr_io_bus_register(&bus, 0x3fc, 8, count_fn, NULL, "overlap"));
    g_assert_false(hgr_io_bus_register(&bus, 0x3f0, 9, count_fn, NULL, "overlap"));
    g_assert_false(hgr_io_bus_register(&bus, UINT64_MAX - 1, 4, count_fn, NULL, "wrap"));
    g_assert_true(hgr_io_bus_register(&bus, 0x60, 1, count_fn, NULL, "b"));
    g_assert_true(hgr_io_bus_dispatch(&bus, 0x3fd, d, 1, false));
    g_assert_cmpuint(d[0], ==, 5);   /* offset, not address */
    g_assert_false(hgr_io_bus_dispatch(&bus, 0x400, d, 2, false));
    g_assert_cmpuint(d[0], ==, 0xff);
    g_assert_cmpuint(hits, ==, 1);
    hgr_io_bus_clear(&bus);
}

static void test_state_truncated_everywhere(void)
{
    g_autoptr(GByteArray) s = g_byte_array_new();
    const uint8_t payload[] = { 1, 2, 3, 4, 5 };
    hgr_state_write_section(s, "dev", 3, payload, sizeof(payload));

    for (size_t cut = 0; cut < s->len; cut++) {
        size_t pos = 0;
        HgrStateSection sec;
        g_autoptr(GError) err = NULL;
        g_assert_false(hgr_state_read_section(s->data, cut, &pos, &sec, &err));
        g_assert_nonnull(err);
    }
    for (size_t bit = 0; bit < s->len * 8; bit++) {
        g_autoptr(GByteArray) c = g_byte_array_new();
        g_byte_array_append(c, s->data, s->len);
        c->data[bit / 8] ^= 1 << (bit % 8);
        size_t pos = 0;
        HgrStateSection sec;
        g_autoptr(GError) err = NULL;
        g_assert_false(hgr_state_read_section(c->data, c->len, &pos, &sec, &err));
    }
    size_t pos = 0;
    HgrStateSection sec;
    g_assert_true(hgr_state_read_section(s->data, s->len, &pos, &sec, NULL));
    g_assert_cmpstr(sec.name, ==, "dev");
    g_assert_cmpuint(sec.version, ==, 3);
    g_assert_cmpmem(sec.data, sec.len, payload, sizeof(payload));
    g_assert_cmpuint(pos, ==, s->len);
}

static void test_visitor_roundtrip(void)
{
    struct { uint8_t a; uint16_t b; uint32_t c; uint64_t d; bool e; } x = { 1, 2, 3, 4, true }, y;
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(HgrVisitor) s = hgr_visitor_new_save(out);
    hgr_visit_u8(s, &x.a); hgr_visit_u16(s, &x.b); hgr_visit_u32(s, &x.c);
    hgr_visit_u64(s, &x.d); hgr_visit_bool(s, &x.e);
    g_assert_cmpuint(out->len, ==, 16);

    memset(&y, 0, sizeof(y));
    g_autoptr(HgrVisitor) l = hgr_visitor_new_load(out->data, out->len - 1);
    hgr_visit_u8(l, &y.a); hgr_visit_u16(l, &y.b); hgr_visit_u32(l, &y.c);
    hgr_visit_u64(l, &y.d); hgr_visit_bool(l, &y.e);
    g_assert_true(hgr_visitor_overrun(l));
    g_assert_false(y.e);
}

/* A stop right after a start must not be lost (it once hung shutdown). */
static void test_iothread_start_stop(void)
{
    HgrIoThread *t = hgr_iothread_new("test-io");
    for (int i = 0; i < 2000; i++) {
        hgr_iothread_start(t);
        hgr_iothread_stop(t);
    }
    hgr_iothread_free(t);
}

/* The UUID the guest will see is read in its text order, in either case. */
static void test_uuid_parse(void)
{
    static const uint8_t want[16] = { 0x4a, 0x1f, 0x09, 0xc2, 0x8b, 0x3e, 0x4d, 0x5a,
                                      0x9f, 0x61, 0x0c, 0x7e, 0x2b, 0x8d, 0x3a, 0x55 };
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    uint8_t got[16];

    memset(got, 0xee, sizeof(got));
    g_assert_true(hgr_vm_config_parse_uuid(c, got, NULL));
    g_assert_cmpmem(got, 16, (uint8_t[16]){ 0 }, 16);         /* unset: zeros */
    c->uuid = g_strdup("4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55");
    g_assert_true(hgr_vm_config_parse_uuid(c, got, NULL));
    g_assert_cmpmem(got, 16, want, 16);
    g_free(c->uuid);
    c->uuid = g_strdup("4A1F09C2-8B3E-4D5A-9F61-0C7E2B8D3A55");
    memset(got, 0xee, sizeof(got));
    g_assert_true(hgr_vm_config_parse_uuid(c, got, NULL));
    g_assert_cmpmem(got, 16, want, 16);
}

/* A malformed UUID is refused before anything is opened (no KVM needed:
 * the KVM path given does not exist), with the value named and the form
 * it should have. A good one gets past that check to KVM. */
static void test_vm_new_bad_uuid(void)
{
    static const char *const bad[] = {
        "",
        "4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a5",      /* a digit short */
        "4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a555",    /* a digit long */
        "4a1f09c28b3e4d5a9f610c7e2b8d3a55",         /* no dashes */
        "4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a5g",
        "{4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55}",
        "4a1f09c2-8b3e-4d5a-9f61-0c7e2b8d3a55\n",
        "my-machine",
    };
    g_autofree char *dir = g_dir_make_tmp("hgr-core-XXXXXX", NULL);
    g_autoptr(HgrVmConfig) c = hgr_vm_config_new();
    c->kvm_path = g_build_filename(dir, "no-kvm-here", NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_free(c->uuid);
        c->uuid = g_strdup(bad[i]);
        g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
        g_assert_null(vm);
        g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_CONFIG);
        g_autofree char *quoted = g_strdup_printf("'%s'", bad[i]);
        g_assert_nonnull(strstr(err->message, quoted));
        g_assert_nonnull(strstr(err->message, "8-4-4-4-12"));
    }
    g_autoptr(GError) err = NULL;
    g_free(c->uuid);
    c->uuid = g_strdup("4A1F09C2-8b3e-4d5a-9f61-0c7e2b8d3a55");
    g_autoptr(HgrVm) vm = hgr_vm_new(c, &err);
    g_assert_null(vm);
    g_assert_error(err, HGR_VM_ERROR, HGR_VM_ERROR_KVM_MISSING);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/memory/bounds", test_mem_bounds);
    g_test_add_func("/vmm/memory/high-split", test_mem_high_split);
    g_test_add_func("/vmm/io-bus/dispatch", test_io_bus);
    g_test_add_func("/vmm/state/truncated-and-flipped", test_state_truncated_everywhere);
    g_test_add_func("/vmm/state/visitor-overrun", test_visitor_roundtrip);
    g_test_add_func("/vmm/iothread/start-stop-race", test_iothread_start_stop);
    g_test_add_func("/vmm/config/uuid-parse", test_uuid_parse);
    g_test_add_func("/vmm/config/bad-uuid-refused", test_vm_new_bad_uuid);
    return g_test_run();
}
