/* atapi-cd.c — a DVD-ROM drive behind an AHCI port: ATAPI (IDENTIFY
 * PACKET DEVICE, PACKET) carrying the SCSI MMC commands Linux's sr,
 * Windows' cdrom.sys and firmware send, on 2048-byte sectors of an ISO.
 * Errors are CHECK CONDITION: the sense key in the error register, the rest
 * for REQUEST SENSE. */
#include <string.h>

#include "ahci-drive.h"

enum {
    SCSI_TEST_UNIT_READY = 0x00, SCSI_REQUEST_SENSE = 0x03, SCSI_INQUIRY = 0x12,
    SCSI_START_STOP = 0x1b, SCSI_PREVENT_ALLOW = 0x1e, SCSI_READ_CAPACITY = 0x25,
    SCSI_READ_10 = 0x28, SCSI_SEEK_10 = 0x2b, SCSI_READ_TOC = 0x43,
    SCSI_GET_CONFIGURATION = 0x46, SCSI_GET_EVENT_STATUS = 0x4a, SCSI_MODE_SENSE_10 = 0x5a,
    SCSI_READ_12 = 0xa8, SCSI_SET_CD_SPEED = 0xbb,
};

enum { SENSE_NOT_READY = 2, SENSE_MEDIUM_ERROR = 3, SENSE_ILLEGAL_REQUEST = 5,
       SENSE_UNIT_ATTENTION = 6 };
enum { ASC_READ_ERROR = 0x11, ASC_INVALID_OPCODE = 0x20, ASC_LBA_OUT_OF_RANGE = 0x21,
       ASC_INVALID_FIELD = 0x24, ASC_MEDIUM_CHANGED = 0x28, ASC_NO_MEDIUM = 0x3a,
       ASC_REMOVAL_PREVENTED = 0x53 };
enum { MEDIA_EVENT_NONE = 0, MEDIA_EVENT_NEW = 2, MEDIA_EVENT_REMOVED = 3 };

#define ATA_IDENTIFY_PACKET 0xa1
#define ATA_PACKET          0xa0
#define ATA_IDENTIFY        0xec
#define ATA_DEVICE_RESET    0x08
#define ATA_SET_FEATURES    0xef
#define MAX_READ_SECTORS    65535
#define CD_MAX_SECTORS      (800u << 20) / CD_SECTOR     /* bigger is a DVD */
#define LEADOUT             0xaa

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }
static void put_be16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { put_be16(p, v >> 16); put_be16(p + 2, v); }

/* A reset keeps what the drive knows about its medium: a change not yet
 * reported is still reported after it. */
void hgr_atapi_cd_reset(AhciDrive *d)
{
    d->st = (AhciDriveState){ .xfer_mode = 0x45, .unit_attention = d->st.unit_attention,
                              .tray_open = d->st.tray_open,
                              .media_event = d->st.media_event };
}

void hgr_atapi_cd_media_changed(AhciDrive *d, HgrBlock *blk)
{
    d->blk = blk;
    d->sectors = blk ? hgr_block_size(blk) / CD_SECTOR : 0;
    d->st.tray_open = false;
    d->st.media_event = blk ? MEDIA_EVENT_NEW : MEDIA_EVENT_REMOVED;
    d->st.unit_attention = blk != NULL;
    if (blk) {
        d->st.sense_key = SENSE_UNIT_ATTENTION;
        d->st.asc = ASC_MEDIUM_CHANGED;
        d->st.ascq = 0;
    }
}

static bool has_medium(const AhciDrive *d)
{
    return d->blk && !d->st.tray_open;
}

static void check_condition(AhciDrive *d, AhciCmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
    d->st.sense_key = key;
    d->st.asc = asc;
    d->st.ascq = ascq;
    hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, (uint8_t)(key << 4));
}

static void good(AhciDrive *d, AhciCmd *c)
{
    d->st.sense_key = d->st.asc = d->st.ascq = 0;
    hgr_ahci_cmd_done(c, ATA_ST_OK, 0);
}

static void not_ready(AhciDrive *d, AhciCmd *c)
{
    check_condition(d, c, SENSE_NOT_READY, ASC_NO_MEDIUM, d->st.tray_open ? 2 : 1);
}

