/* ata-disk.c — a SATA disk behind an AHCI port: the ATA command set
 * (ACS) subset Linux, Windows and SeaBIOS use. Data moves through the
 * command's PRDT whatever the protocol, so the PIO reads and writes are the
 * DMA ones with a PIO setup FIS. */
#include <string.h>

#include "../virtio/virtqueue.h"
#include "ahci-drive.h"

enum {
    ATA_DSM = 0x06, ATA_DEVICE_RESET = 0x08, ATA_RECALIBRATE = 0x10,
    ATA_READ_PIO = 0x20, ATA_READ_PIO_EXT = 0x24, ATA_READ_DMA_EXT = 0x25,
    ATA_WRITE_PIO = 0x30, ATA_WRITE_PIO_EXT = 0x34, ATA_WRITE_DMA_EXT = 0x35,
    ATA_VERIFY = 0x40, ATA_VERIFY_EXT = 0x42, ATA_INIT_PARAMS = 0x91,
    ATA_PACKET = 0xa0, ATA_IDENTIFY_PACKET = 0xa1, ATA_SET_MULTIPLE = 0xc6,
    ATA_READ_DMA = 0xc8, ATA_WRITE_DMA = 0xca, ATA_STANDBY_IMM = 0xe0, ATA_IDLE_IMM = 0xe1,
    ATA_READ_LOG_EXT = 0x2f, ATA_READ_LOG_DMA_EXT = 0x47, ATA_READ_FPDMA = 0x60,
    ATA_WRITE_FPDMA = 0x61, ATA_STANDBY = 0xe2, ATA_IDLE = 0xe3, ATA_CHECK_POWER = 0xe5,
    ATA_FLUSH = 0xe7, ATA_FLUSH_EXT = 0xea, ATA_IDENTIFY = 0xec, ATA_SET_FEATURES = 0xef,
};

#define MAX_MULTIPLE    16
#define LBA28_MAX       0x0fffffffull
#define XFER_UDMA5      0x45
#define NCQ_DEPTH       32
#define LOG_NCQ_ERROR   0x10
#define DSM_TRIM        0x01
#define DSM_RANGES      (ATA_SECTOR / 8)    /* one block of ranges per command */

void hgr_ata_put_string(uint16_t *words, const char *s, unsigned n_words)
{
    size_t len = strlen(s);

    for (unsigned i = 0; i < n_words; i++) {
        uint8_t hi = 2 * i < len ? (uint8_t)s[2 * i] : ' ';
        uint8_t lo = 2 * i + 1 < len ? (uint8_t)s[2 * i + 1] : ' ';
        words[i] = (uint16_t)(hi << 8 | lo);
    }
}

void hgr_ata_disk_reset(AhciDrive *d)
{
    d->st = (AhciDriveState){ .xfer_mode = XFER_UDMA5, .write_cache = true };
}

/* The IDENTIFY words a disk and a CD drive share: strings, transfer modes,
 * SATA Gen1, ACS. */
void hgr_ata_identify_common(const AhciDrive *d, uint16_t w[256], const char *model)
{
    uint8_t mode = d->st.xfer_mode;

    hgr_ata_put_string(&w[10], d->serial, 10);
    hgr_ata_put_string(&w[23], "1.0", 4);
    hgr_ata_put_string(&w[27], model, 20);
    w[49] = 0x0b00;                                 /* LBA, DMA, IORDY */
    w[53] = 0x0007;                                 /* words 54-58, 64-70 and 88 valid */
    w[63] = 0x0007 | ((mode & 0xf8) == 0x20 ? 0x100 << (mode & 7) : 0);
    w[64] = 0x0003;                                 /* PIO 3 and 4 */
    w[65] = w[66] = w[67] = w[68] = 120;
    w[76] = 0x0002;                                 /* SATA Gen1 */
    w[80] = 0x01f0;                                 /* ATA-4 to ACS (ATA-8) */
    w[88] = 0x003f | ((mode & 0xf8) == 0x40 ? 0x100 << (mode & 7) : 0);
}

