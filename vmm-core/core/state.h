/* state.h — device state as a stream of checked sections.
 *
 * One visit function per device serves both directions (bhyve's habit), so
 * save and load cannot drift apart. A device's state is a plain struct (no
 * pointers, no fds, Firecracker's habit); loading fills a fresh copy, the
 * device checks it, and only then is it applied to the live device.
 *
 * Section: u16 name length, name, u32 version, u32 data length, data,
 *          u32 CRC-32 of all the preceding bytes of the section.
 * All integers little-endian.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct HgrVisitor HgrVisitor;

HgrVisitor *hgr_visitor_new_save(GByteArray *out);
HgrVisitor *hgr_visitor_new_load(const uint8_t *data, size_t len);
void hgr_visitor_free(HgrVisitor *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrVisitor, hgr_visitor_free)

bool hgr_visit_is_load(const HgrVisitor *v);
/* Loading: true when a field ran past the end of the data (fields visited
 * after that read as zero). */
bool hgr_visitor_overrun(const HgrVisitor *v);
/* Loading: bytes not consumed. */
size_t hgr_visitor_remaining(const HgrVisitor *v);

void hgr_visit_u8(HgrVisitor *v, uint8_t *x);
void hgr_visit_u16(HgrVisitor *v, uint16_t *x);
void hgr_visit_u32(HgrVisitor *v, uint32_t *x);
void hgr_visit_u64(HgrVisitor *v, uint64_t *x);
void hgr_visit_bool(HgrVisitor *v, bool *x);
void hgr_visit_bytes(HgrVisitor *v, void *p, size_t len);

uint32_t hgr_crc32(uint32_t crc, const void *data, size_t len);

void hgr_state_write_section(GByteArray *stream, const char *name, uint32_t version,
                             const uint8_t *data, size_t len);

typedef struct {
    char name[64];
    uint32_t version;
    const uint8_t *data;
    size_t len;
} HgrStateSection;

/* Reads the section at *pos and advances *pos. Returns false with error
 * (HGR_VM_ERROR_STATE) when it is truncated or its checksum is wrong. */
bool hgr_state_read_section(const uint8_t *stream, size_t stream_len, size_t *pos,
                            HgrStateSection *section, GError **error);
