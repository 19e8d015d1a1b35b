/* test-rtc-cmos.c — the clock as Linux's mc146818 code reads it, CMOS as
 * SeaBIOS reads it, and the three interrupts. */
#include <glib.h>

#include "hw/rtc-cmos.h"
#include "legacy-board.h"

#define IDX HGR_PC_RTC_PORT
#define DAT (HGR_PC_RTC_PORT + 1)
#define IRQ HGR_PC_RTC_IRQ
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

typedef LegacyFixture Fixture;

static void fixture_init(Fixture *f, uint64_t ram, HgrIoThread *t)
{
    legacy_fixture_init(f, hgr_rtc_cmos_new(ram), t);
}


static uint8_t cmos(Fixture *f, uint8_t idx)
{
    legacy_outb(&f->tb, IDX, idx);
    return legacy_inb(&f->tb, DAT);
}

static void cmos_set(Fixture *f, uint8_t idx, uint8_t v)
{
    legacy_outb(&f->tb, IDX, idx);
    legacy_outb(&f->tb, DAT, v);
}

static int field(Fixture *f, uint8_t v)
{
    return (cmos(f, 0x0b) & 0x04) ? v : (v >> 4) * 10 + (v & 0x0f);
}

/* mc146818_get_time(): wait out UIP, read, and retry if a second passed. */
static GDateTime *read_clock(Fixture *f, int *wday)
{
    for (int tries = 0; tries < 100; tries++) {
        if (cmos(f, 0x0a) & 0x80) {
            g_usleep(1000);
            continue;
        }
        uint8_t sec = cmos(f, 0x00), min = cmos(f, 0x02), hour = cmos(f, 0x04);
        uint8_t wd = cmos(f, 0x06), mday = cmos(f, 0x07), mon = cmos(f, 0x08);
        uint8_t year = cmos(f, 0x09), century = cmos(f, 0x32);
        if ((cmos(f, 0x0a) & 0x80) || cmos(f, 0x00) != sec)
            continue;
        int h;
        if (cmos(f, 0x0b) & 0x02)
            h = field(f, hour);
        else
            h = field(f, hour & 0x7f) % 12 + (hour & 0x80 ? 12 : 0);
        *wday = field(f, wd);
        return g_date_time_new_utc(field(f, century) * 100 + field(f, year), field(f, mon),
                                   field(f, mday), h, field(f, min), field(f, sec));
    }
    g_assert_not_reached();
}

static void assert_host_time(Fixture *f)
{
    int wday;
    g_autoptr(GDateTime) t = read_clock(f, &wday);
    gint64 host = g_get_real_time() / G_USEC_PER_SEC;

    g_assert_nonnull(t);
    g_assert_cmpint(ABS(g_date_time_to_unix(t) - host), <=, 2);
    g_assert_cmpint(wday, ==, g_date_time_get_day_of_week(t) % 7 + 1);   /* Sunday = 1 */
}

static void test_host_utc(void)
{
    Fixture f;
    fixture_init(&f, 512 * MIB, NULL);

    g_assert_cmphex(cmos(&f, 0x0b) & 0x06, ==, 0x02);    /* BCD, 24 h: what rtc-cmos wants */
    assert_host_time(&f);
    assert_host_time(&f);
    cmos_set(&f, 0x0b, 0x06);                            /* binary */
    assert_host_time(&f);
    cmos_set(&f, 0x0b, 0x04);                            /* binary, 12 h */
    assert_host_time(&f);
    cmos_set(&f, 0x0b, 0x00);                            /* BCD, 12 h */
    assert_host_time(&f);
    legacy_fixture_clear(&f);
}