/* Seals the words with the integrity word and sends them as PIO data-in. */
void hgr_ata_identify_reply(AhciCmd *c, uint16_t w[256])
{
    uint8_t buf[512], sum = 0;

    w[255] = 0x00a5;
    for (unsigned i = 0; i < 256; i++) {
        buf[2 * i] = (uint8_t)w[i];
        buf[2 * i + 1] = (uint8_t)(w[i] >> 8);
    }
    for (unsigned i = 0; i < 511; i++)
        sum += buf[i];
    buf[511] = (uint8_t)-sum;
    c->pio = true;
    if (!hgr_ahci_cmd_reply(c, buf, sizeof(buf)))
        return hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    hgr_ahci_cmd_done(c, ATA_ST_OK, 0);
}

static void identify(AhciDrive *d, AhciCmd *c)
{
    uint16_t w[256] = { 0 };
    uint64_t n = d->sectors;
    uint64_t chs = MIN(n, 16383ull * 16 * 63);

    hgr_ata_identify_common(d, w, "HANGAR HARDDISK");
    w[0] = 0x0040;                                  /* fixed disk */
    w[1] = (uint16_t)(chs / (16 * 63));
    w[3] = 16;
    w[6] = 63;
    w[47] = 0x8000 | MAX_MULTIPLE;
    w[50] = 0x4000;
    w[54] = w[1];
    w[55] = 16;
    w[56] = 63;
    w[57] = (uint16_t)chs;
    w[58] = (uint16_t)(chs >> 16);
    w[59] = 0x0100 | MAX_MULTIPLE;
    w[60] = (uint16_t)MIN(n, LBA28_MAX);
    w[61] = (uint16_t)(MIN(n, LBA28_MAX) >> 16);
    w[82] = 0x4060;                                 /* write cache, look-ahead, NOP */
    w[83] = 0x7400;                                 /* LBA48, FLUSH CACHE (EXT) */
    w[84] = 0x4000;
    w[85] = 0x4040 | (d->st.write_cache ? 0x20 : 0);
    w[75] = NCQ_DEPTH - 1;
    w[76] |= 0x0100;                                /* NCQ */
    w[86] = 0x3400;
    w[87] = 0x4000;
    for (unsigned i = 0; i < 4; i++)
        w[100 + i] = (uint16_t)(n >> (16 * i));
    w[105] = 1;                                     /* DSM: one block of ranges */
    w[106] = 0x4000;                                /* 512-byte logical sectors */
    w[169] = hgr_block_readonly(d->blk) ? 0 : 0x0001;   /* TRIM */
    hgr_ata_identify_reply(c, w);
}

static bool is_lba48(uint8_t cmd)
{
    return cmd == ATA_READ_DMA_EXT || cmd == ATA_WRITE_DMA_EXT || cmd == ATA_READ_PIO_EXT ||
           cmd == ATA_WRITE_PIO_EXT || cmd == ATA_VERIFY_EXT;
}

static uint64_t lba48(const uint8_t *f)
{
    return (uint64_t)f[FIS_LBA0] | (uint64_t)f[FIS_LBA1] << 8 | (uint64_t)f[FIS_LBA2] << 16 |
           (uint64_t)f[FIS_LBA3] << 24 | (uint64_t)f[FIS_LBA4] << 32 |
           (uint64_t)f[FIS_LBA5] << 40;
}

/* Ends a command; a queued one that failed is remembered for log 10h. */
static void disk_done(AhciDrive *d, AhciCmd *c, uint8_t status, uint8_t error)
{
    if (c->ncq && (status & ATA_ST_ERR)) {
        d->st.ncq_err = true;
        d->st.ncq_err_tag = (uint8_t)c->slot;
        d->st.ncq_err_status = status;
        d->st.ncq_err_error = error;
    }
    hgr_ahci_cmd_done(c, status, error);
}

static void rw_done(AhciCmd *c, int ret)
{
    bool write = c->breq.op == HGR_BLOCK_WRITE;

    if (ret < 0)
        return disk_done(c->drive, c, ATA_ST_DRDY | ATA_ST_ERR,
                         write ? ATA_ER_ABRT : ATA_ER_UNC);
    c->transferred = (uint32_t)c->mapped;
    disk_done(c->drive, c, ATA_ST_OK, 0);
}

