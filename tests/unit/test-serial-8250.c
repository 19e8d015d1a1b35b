/* test-serial-8250.c — the 16550A as Linux's 8250 driver probes and uses it. */
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chardev/chardev.h"
#include "hw/serial-8250.h"
#include "legacy-board.h"

#define BASE 0x3f8
#define IRQ  4
enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };
#define FCR IIR
#define EFR IIR
#define DLL RBR
#define DLM IER

typedef struct {
    LegacyBoard tb;
    HgrDevice *dev;
    HgrChardev *chr;
    int peer;                  /* the other end of the chardev's socketpair */
} Fixture;

static void fixture_init(Fixture *f)
{
    int sv[2];

    legacy_board_init(&f->tb);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    f->chr = hgr_chardev_new_fd(sv[0]);
    f->peer = sv[1];
    f->dev = hgr_serial_8250_new("com1", BASE, IRQ, f->chr);
    legacy_realize(&f->tb, f->dev);
}

static void fixture_clear(Fixture *f)
{
    hgr_device_free(f->dev);
    hgr_chardev_free(f->chr);
    close(f->peer);
    legacy_board_clear(&f->tb);
}

static uint8_t in(Fixture *f, unsigned reg)
{
    return legacy_inb(&f->tb, BASE + reg);
}

static void out(Fixture *f, unsigned reg, uint8_t v)
{
    legacy_outb(&f->tb, BASE + reg, v);
}

static bool irq_line(Fixture *f)
{
    return legacy_board_line(&f->tb, IRQ);
}