static void invalid_field(AhciDrive *d, AhciCmd *c)
{
    check_condition(d, c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
}

/* Data-in: as much of buf as the CDB's allocation length and the PRDT take. */
static void reply(AhciDrive *d, AhciCmd *c, const void *buf, size_t len, size_t alloc)
{
    if (!hgr_ahci_cmd_reply(c, buf, MIN(len, alloc)))
        return hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    good(d, c);
}

static void identify_packet(AhciDrive *d, AhciCmd *c)
{
    uint16_t w[256] = { 0 };

    hgr_ata_identify_common(d, w, "HANGAR DVD-ROM");
    w[0] = 0x85c0;              /* ATAPI, CD-ROM, removable, 12-byte packets */
    w[82] = w[85] = 0x4214;     /* NOP, DEVICE RESET, PACKET */
    w[83] = w[84] = w[87] = 0x4000;
    hgr_ata_identify_reply(c, w);
}

/* SCSI commands */

static void request_sense(AhciDrive *d, AhciCmd *c)
{
    uint8_t buf[18] = { 0x70, 0, d->st.sense_key, 0, 0, 0, 0, 10 };

    if (d->st.unit_attention) {
        d->st.unit_attention = false;
        buf[2] = SENSE_UNIT_ATTENTION;
        buf[12] = ASC_MEDIUM_CHANGED;
    } else {
        buf[12] = d->st.asc;
        buf[13] = d->st.ascq;
    }
    reply(d, c, buf, sizeof(buf), c->acmd[4]);
}

static void inquiry(AhciDrive *d, AhciCmd *c)
{
    uint8_t buf[36] = { 0x05, 0x80, 0x05, 0x02, sizeof(buf) - 5 };

    if (c->acmd[1] & 1)                     /* no vital product data pages */
        return invalid_field(d, c);
    memcpy(buf + 8, "HANGAR  ", 8);
    memcpy(buf + 16, "DVD-ROM         ", 16);
    memcpy(buf + 32, "1.0 ", 4);
    reply(d, c, buf, sizeof(buf), be16(c->acmd + 3));
}

static void read_capacity(AhciDrive *d, AhciCmd *c)
{
    uint8_t buf[8];

    put_be32(buf, d->sectors ? (uint32_t)MIN(d->sectors - 1, UINT32_MAX) : 0);
    put_be32(buf + 4, CD_SECTOR);
    reply(d, c, buf, sizeof(buf), sizeof(buf));
}

static void read_done(AhciCmd *c, int ret)
{
    if (ret < 0)
        return check_condition(c->drive, c, SENSE_MEDIUM_ERROR, ASC_READ_ERROR, 0);
    c->transferred = (uint32_t)c->mapped;
    good(c->drive, c);
}

static void read_sectors(AhciDrive *d, AhciCmd *c)
{
    const uint8_t *cdb = c->acmd;
    uint64_t lba = be32(cdb + 2);
    uint32_t count = cdb[0] == SCSI_READ_10 ? be16(cdb + 7) : be32(cdb + 6);

    if (lba > d->sectors || count > d->sectors - lba)
        return check_condition(d, c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
    if (count > MAX_READ_SECTORS)
        return invalid_field(d, c);
    if (count == 0)
        return good(d, c);
    uint64_t len = (uint64_t)count * CD_SECTOR;
    if (!hgr_ahci_cmd_map(c, len) || c->mapped < len)
        return hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    hgr_ahci_cmd_io(c, HGR_BLOCK_READ, lba * CD_SECTOR, 0, read_done);
}

static void put_address(uint8_t *p, uint32_t lba, bool msf)
{
    if (!msf) {
        put_be32(p, lba);
        return;
    }
    lba += 150;                             /* MSF counts the 2-second pregap */
    p[0] = 0;
    p[1] = (uint8_t)(lba / (75 * 60));
    p[2] = (uint8_t)(lba / 75 % 60);
    p[3] = (uint8_t)(lba % 75);
}

/* One data track: the TOC (format 0) and the session info (format 1). */
static void read_toc(AhciDrive *d, AhciCmd *c)
{
    const uint8_t *cdb = c->acmd;
    bool msf = cdb[1] & 2;
    unsigned format = cdb[2] & 0xf, track = cdb[6];
    uint8_t buf[20] = { 0 };
    size_t n = 4;

    if (format == 0) {
        if (track > 1 && track != LEADOUT)
            return invalid_field(d, c);
        if (track <= 1) {
            buf[n + 1] = 0x14;              /* ADR 1, data track */
            buf[n + 2] = 1;
            put_address(buf + n + 4, 0, msf);
            n += 8;
        }
        buf[n + 1] = 0x14;
        buf[n + 2] = LEADOUT;
        put_address(buf + n + 4, (uint32_t)MIN(d->sectors, UINT32_MAX - 150), msf);
        n += 8;
    } else if (format == 1) {
        buf[n + 1] = 0x14;
        buf[n + 2] = 1;
        put_address(buf + n + 4, 0, msf);
        n += 8;
    } else {
        return invalid_field(d, c);
    }
    put_be16(buf, (uint32_t)n - 2);
    buf[2] = 1;
    buf[3] = 1;
    reply(d, c, buf, n, be16(cdb + 7));
}

static void mode_sense(AhciDrive *d, AhciCmd *c)
{
    unsigned page = c->acmd[2] & 0x3f;
    uint8_t buf[8 + 12 + 22] = { 0 };
    size_t n = 8;

    if (page == 0x01 || page == 0x3f) {     /* read error recovery */
        static const uint8_t recovery[12] = { 0x01, 0x0a, 0x00, 0x05 };
        memcpy(buf + n, recovery, sizeof(recovery));
        n += sizeof(recovery);
    }
    if (page == 0x2a || page == 0x3f) {     /* capabilities and mechanical status */
        uint8_t *p = buf + n;
        p[0] = 0x2a;
        p[1] = 0x14;
        p[2] = 0x3b;                        /* reads CD-R/RW, DVD-ROM/R/RAM */
        p[4] = 0x71;
        p[5] = 0x03;
        p[6] = 0x29 | (d->st.locked ? 0x02 : 0);    /* tray, eject, lockable */
        put_be16(p + 8, 4 * 176);
        put_be16(p + 10, 2);
        put_be16(p + 12, 512);
        put_be16(p + 14, 4 * 176);
        n += 22;
    }
    if (n == 8)
        return invalid_field(d, c);
    put_be16(buf, (uint32_t)n - 2);
    reply(d, c, buf, n, be16(c->acmd + 7));
}

/* Features: profile list, core, removable medium; the current profile
 * follows the medium's size. */
static void get_configuration(AhciDrive *d, AhciCmd *c)
{
    const uint8_t *cdb = c->acmd;
    unsigned rt = cdb[1] & 3, start = be16(cdb + 2);
    uint32_t profile = !has_medium(d) ? 0 : d->sectors > CD_MAX_SECTORS ? 0x10 : 0x08;
    uint8_t buf[8 + 12 + 12 + 8] = { 0 };
    size_t n = 8;

    if (rt == 3)
        return invalid_field(d, c);
    put_be16(buf + 6, profile);
    if (start == 0) {
        uint8_t *f = buf + n;               /* 0000h profile list */
        f[2] = 0x03;
        f[3] = 8;
        put_be16(f + 4, 0x10);
        f[6] = profile == 0x10;
        put_be16(f + 8, 0x08);
        f[10] = profile == 0x08;
        n += 12;
    }
    if ((rt == 2 && start == 1) || (rt != 2 && start <= 1)) {
        uint8_t *f = buf + n;               /* 0001h core: ATAPI */
        put_be16(f, 0x01);
        f[2] = 0x0b;
        f[3] = 8;
        put_be32(f + 4, 2);
        n += 12;
    }
    if ((rt == 2 && start == 3) || (rt != 2 && start <= 3)) {
        uint8_t *f = buf + n;               /* 0003h removable medium: tray */
        put_be16(f, 0x03);
        f[2] = 0x03;
        f[3] = 4;
        f[4] = 0x29;
        n += 8;
    }
    put_be32(buf, (uint32_t)n - 4);
    reply(d, c, buf, n, be16(cdb + 7));
}

static void get_event_status(AhciDrive *d, AhciCmd *c)
{
    uint8_t buf[8] = { 0 };
    size_t n = 4;

    if (!(c->acmd[1] & 1))                  /* asynchronous notification: not offered */
        return invalid_field(d, c);
    buf[3] = 0x10;                          /* supports the media class */
    if (c->acmd[4] & 0x10) {
        buf[2] = 4;
        buf[4] = d->st.media_event;
        buf[5] = (has_medium(d) ? 2 : 0) | (d->st.tray_open ? 1 : 0);
        d->st.media_event = MEDIA_EVENT_NONE;
        n = 8;
    } else {
        buf[2] = 0x80;                      /* no event available */
    }
    put_be16(buf, (uint32_t)n - 2);
    reply(d, c, buf, n, be16(c->acmd + 7));
}

static void start_stop(AhciDrive *d, AhciCmd *c)
{
    bool loej = c->acmd[4] & 2, start = c->acmd[4] & 1;

    if (loej && !start) {
        if (d->st.locked)
            return check_condition(d, c, SENSE_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED, 2);
        if (d->blk && !d->st.tray_open)
            d->st.media_event = MEDIA_EVENT_REMOVED;
        d->st.tray_open = true;
    } else if (loej && start && d->st.tray_open) {
        d->st.tray_open = false;
        if (d->blk)
            d->st.media_event = MEDIA_EVENT_NEW;
    }
    good(d, c);
}

static bool needs_medium(uint8_t op)
{
    return op == SCSI_TEST_UNIT_READY || op == SCSI_READ_CAPACITY || op == SCSI_READ_10 ||
           op == SCSI_READ_12 || op == SCSI_READ_TOC || op == SCSI_SEEK_10;
}

static void packet(AhciDrive *d, AhciCmd *c)
{
    uint8_t op = c->acmd[0];

    /* A changed medium is news to every command but these, once. */
    if (d->st.unit_attention && op != SCSI_INQUIRY && op != SCSI_REQUEST_SENSE &&
        op != SCSI_GET_EVENT_STATUS && op != SCSI_GET_CONFIGURATION) {
        d->st.unit_attention = false;
        return check_condition(d, c, SENSE_UNIT_ATTENTION, ASC_MEDIUM_CHANGED, 0);
    }
    if (needs_medium(op) && !has_medium(d))
        return not_ready(d, c);
    switch (op) {
    case SCSI_TEST_UNIT_READY:
    case SCSI_SEEK_10:
    case SCSI_SET_CD_SPEED:      return good(d, c);
    case SCSI_REQUEST_SENSE:     return request_sense(d, c);
    case SCSI_INQUIRY:           return inquiry(d, c);
    case SCSI_READ_CAPACITY:     return read_capacity(d, c);
    case SCSI_READ_10:
    case SCSI_READ_12:           return read_sectors(d, c);
    case SCSI_READ_TOC:          return read_toc(d, c);
    case SCSI_MODE_SENSE_10:     return mode_sense(d, c);
    case SCSI_GET_CONFIGURATION: return get_configuration(d, c);
    case SCSI_GET_EVENT_STATUS:  return get_event_status(d, c);
    case SCSI_START_STOP:        return start_stop(d, c);
    case SCSI_PREVENT_ALLOW:
        d->st.locked = c->acmd[4] & 1;
        return good(d, c);
    default:
        return check_condition(d, c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
    }
}

void hgr_atapi_cd_exec(AhciDrive *d, AhciCmd *c)
{
    switch (c->fis[FIS_COMMAND]) {
    case ATA_PACKET:
        return packet(d, c);
    case ATA_IDENTIFY_PACKET:
        return identify_packet(d, c);
    case ATA_IDENTIFY:
        /* Aborted with the signature in the task file: "I am ATAPI". */
        c->sig = SIG_ATAPI;
        return hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    case ATA_DEVICE_RESET:
        d->st.sense_key = d->st.asc = d->st.ascq = 0;
        c->sig = SIG_ATAPI;
        return hgr_ahci_cmd_done(c, 0, 0);
    case ATA_SET_FEATURES:
        if (c->fis[FIS_FEATURE] == 0x03 && c->fis[FIS_COUNT] >= 0x20)
            d->st.xfer_mode = c->fis[FIS_COUNT];
        return hgr_ahci_cmd_done(c, ATA_ST_OK, 0);
    default:
        return hgr_ahci_cmd_done(c, ATA_ST_DRDY | ATA_ST_ERR, ATA_ER_ABRT);
    }
}