static void transfer(AhciDrive *d, AhciCmd *c, bool write, uint64_t lba, uint32_t count)
{
    if (lba > d->sectors || count > d->sectors - lba)
        return disk_done(d, c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_IDNF | ATA_ER_ABRT);
    if (write && hgr_block_readonly(d->blk))
        return disk_done(d, c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    uint64_t len = (uint64_t)count * ATA_SECTOR;
    /* A PRDT that cannot hold it all (none at all, too short, outside RAM)
     * fails the command before any byte moves. */
    if (!hgr_ahci_cmd_map(c, len) || c->mapped < len)
        return disk_done(d, c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    hgr_ahci_cmd_io(c, write ? HGR_BLOCK_WRITE : HGR_BLOCK_READ, lba * ATA_SECTOR, 0, rw_done);
}

static void read_write(AhciDrive *d, AhciCmd *c, bool write, bool pio)
{
    const uint8_t *f = c->fis;
    uint64_t lba;
    uint32_t count;

    if (is_lba48(f[FIS_COMMAND])) {
        lba = lba48(f);
        count = (uint32_t)f[FIS_COUNT] | (uint32_t)f[FIS_COUNT_EXP] << 8;
        count = count ? count : 65536;
    } else {
        lba = (uint64_t)f[FIS_LBA0] | (uint64_t)f[FIS_LBA1] << 8 | (uint64_t)f[FIS_LBA2] << 16 |
              (uint64_t)(f[FIS_DEVICE] & 0xf) << 24;
        count = f[FIS_COUNT] ? f[FIS_COUNT] : 256;
    }
    c->pio = pio;
    transfer(d, c, write, lba, count);
}

/* READ/WRITE FPDMA QUEUED: the count is in the feature registers, the tag
 * in the count register, and it must be the slot's. */
static void fpdma(AhciDrive *d, AhciCmd *c, bool write)
{
    const uint8_t *f = c->fis;
    uint32_t count = (uint32_t)f[FIS_FEATURE] | (uint32_t)f[FIS_FEATURE_EXP] << 8;

    if (f[FIS_COUNT] >> 3 != c->slot || !hgr_ahci_cmd_ncq_begin(c))
        return hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    transfer(d, c, write, lba48(f), count ? count : 65536);
}

/* Log 10h, what Linux reads after a queued command failed: its tag, or
 * "not a queued error" (NQ); reading it clears the error. */
static void read_log(AhciDrive *d, AhciCmd *c)
{
    uint32_t count = (uint32_t)c->fis[FIS_COUNT] | (uint32_t)c->fis[FIS_COUNT_EXP] << 8;
    uint8_t buf[ATA_SECTOR] = { 0 }, sum = 0;

    if (c->fis[FIS_LBA0] != LOG_NCQ_ERROR || c->fis[FIS_LBA1] || count != 1)
        return hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    if (d->st.ncq_err) {
        buf[0] = d->st.ncq_err_tag;
        buf[2] = d->st.ncq_err_status;
        buf[3] = d->st.ncq_err_error;
    } else {
        buf[0] = 0x80;
    }
    for (unsigned i = 0; i < sizeof(buf) - 1; i++)
        sum += buf[i];
    buf[sizeof(buf) - 1] = (uint8_t)-sum;
    c->pio = c->fis[FIS_COMMAND] == ATA_READ_LOG_EXT;
    if (!hgr_ahci_cmd_reply(c, buf, sizeof(buf)))
        return hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    d->st.ncq_err = false;
    hgr_ahci_cmd_done(c, ATA_ST_OK, 0);
}

/* DATA SET MANAGEMENT, TRIM: up to 64 ranges of (48-bit LBA, 16-bit
 * count), all checked first, then discarded one after the other (the
 * command owns one block request). */
static void trim_next(AhciCmd *c, int ret)
{
    if (ret < 0)
        return disk_done(c->drive, c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    while (c->dsm_i < c->dsm_n) {
        uint64_t e = 0;
        memcpy(&e, c->dsm + 8 * c->dsm_i++, 8);
        e = GUINT64_FROM_LE(e);
        if (e >> 48)
            return hgr_ahci_cmd_io(c, HGR_BLOCK_DISCARD, (e & 0xffffffffffffull) * ATA_SECTOR,
                                   (e >> 48) * ATA_SECTOR, trim_next);
    }
    disk_done(c->drive, c, ATA_ST_OK, 0);
}

static void trim(AhciDrive *d, AhciCmd *c)
{
    uint32_t blocks = (uint32_t)c->fis[FIS_COUNT] | (uint32_t)c->fis[FIS_COUNT_EXP] << 8;

    if (!(c->fis[FIS_FEATURE] & DSM_TRIM) || blocks != 1 || hgr_block_readonly(d->blk) ||
        !hgr_ahci_cmd_map(c, ATA_SECTOR) || c->mapped < ATA_SECTOR)
        return disk_done(d, c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    hgr_iov_to_buf(c->iov, c->iovcnt, 0, c->dsm, ATA_SECTOR);       /* one copy */
    for (unsigned i = 0; i < DSM_RANGES; i++) {
        uint64_t e = 0;
        memcpy(&e, c->dsm + 8 * i, 8);
        e = GUINT64_FROM_LE(e);
        uint64_t lba = e & 0xffffffffffffull, n = e >> 48;
        if (n && (lba > d->sectors || n > d->sectors - lba))
            return disk_done(d, c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_IDNF | ATA_ER_ABRT);
    }
    c->transferred = ATA_SECTOR;
    c->dsm_n = DSM_RANGES;
    c->dsm_i = 0;
    trim_next(c, 0);
}

static void flush_done(AhciCmd *c, int ret)
{
    hgr_ahci_cmd_done(c, ret < 0 ? ATA_ST_DRDY | ATA_ST_ERR : ATA_ST_OK,
                      ret < 0 ? ATA_ER_ABRT : 0);
}

static bool xfer_mode_ok(uint8_t mode)
{
    return (mode >= 0x08 && mode <= 0x0c) || mode <= 0x01 || (mode >= 0x20 && mode <= 0x22) ||
           (mode >= 0x40 && mode <= 0x45);
}

static void set_features(AhciDrive *d, AhciCmd *c)
{
    uint8_t count = c->fis[FIS_COUNT];
    bool ok = true;

    switch (c->fis[FIS_FEATURE]) {
    case 0x02: d->st.write_cache = true; break;
    case 0x82: d->st.write_cache = false; break;
    case 0x03:
        ok = xfer_mode_ok(count);
        if (ok && count >= 0x20)
            d->st.xfer_mode = count;
        break;
    case 0x55: case 0xaa: case 0x66: case 0xcc: break;     /* look-ahead, defaults */
    default: ok = false; break;
    }
    hgr_ahci_cmd_done(c, ok ? ATA_ST_OK : ATA_ST_DRDY | ATA_ST_ERR, ok ? 0 : ATA_ER_ABRT);
}

void hgr_ata_disk_exec(AhciDrive *d, AhciCmd *c)
{
    uint8_t cmd = c->fis[FIS_COMMAND];

    switch (cmd) {
    case ATA_IDENTIFY:
        return identify(d, c);
    case ATA_READ_DMA: case ATA_READ_DMA_EXT:
        return read_write(d, c, false, false);
    case ATA_WRITE_DMA: case ATA_WRITE_DMA_EXT:
        return read_write(d, c, true, false);
    case ATA_READ_PIO: case ATA_READ_PIO_EXT:
        return read_write(d, c, false, true);
    case ATA_WRITE_PIO: case ATA_WRITE_PIO_EXT:
        return read_write(d, c, true, true);
    case ATA_READ_FPDMA:
        return fpdma(d, c, false);
    case ATA_WRITE_FPDMA:
        return fpdma(d, c, true);
    case ATA_DSM:
        return trim(d, c);
    case ATA_READ_LOG_EXT: case ATA_READ_LOG_DMA_EXT:
        return read_log(d, c);
    case ATA_FLUSH: case ATA_FLUSH_EXT:
        return hgr_ahci_cmd_io(c, HGR_BLOCK_FLUSH, 0, 0, flush_done);
    case ATA_SET_FEATURES:
        return set_features(d, c);
    case ATA_VERIFY: case ATA_VERIFY_EXT: case ATA_RECALIBRATE: case ATA_INIT_PARAMS:
    case ATA_SET_MULTIPLE: case ATA_STANDBY_IMM: case ATA_IDLE_IMM: case ATA_STANDBY:
    case ATA_IDLE: case ATA_CHECK_POWER:
        return hgr_ahci_cmd_done(c, ATA_ST_OK, 0);
    default:
        /* IDENTIFY PACKET DEVICE and PACKET included: an ATA disk aborts them,
         * which is how SeaBIOS tells a disk from a CD. */
        return hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    }
}