/* What the peer of the chardev has received so far. */
static GString *peer_output(Fixture *f)
{
    GString *s = g_string_new(NULL);
    char buf[256];
    ssize_t n;

    hgr_chardev_flush(f->chr);          /* not attached: output waits until asked */
    while ((n = recv(f->peer, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        g_string_append_len(s, buf, n);
    return s;
}

/* autoconfig() and serial8250_do_startup() in drivers/tty/serial/8250, in
 * order: each step a real 16550A passes and the wrong answer makes Linux
 * call the port something else (or nothing). */
static void test_linux_probe(void)
{
    Fixture f;
    fixture_init(&f);

    /* IER scratch test: the upper nibble is not there. */
    uint8_t save_ier = in(&f, IER);
    out(&f, IER, 0);
    g_assert_cmphex(in(&f, IER) & 0x0f, ==, 0);
    out(&f, IER, 0x0f);
    g_assert_cmphex(in(&f, IER) & 0x0f, ==, 0x0f);
    out(&f, IER, 0xff);
    g_assert_cmphex(in(&f, IER), ==, 0x0f);
    out(&f, IER, save_ier);

    /* Loopback: RTS and OUT2 come back as CTS and DCD. */
    uint8_t save_mcr = in(&f, MCR), save_lcr = in(&f, LCR);
    out(&f, MCR, 0x10 | 0x0a);
    g_assert_cmphex(in(&f, MSR) & 0xf0, ==, 0x90);
    out(&f, MCR, save_mcr);

    /* EFR write at LCR 0xbf, then FIFO detection through IIR bits 6-7. */
    out(&f, LCR, 0xbf);
    out(&f, EFR, 0);
    out(&f, LCR, 0);
    out(&f, FCR, 0x01);
    g_assert_cmpuint(in(&f, IIR) >> 6, ==, 3);

    /* autoconfig_16550a: no EFR behind LCR 0x80 or 0xbf (IIR reads nonzero). */
    out(&f, LCR, 0x80);
    g_assert_cmphex(in(&f, EFR), !=, 0);
    out(&f, LCR, 0xbf);
    g_assert_cmphex(in(&f, EFR), !=, 0);

    /* Not a National SuperIO: IIR bit 4 does not follow MCR LOOP at LCR 0xe0. */
    out(&f, LCR, 0);
    uint8_t status1 = in(&f, MCR);
    out(&f, LCR, 0xe0);
    uint8_t status2 = in(&f, 0x02);
    g_assert_false((status1 ^ status2) & 0x10);
    out(&f, LCR, 0);
    out(&f, MCR, status1 ^ 0x10);
    out(&f, LCR, 0xe0);
    status2 = in(&f, 0x02);
    out(&f, LCR, 0);
    out(&f, MCR, status1);
    g_assert_false((status1 ^ status2) & 0x10);

    /* Not a 16750: the 64-byte FIFO bit never shows in IIR bit 5. */
    out(&f, LCR, 0);
    out(&f, FCR, 0x01 | 0x20);
    status1 = in(&f, IIR) >> 5;
    out(&f, FCR, 0x01);
    out(&f, LCR, 0x80);
    out(&f, FCR, 0x01 | 0x20);
    status2 = in(&f, IIR) >> 5;
    out(&f, FCR, 0x01);
    out(&f, LCR, 0);
    g_assert_cmpuint(status1, ==, 6);
    g_assert_cmpuint(status2, ==, 6);

    /* Not an XScale: IER bit 6 does not stick. */
    out(&f, IER, 0x40);
    g_assert_false(in(&f, IER) & 0x40);

    out(&f, LCR, save_lcr);
    /* serial8250_clear_fifos, then startup's LSR safety check. */
    out(&f, FCR, 0x01);
    out(&f, FCR, 0x07);
    out(&f, FCR, 0);
    in(&f, RBR);
    out(&f, IER, 0);
    g_assert_cmphex(in(&f, LSR), !=, 0xff);
    g_assert_cmphex(in(&f, LSR), ==, 0x60);

    /* THRE test: enabling THRI raises THRE again after an IIR read took it
     * (else Linux sets UART_BUG_THRE and polls the transmitter). */
    out(&f, IER, 0x02);
    uint8_t iir1 = in(&f, IIR);
    out(&f, IER, 0);
    out(&f, IER, 0x02);
    uint8_t iir = in(&f, IIR);
    out(&f, IER, 0);
    g_assert_cmphex(iir1 & 0x0f, ==, 0x02);
    g_assert_cmphex(iir & 0x0f, ==, 0x02);

    /* The TXEN test after MCR is set: THRI with an empty transmitter
     * reports an interrupt. */
    out(&f, LCR, 0x03);
    out(&f, MCR, 0x0b);
    out(&f, IER, 0x02);
    uint8_t lsr = in(&f, LSR);
    iir = in(&f, IIR);
    out(&f, IER, 0);
    g_assert_true(lsr & 0x40);
    g_assert_false(iir & 0x01);
    fixture_clear(&f);
}

static void test_divisor(void)
{
    Fixture f;
    fixture_init(&f);

    out(&f, LCR, 0x83);
    out(&f, DLL, 0x01);
    out(&f, DLM, 0x00);
    g_assert_cmphex(in(&f, DLL), ==, 0x01);
    g_assert_cmphex(in(&f, DLM), ==, 0x00);
    out(&f, DLL, 0x80);
    out(&f, DLM, 0x01);
    g_assert_cmphex(in(&f, DLL) | in(&f, DLM) << 8, ==, 0x180);   /* 300 baud */
    out(&f, LCR, 0x03);
    /* Programming the divisor neither transmits nor touches IER. */
    g_assert_cmphex(in(&f, IER), ==, 0);
    g_autoptr(GString) got = peer_output(&f);
    g_assert_cmpuint(got->len, ==, 0);
    out(&f, RBR, 'A');
    g_autoptr(GString) got2 = peer_output(&f);
    g_assert_cmpstr(got2->str, ==, "A");
    fixture_clear(&f);
}

static void test_lsr_after_write(void)
{
    Fixture f;
    fixture_init(&f);

    out(&f, LCR, 0x03);
    out(&f, FCR, 0x07);
    const char *msg = "Linux version 6.1\r\n";
    for (const char *p = msg; *p; p++) {
        out(&f, RBR, (uint8_t)*p);
        /* The console driver waits for THRE|TEMT after every byte. */
        g_assert_cmphex(in(&f, LSR) & 0x60, ==, 0x60);
    }
    g_autoptr(GString) got = peer_output(&f);
    g_assert_cmpstr(got->str, ==, msg);
    fixture_clear(&f);
}

static void test_iir_priorities(void)
{
    Fixture f;
    fixture_init(&f);

    out(&f, FCR, 0x01);              /* FIFO on, trigger 1 */
    out(&f, MCR, 0x10);              /* loopback */
    g_assert_cmphex(in(&f, MSR), ==, 0x0b);     /* CTS, DSR, DCD dropped */
    for (int i = 0; i < 17; i++)     /* one more than fits: overrun */
        out(&f, RBR, (uint8_t)i);
    out(&f, MCR, 0x10 | 0x02);       /* RTS -> CTS change: a modem delta */
    out(&f, IER, 0x0f);

    g_assert_cmphex(in(&f, IIR), ==, 0xc6);     /* line status first */
    g_assert_cmphex(in(&f, IIR), ==, 0xc6);     /* IIR read does not clear it */
    uint8_t lsr = in(&f, LSR);
    g_assert_cmphex(lsr & 0x03, ==, 0x03);      /* OE and DR */
    g_assert_cmphex(in(&f, LSR) & 0x02, ==, 0); /* OE cleared by the read */
    g_assert_cmphex(in(&f, IIR), ==, 0xc4);     /* received data */
    for (int i = 0; i < 16; i++)
        g_assert_cmpuint(in(&f, RBR), ==, (unsigned)i);
    g_assert_cmphex(in(&f, LSR) & 0x01, ==, 0);
    g_assert_cmphex(in(&f, IIR), ==, 0xc2);     /* THRE, taken by this read */
    g_assert_cmphex(in(&f, IIR), ==, 0xc0);     /* modem status */
    g_assert_cmphex(in(&f, MSR) & 0x0f, ==, 0x01);
    g_assert_cmphex(in(&f, IIR), ==, 0xc1);     /* nothing */

    /* THRE is not taken by an IIR read that reported something else. */
    out(&f, RBR, 'x');               /* loopback: data and THRE */
    g_assert_cmphex(in(&f, IIR), ==, 0xc4);
    in(&f, RBR);
    g_assert_cmphex(in(&f, IIR), ==, 0xc2);
    g_assert_cmphex(in(&f, IIR), ==, 0xc1);
    out(&f, RBR, 'y');               /* writing THR arms it again */
    in(&f, RBR);
    g_assert_cmphex(in(&f, IIR), ==, 0xc2);

    /* Below the trigger level the FIFO reports a character timeout. */
    out(&f, IER, 0x01);
    out(&f, FCR, 0xc1);              /* trigger 14 */
    for (int i = 0; i < 3; i++)
        out(&f, RBR, 'a');
    g_assert_cmphex(in(&f, IIR), ==, 0xcc);
    for (int i = 0; i < 11; i++)
        out(&f, RBR, 'b');
    g_assert_cmphex(in(&f, IIR), ==, 0xc4);
    out(&f, FCR, 0xc3);              /* clear RX */
    g_assert_cmphex(in(&f, IIR), ==, 0xc1);
    g_assert_cmphex(in(&f, LSR) & 0x01, ==, 0);

    /* Without FIFOs, IIR bits 6-7 are clear and data is plain RDI. */
    out(&f, FCR, 0);
    out(&f, RBR, 'z');
    g_assert_cmphex(in(&f, IIR), ==, 0x04);
    fixture_clear(&f);
}

static void test_irq_out2(void)
{
    Fixture f;
    fixture_init(&f);

    out(&f, IER, 0x02);              /* THRE pending at once */
    g_assert_false(irq_line(&f));    /* but OUT2 gates it off */
    g_assert_cmphex(in(&f, IIR), ==, 0x02);       /* pending inside the UART */
    out(&f, IER, 0);
    out(&f, IER, 0x02);
    out(&f, MCR, 0x08);
    g_assert_true(irq_line(&f));
    in(&f, IIR);                     /* takes THRE */
    g_assert_false(irq_line(&f));
    unsigned raises = f.tb.raises[IRQ];
    out(&f, RBR, 'q');               /* every byte sent raises THRE again */
    g_assert_true(irq_line(&f));
    g_assert_cmpuint(f.tb.raises[IRQ], ==, raises + 1);
    out(&f, RBR, 'r');               /* a fresh edge, not a stuck level */
    g_assert_cmpuint(f.tb.raises[IRQ], ==, raises + 2);
    out(&f, MCR, 0x00);
    g_assert_false(irq_line(&f));
    /* set_line is only called when the level changes: never twice the same. */
    g_assert_cmpuint(f.tb.calls[IRQ], ==, 2 * f.tb.raises[IRQ]);
    fixture_clear(&f);
}

static void wait_for_dr(Fixture *f)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (!(in(f, LSR) & 0x01)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(200);
    }
}

static void test_rx_chardev(void)
{
    Fixture f;
    fixture_init(&f);
    HgrIoThread *t = hgr_iothread_new("serial-test");
    hgr_chardev_attach(f.chr, t);
    hgr_iothread_start(t);

    out(&f, FCR, 0x01);
    out(&f, IER, 0x01);
    out(&f, MCR, 0x08);
    uint8_t sent[300];
    for (unsigned i = 0; i < sizeof(sent); i++)
        sent[i] = (uint8_t)(i * 7);
    g_assert_cmpint(write(f.peer, sent, sizeof(sent)), ==, sizeof(sent));

    /* The guest is slow: the chardev waits for room, nothing overruns. */
    wait_for_dr(&f);
    g_usleep(20000);
    g_assert_true(irq_line(&f));
    uint8_t got[sizeof(sent)];
    unsigned n = 0;
    while (n < sizeof(sent)) {
        wait_for_dr(&f);
        uint8_t lsr;
        while ((lsr = in(&f, LSR)) & 0x01) {
            g_assert_false(lsr & 0x02);
            g_assert_cmpuint(n, <, sizeof(sent));
            got[n++] = in(&f, RBR);
        }
    }
    g_assert_cmpmem(got, n, sent, sizeof(sent));
    g_assert_false(irq_line(&f));

    /* Without FIFOs the holding register takes one byte at a time. */
    out(&f, FCR, 0);
    g_assert_cmpint(write(f.peer, "hello", 5), ==, 5);
    char word[6] = { 0 };
    for (int i = 0; i < 5; i++) {
        wait_for_dr(&f);
        g_assert_false(in(&f, LSR) & 0x02);
        word[i] = (char)in(&f, RBR);
    }
    g_assert_cmpstr(word, ==, "hello");

    /* Overflow (the receiver fed faster than read): OE, FIFO kept. */
    out(&f, FCR, 0x01);
    out(&f, MCR, 0x18);
    for (int i = 0; i < 40; i++)
        out(&f, RBR, (uint8_t)('A' + i));
    g_assert_cmphex(in(&f, LSR) & 0x03, ==, 0x03);
    for (int i = 0; i < 16; i++)
        g_assert_cmpuint(in(&f, RBR), ==, (unsigned)('A' + i));
    g_assert_cmphex(in(&f, LSR) & 0x03, ==, 0);

    /* Input waiting during loopback arrives once loopback ends. */
    g_assert_cmpint(write(f.peer, "!", 1), ==, 1);
    g_usleep(20000);
    g_assert_false(in(&f, LSR) & 0x01);
    out(&f, MCR, 0x08);
    wait_for_dr(&f);
    g_assert_cmpuint(in(&f, RBR), ==, '!');

    hgr_iothread_stop(t);
    fixture_clear(&f);
    hgr_iothread_free(t);
}

/* Every register written alone, in every order of the eight, with all-ones
 * and then with a mixed value: nothing crashes, LSR never reads as absent,
 * the line always agrees with IIR and OUT2. */
static void check_consistent(Fixture *f)
{
    uint8_t mcr = in(f, MCR);
    bool line = irq_line(f);
    uint8_t iir = in(f, IIR);
    g_assert_cmphex(in(f, LSR), !=, 0xff);
    g_assert_cmpuint(line, ==, !(iir & 0x01) && (mcr & 0x08));
}

static void permute(Fixture *f, unsigned *regs, unsigned k, uint8_t value)
{
    if (k == 8) {
        hgr_device_free(f->dev);
        hgr_io_bus_clear(&f->tb.pio);
        f->tb.level[IRQ] = false;
        f->dev = hgr_serial_8250_new("com1", BASE, IRQ, NULL);
        legacy_realize(&f->tb, f->dev);
        for (unsigned i = 0; i < 8; i++) {
            out(f, regs[i], value);
            check_consistent(f);
        }
        for (unsigned i = 0; i < 8; i++)
            in(f, regs[i]);
        check_consistent(f);
        return;
    }
    for (unsigned i = k; i < 8; i++) {
        unsigned tmp = regs[k]; regs[k] = regs[i]; regs[i] = tmp;
        permute(f, regs, k + 1, value);
        tmp = regs[k]; regs[k] = regs[i]; regs[i] = tmp;
    }
}

static void test_every_order(void)
{
    Fixture f;
    unsigned regs[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };

    fixture_init(&f);
    permute(&f, regs, 0, 0xff);
    permute(&f, regs, 0, 0x5b);
    /* Wide accesses, and accesses that run off the end of the range. */
    legacy_out(&f.tb, BASE + 6, 0xffffffff, 4);
    g_assert_cmphex(legacy_in(&f.tb, BASE + 6, 4) >> 16, ==, 0xffff);
    fixture_clear(&f);
}

static void test_save_load(void)
{
    Fixture f, g;
    fixture_init(&f);
    fixture_init(&g);

    out(&f, LCR, 0x83);
    out(&f, DLL, 0x01);
    out(&f, LCR, 0x03);
    out(&f, FCR, 0x81);
    out(&f, SCR, 0x5a);
    out(&f, MCR, 0x1b);
    out(&f, RBR, 'h');
    out(&f, RBR, 'i');
    out(&f, IER, 0x0f);
    legacy_roundtrip(f.dev, g.dev);

    /* The restored UART behaves like the saved one, line included. */
    g_assert_true(irq_line(&g));
    g_assert_cmphex(in(&g, SCR), ==, 0x5a);
    g_assert_cmphex(in(&g, IIR), ==, in(&f, IIR));
    g_assert_cmpuint(in(&g, RBR), ==, 'h');
    g_assert_cmpuint(in(&g, RBR), ==, 'i');
    g_assert_cmphex(in(&g, LSR), ==, 0x60);
    out(&g, LCR, 0x83);
    g_assert_cmphex(in(&g, DLL), ==, 0x01);

    legacy_truncated_load_fails(f.dev, g.dev, true);

    /* Hostile sections: a FIFO count past 16, a THRE that says busy. */
    const struct { size_t off; uint8_t val; } bad[] = {
        { 10, 17 },        /* rx_count */
        { 5, 0x01 },       /* lsr: neither THRE nor TEMT */
        { 2, 0xf0 },       /* ier reserved bits */
        { 8, 0x02 },       /* fcr without enable */
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++)
        g_assert_false(legacy_load_forged(f.dev, g.dev, bad[i].off, bad[i].val));
    g_assert_true(legacy_load_forged(f.dev, g.dev, 7, 0xa5));     /* scratch: anything */
    g_assert_cmphex(in(&g, SCR), ==, 0xa5);
    fixture_clear(&f);
    fixture_clear(&g);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmm/serial/linux-probe", test_linux_probe);
    g_test_add_func("/vmm/serial/divisor", test_divisor);
    g_test_add_func("/vmm/serial/lsr-after-write", test_lsr_after_write);
    g_test_add_func("/vmm/serial/iir-priorities", test_iir_priorities);
    g_test_add_func("/vmm/serial/irq-needs-out2", test_irq_out2);
    g_test_add_func("/vmm/serial/rx-from-chardev", test_rx_chardev);
    g_test_add_func("/vmm/serial/every-register-every-order", test_every_order);
    g_test_add_func("/vmm/serial/save-load", test_save_load);
    return g_test_run();
}