static void test_register_d_and_index(void)
{
    Fixture f;
    fixture_init(&f, 512 * MIB, NULL);

    g_assert_cmphex(cmos(&f, 0x0d), ==, 0x80);           /* valid RAM and time */
    g_assert_cmphex(cmos(&f, 0x80 | 0x0d), ==, 0x80);    /* NMI mask bit is not index */
    cmos_set(&f, 0x80 | 0x40, 0x5a);
    g_assert_cmphex(cmos(&f, 0x40), ==, 0x5a);
    cmos_set(&f, 0x7f, 0xa5);
    g_assert_cmphex(cmos(&f, 0xff), ==, 0xa5);
    cmos_set(&f, 0x0d, 0x00);                            /* read-only */
    g_assert_cmphex(cmos(&f, 0x0d), ==, 0x80);
    cmos_set(&f, 0x0a, 0xff);                            /* UIP is read-only */
    g_assert_cmphex(cmos(&f, 0x0a) & 0x7f, ==, 0x7f);
    legacy_fixture_clear(&f);
}

/* SeaBIOS' reading of the memory-size bytes (src/fw/paravirt.c). */
static void seabios_ram(Fixture *f, uint64_t *below4g, uint64_t *above4g)
{
    uint64_t rs = (uint64_t)cmos(f, 0x34) << 16 | (uint64_t)cmos(f, 0x35) << 24;
    if (rs)
        rs += 16 * MIB;
    else
        rs = ((uint64_t)cmos(f, 0x30) << 10 | (uint64_t)cmos(f, 0x31) << 18) + MIB;
    *below4g = rs;
    *above4g = (uint64_t)cmos(f, 0x5b) << 16 | (uint64_t)cmos(f, 0x5c) << 24 |
               (uint64_t)cmos(f, 0x5d) << 32;
}

static void test_memory_size(void)
{
    const struct { uint64_t ram, below, above; } cases[] = {
        { 512 * MIB, 512 * MIB, 0 },
        { 6 * GIB, HGR_LOWMEM_LIMIT, 6 * GIB - HGR_LOWMEM_LIMIT },
        { 8 * MIB, 8 * MIB, 0 },
        { 3 * GIB, HGR_LOWMEM_LIMIT, 3 * GIB - HGR_LOWMEM_LIMIT },
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        Fixture f;
        uint64_t below, above;
        fixture_init(&f, cases[i].ram, NULL);
        seabios_ram(&f, &below, &above);
        g_assert_cmphex(below, ==, cases[i].below);
        g_assert_cmphex(above, ==, cases[i].above);
        g_assert_cmphex(cmos(&f, 0x30) | cmos(&f, 0x31) << 8, ==,
                        (MIN(cases[i].ram, 16 * MIB) - MIB) >> 10);
        legacy_fixture_clear(&f);
    }
}

static void test_set_time(void)
{
    Fixture f;
    fixture_init(&f, 512 * MIB, NULL);

    cmos_set(&f, 0x0b, 0x82);                            /* SET, BCD, 24 h */
    g_assert_false(cmos(&f, 0x0a) & 0x80);               /* no UIP while set */
    const uint8_t t[][2] = { { 0x00, 0x09 }, { 0x02, 0x08 }, { 0x04, 0x17 }, { 0x07, 0x06 },
                             { 0x08, 0x05 }, { 0x09, 0x31 }, { 0x32, 0x20 } };
    for (unsigned i = 0; i < G_N_ELEMENTS(t); i++)
        cmos_set(&f, t[i][0], t[i][1]);
    g_assert_cmphex(cmos(&f, 0x00), ==, 0x09);           /* frozen while SET */
    cmos_set(&f, 0x0b, 0x02);
    int wday;
    g_autoptr(GDateTime) want = g_date_time_new_utc(2031, 5, 6, 17, 8, 9);
    g_autoptr(GDateTime) got = read_clock(&f, &wday);
    g_assert_cmpint(g_date_time_to_unix(got) - g_date_time_to_unix(want), >=, 0);
    g_assert_cmpint(g_date_time_to_unix(got) - g_date_time_to_unix(want), <=, 2);
    g_assert_cmpint(wday, ==, 3);                        /* a Tuesday */

    /* Windows keeps local time: set the hour alone, it sticks. */
    cmos_set(&f, 0x04, 0x05);
    g_autoptr(GDateTime) got2 = read_clock(&f, &wday);
    g_assert_cmpint(g_date_time_get_hour(got2), ==, 5);
    g_assert_cmpint(g_date_time_get_year(got2), ==, 2031);

    /* Nonsense everywhere: the clock stays a clock. */
    cmos_set(&f, 0x0b, 0x82);
    for (uint8_t r = 0; r <= 0x09; r++)
        cmos_set(&f, r, 0xff);
    cmos_set(&f, 0x32, 0xff);
    cmos_set(&f, 0x0b, 0x02);
    g_autoptr(GDateTime) got3 = read_clock(&f, &wday);
    g_assert_nonnull(got3);
    g_assert_cmpint(g_date_time_get_year(got3), >=, 1970);
    g_assert_cmpint(g_date_time_get_year(got3), <=, 2099);
    legacy_fixture_clear(&f);
}

