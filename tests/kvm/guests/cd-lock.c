/* cd-lock.c — a 64-bit guest that uses the CD-ROM drive the way an OS
 * driver does, to show what a guest sees of a disc change: it finds the
 * AHCI controller and its ATAPI port, locks the tray (PREVENT ALLOW MEDIUM
 * REMOVAL), then polls TEST UNIT READY for ever and says each change of
 * the answer on COM1 ("tur K", K the sense key: 0 ready, 2 no disc, 6 the
 * disc changed), and the disc's last sector (READ CAPACITY, "cap N")
 * whenever it is ready again. */
#include "guest-lib.h"

#define ABAR      0xc8000000u
#define CLB       0x500000u        /* command list, 1 KiB aligned */
#define FB        0x501000u        /* received FISes */
#define CTBA      0x502000u        /* command table */
#define DATA      0x503000u        /* data-in buffer */
#define SIG_ATAPI 0xeb140101u

enum { P_CLB = 0x00, P_CLBU = 0x04, P_FB = 0x08, P_FBU = 0x0c, P_IS = 0x10, P_CMD = 0x18,
       P_TFD = 0x20, P_SIG = 0x24, P_SERR = 0x30, P_CI = 0x38 };

static uint32_t port;               /* its registers' address */

static uint32_t reg(unsigned r) { return MMIO(uint32_t, port + r); }
static void set(unsigned r, uint32_t v) { MMIO(uint32_t, port + r) = v; }

static int find_cd(void)
{
    for (unsigned dev = 1; dev < 32; dev++) {
        if (pci_read(dev, 0) == 0xffffffffu || (pci_read(dev, 0x08) >> 16) != 0x0106)
            continue;
        pci_write(dev, 0x24, ABAR);
        pci_write(dev, 0x04, 0x6);                  /* memory decode + bus master */
        MMIO(uint32_t, ABAR + 0x04) = 1u << 31;     /* GHC.AE */
        uint32_t pi = MMIO(uint32_t, ABAR + 0x0c);
        for (unsigned i = 0; i < 32; i++) {
            port = ABAR + 0x100 + 0x80 * i;
            if ((pi >> i & 1) && reg(P_SIG) == SIG_ATAPI)
                return 1;
        }
    }
    return 0;
}

static void start_port(void)
{
    set(P_CMD, 0);
    set(P_CLB, CLB);
    set(P_CLBU, 0);
    set(P_FB, FB);
    set(P_FBU, 0);
    set(P_SERR, ~0u);
    set(P_IS, ~0u);
    set(P_CMD, 1u << 4);                            /* FRE */
    set(P_CMD, 1u << 4 | 1u << 0);                  /* and ST */
}

/* Runs one ATAPI packet in slot 0, data_len bytes in (0: none); returns
 * the sense key of a CHECK CONDITION, 0 when it went well. */
static unsigned packet(const uint8_t *cdb, uint32_t data_len)
{
    volatile uint32_t *hdr = (uint32_t *)CLB;
    volatile uint8_t *t = (uint8_t *)CTBA;

    for (unsigned i = 0; i < 0x90; i++)
        t[i] = 0;
    t[0] = 0x27;                                    /* H2D register FIS */
    t[1] = 0x80;                                    /* a command */
    t[2] = 0xa0;                                    /* PACKET */
    t[5] = (uint8_t)data_len;                       /* byte count limit */
    t[6] = (uint8_t)(data_len >> 8);
    for (unsigned i = 0; i < 12; i++)
        t[0x40 + i] = cdb[i];
    if (data_len) {
        volatile uint32_t *prd = (uint32_t *)(CTBA + 0x80);
        prd[0] = DATA;
        prd[1] = 0;
        prd[2] = 0;
        prd[3] = data_len - 1;
    }
    hdr[0] = 5 | 1u << 5 | (data_len ? 1u << 16 : 0);   /* 5-dword FIS, ATAPI, PRDs */
    hdr[1] = 0;
    hdr[2] = CTBA;
    hdr[3] = 0;
    set(P_IS, ~0u);
    set(P_CI, 1);
    while (reg(P_CI) & 1)
        ;
    uint32_t tfd = reg(P_TFD);
    return tfd & 1 ? (tfd >> 12) & 0xf : 0;
}

static uint32_t be32(const volatile uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

__attribute__((section(".text.entry"))) void _start(void)
{
    static const uint8_t lock[12] = { 0x1e, 0, 0, 0, 1 };
    static const uint8_t tur[12] = { 0x00 };
    static const uint8_t capacity[12] = { 0x25 };

    puts("cd-lock: start\n");
    if (!find_cd()) {
        puts("cd-lock: no ATAPI drive\n");
        poweroff();
    }
    start_port();
    /* The first command after power-on hears of the disc put in (UNIT
     * ATTENTION): a driver asks again. */
    unsigned key = packet(lock, 0);
    for (int i = 0; i < 4 && key == 6; i++)
        key = packet(lock, 0);
    puts(key ? "cd-lock: lock refused\n" : "cd-lock: locked\n");
    unsigned last = 0xff;
    for (;;) {
        key = packet(tur, 0);
        if (key == last)
            continue;
        last = key;
        puts("cd-lock: tur ");
        puthex(key, 1);
        putc('\n');
        if (key == 0 && packet(capacity, 8) == 0) {
            puts("cd-lock: cap ");
            puthex(be32((uint8_t *)DATA), 8);
            putc('\n');
        }
    }
}
