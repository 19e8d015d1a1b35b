/* ahci-drive.h — what the AHCI HBA (ahci.c) gives the drive models behind
 * its ports (ata-disk.c, atapi-cd.c), and what they give back. Not public.
 *
 * The HBA fetches a command (header, FIS, ATAPI packet: each read once from
 * guest memory), then hands it to the drive's exec function with the HBA
 * lock held. The drive finishes it exactly once with hgr_ahci_cmd_done(),
 * either at once or from a block completion started with hgr_ahci_cmd_io().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../block/block.h"
#include "../core/memory.h"

#define ATA_SECTOR      512
#define CD_SECTOR       2048

/* ATA status and error register bits. */
#define ATA_ST_ERR      0x01
#define ATA_ST_DRQ      0x08
#define ATA_ST_DSC      0x10
#define ATA_ST_DRDY     0x40
#define ATA_ST_BSY      0x80
#define ATA_ST_OK       (ATA_ST_DRDY | ATA_ST_DSC)
#define ATA_ER_ABRT     0x04
#define ATA_ER_IDNF     0x10
#define ATA_ER_UNC      0x40

/* H2D register FIS bytes. */
enum {
    FIS_TYPE = 0, FIS_FLAGS = 1, FIS_COMMAND = 2, FIS_FEATURE = 3,
    FIS_LBA0 = 4, FIS_LBA1 = 5, FIS_LBA2 = 6, FIS_DEVICE = 7,
    FIS_LBA3 = 8, FIS_LBA4 = 9, FIS_LBA5 = 10, FIS_FEATURE_EXP = 11,
    FIS_COUNT = 12, FIS_COUNT_EXP = 13, FIS_CONTROL = 15,
    FIS_H2D_LEN = 20,
};

#define SIG_ATA         0x00000101u
#define SIG_ATAPI       0xeb140101u

typedef enum {
    AHCI_DRIVE_NONE,
    AHCI_DRIVE_DISK,
    AHCI_DRIVE_CD,
} AhciDriveKind;

/* A drive's own state: plain data, saved with the port. */
typedef struct {
    uint8_t xfer_mode;          /* SET FEATURES 03h: 0x0n PIO, 0x2n MWDMA, 0x4n UDMA */
    bool write_cache;
    /* ATAPI */
    uint8_t sense_key, asc, ascq;
    bool unit_attention;        /* medium changed: the next command hears of it */
    bool locked;                /* PREVENT ALLOW MEDIUM REMOVAL */
    bool tray_open;             /* the guest ejected the medium */
    uint8_t media_event;        /* GET EVENT STATUS NOTIFICATION media event code */
    /* The last failed queued command, for the NCQ error log (page 10h). */
    bool ncq_err;
    uint8_t ncq_err_tag, ncq_err_status, ncq_err_error;
} AhciDriveState;

typedef struct {
    AhciDriveKind kind;
    HgrBlock *blk;              /* not owned; NULL: a CD drive with no medium */
    uint64_t sectors;           /* in 512-byte (disk) or 2048-byte (CD) sectors */
    char serial[21];
    AhciDriveState st;
} AhciDrive;

typedef struct AhciCmd AhciCmd;
typedef void (*AhciIoDone)(AhciCmd *c, int ret);

struct AhciCmd {
    void *port;                 /* the HBA's, opaque to drives */
    AhciDrive *drive;
    const HgrGuestMem *mem;
    unsigned slot;
    uint8_t fis[FIS_H2D_LEN];   /* copied from guest memory */
    uint8_t acmd[16];           /* ATAPI packet, copied likewise */
    uint64_t ctba;
    uint16_t prdtl;
    /* The data phase, described by hgr_ahci_cmd_map(). */
    struct iovec *iov;
    unsigned iovcnt, iovcap;
    uint64_t mapped;
    uint32_t transferred;       /* goes back as PRDBC */
    bool pio;                   /* report through a PIO setup FIS too */
    bool ncq;                   /* queued: the result goes in a Set Device Bits FIS */
    uint32_t sig;               /* nonzero: the D2H FIS carries this signature */
    HgrBlockReq breq;
    AhciIoDone io_done;
    /* DATA SET MANAGEMENT: the ranges, copied out, and the next one. */
    uint8_t dsm[ATA_SECTOR];
    unsigned dsm_n, dsm_i;
};

/* Describes the first len bytes of the command's PRDT as host iovecs in
 * c->iov (c->mapped may come out shorter when the PRDT is). False when an
 * entry is unreadable or points outside RAM. */
bool hgr_ahci_cmd_map(AhciCmd *c, uint64_t len);
/* Copies a reply (IDENTIFY data, SCSI data-in) into the PRDT, as far as it
 * reaches; false when the PRDT is unusable. */
bool hgr_ahci_cmd_reply(AhciCmd *c, const void *buf, size_t len);
/* Submits op on the drive's medium: READ and WRITE over c->iov (already
 * mapped), DISCARD of len bytes. done runs with the HBA lock held. */
void hgr_ahci_cmd_io(AhciCmd *c, HgrBlockOp op, uint64_t offset, uint64_t len,
                     AhciIoDone done);
/* A queued (NCQ) command with a matching SActive bit is accepted and its
 * slot freed; false when the driver did not set SActive for it. */
bool hgr_ahci_cmd_ncq_begin(AhciCmd *c);
/* Ends the command: status and error go to the task file and the D2H FIS. */
void hgr_ahci_cmd_done(AhciCmd *c, uint8_t status, uint8_t error);

/* Drive models. */
void hgr_ata_disk_exec(AhciDrive *d, AhciCmd *c);
void hgr_ata_disk_reset(AhciDrive *d);
void hgr_atapi_cd_exec(AhciDrive *d, AhciCmd *c);
void hgr_atapi_cd_reset(AhciDrive *d);
/* A new medium (blk NULL: none) went into the drive. */
void hgr_atapi_cd_media_changed(AhciDrive *d, HgrBlock *blk);
/* IDENTIFY (PACKET) DEVICE data, shared by both drives (ata-disk.c). */
void hgr_ata_put_string(uint16_t *words, const char *s, unsigned n_words);
void hgr_ata_identify_common(const AhciDrive *d, uint16_t w[256], const char *model);
void hgr_ata_identify_reply(AhciCmd *c, uint16_t w[256]);