static void test_periodic_polled(void)
{
    Fixture f;
    fixture_init(&f, 512 * MIB, NULL);

    cmos(&f, 0x0c);
    cmos_set(&f, 0x0a, 0x26);                            /* 1024 Hz */
    g_usleep(5000);
    g_assert_cmphex(cmos(&f, 0x0c) & 0xc0, ==, 0x40);    /* PF without PIE: no IRQF */
    g_assert_false(legacy_board_line(&f.tb, IRQ));
    cmos_set(&f, 0x0b, 0x42);                            /* PIE */
    g_usleep(5000);
    cmos(&f, 0x0a);                                      /* any access catches up */
    g_assert_true(legacy_board_line(&f.tb, IRQ));
    g_assert_cmphex(cmos(&f, 0x0c) & 0xc0, ==, 0xc0);
    g_assert_false(legacy_board_line(&f.tb, IRQ));       /* reading C lowers it */
    cmos_set(&f, 0x0a, 0x20);                            /* rate 0: no more ticks */
    cmos(&f, 0x0c);
    g_usleep(5000);
    g_assert_cmphex(cmos(&f, 0x0c), ==, 0);
    legacy_fixture_clear(&f);
}

static void wait_line(Fixture *f, bool level, unsigned ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (legacy_board_line(&f->tb, IRQ) != level) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(500);
    }
}

static void test_interrupts_timed(void)
{
    HgrIoThread *t = hgr_iothread_new("rtc-test");
    hgr_iothread_start(t);
    Fixture f;
    fixture_init(&f, 512 * MIB, t);

    /* Update + an alarm that matches every second (all "don't care"). */
    cmos_set(&f, 0x0a, 0x20);                            /* no periodic flag in the way */
    cmos_set(&f, 0x01, 0xff);
    cmos_set(&f, 0x03, 0xff);
    cmos_set(&f, 0x05, 0xff);
    cmos(&f, 0x0c);
    cmos_set(&f, 0x0b, 0x32);                            /* AIE, UIE */
    wait_line(&f, true, 1500);                           /* by itself, nobody polls */
    g_assert_cmphex(cmos(&f, 0x0c), ==, 0xb0);
    g_assert_false(legacy_board_line(&f.tb, IRQ));

    /* An alarm two hours away does not fire on the next update. */
    int wday;
    g_autoptr(GDateTime) now = read_clock(&f, &wday);
    int h = (g_date_time_get_hour(now) + 2) % 24;
    cmos_set(&f, 0x05, (uint8_t)((h / 10) << 4 | h % 10));
    cmos_set(&f, 0x03, 0x00);
    cmos_set(&f, 0x01, 0x00);
    cmos(&f, 0x0c);
    wait_line(&f, true, 1500);
    g_assert_cmphex(cmos(&f, 0x0c), ==, 0x90);           /* UF only */

    /* Periodic at 1024 Hz, again without polling. */
    cmos_set(&f, 0x0a, 0x26);
    cmos_set(&f, 0x0b, 0x42);
    cmos(&f, 0x0c);
    wait_line(&f, true, 200);
    g_assert_true(cmos(&f, 0x0c) & 0x40);
    wait_line(&f, true, 200);

    f.dev->ops->pause(f.dev);
    cmos(&f, 0x0c);
    f.dev->ops->reset(f.dev);                            /* RESET clears the enables */
    g_assert_cmphex(cmos(&f, 0x0b) & 0x70, ==, 0);
    f.dev->ops->resume(f.dev);
    legacy_fixture_clear(&f);
    hgr_iothread_free(t);
}

static void test_save_load(void)
{
    Fixture f, g;
    fixture_init(&f, 512 * MIB, NULL);
    fixture_init(&g, 2 * GIB, NULL);

    cmos_set(&f, 0x0b, 0x86);
    cmos_set(&f, 0x09, 31);
    cmos_set(&f, 0x32, 20);
    cmos_set(&f, 0x0b, 0x06);                            /* binary, the year is now 2031 */
    cmos_set(&f, 0x50, 0x77);
    cmos_set(&f, 0x0a, 0x26);
    cmos_set(&f, 0x0b, 0x46);                            /* PIE */
    g_usleep(3000);
    cmos(&f, 0x0a);
    g_assert_true(legacy_board_line(&f.tb, IRQ));
    legacy_outb(&f.tb, IDX, 0x0d);
    legacy_roundtrip(f.dev, g.dev);

    g_assert_true(legacy_board_line(&g.tb, IRQ));
    g_assert_cmphex(legacy_inb(&g.tb, DAT), ==, 0x80);   /* the index came along */
    g_assert_cmphex(cmos(&g, 0x50), ==, 0x77);
    g_assert_cmphex(cmos(&g, 0x34), ==, cmos(&f, 0x34)); /* CMOS is the saved one */
    int wday;
    g_autoptr(GDateTime) t = read_clock(&g, &wday);
    g_assert_cmpint(g_date_time_get_year(t), ==, 2031);

    legacy_truncated_load_fails(f.dev, g.dev, false);
    g_assert_false(legacy_load_forged(f.dev, g.dev, 136, 0x7f));   /* offset: centuries */
    g_assert_false(legacy_load_forged(f.dev, g.dev, 136, 0x80));
    legacy_fixture_clear(&f);
    legacy_fixture_clear(&g);
}

/* Random bytes at random registers: no crash, register D stays valid, and
 * the clock reads back as a date it can hold. */
static void test_random_bytes(void)
{
    Fixture f;
    fixture_init(&f, 512 * MIB, NULL);
    g_autoptr(GRand) r = g_rand_new_with_seed(146818);

    for (unsigned i = 0; i < 100000; i++) {
        legacy_outb(&f.tb, IDX, (uint8_t)g_rand_int(r));
        if (g_rand_boolean(r))
            legacy_outb(&f.tb, DAT, (uint8_t)g_rand_int(r));
        else
            legacy_inb(&f.tb, DAT);
    }
    g_assert_cmphex(cmos(&f, 0x0d), ==, 0x80);
    cmos_set(&f, 0x0b, 0x02);
    int wday;
    g_autoptr(GDateTime) t = read_clock(&f, &wday);
    g_assert_nonnull(t);
    g_assert_cmpint(g_date_time_get_year(t), >=, 1800);
    g_assert_cmpint(g_date_time_get_year(t), <, 2200);
    legacy_fixture_clear(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/rtc/host-utc-bcd-and-binary", test_host_utc);
    g_test_add_func("/vmm/rtc/register-d-and-index-mask", test_register_d_and_index);
    g_test_add_func("/vmm/rtc/memory-size", test_memory_size);
    g_test_add_func("/vmm/rtc/set-time", test_set_time);
    g_test_add_func("/vmm/rtc/periodic-polled", test_periodic_polled);
    g_test_add_func("/vmm/rtc/interrupts-timed", test_interrupts_timed);
    g_test_add_func("/vmm/rtc/random-bytes", test_random_bytes);
    g_test_add_func("/vmm/rtc/save-load", test_save_load);
    return g_test_run();
}
