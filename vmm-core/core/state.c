/* state.c — the save/load visitor and section framing. */
#include "state.h"

#include <hangar/vm.h>
#include <string.h>

struct HgrVisitor {
    bool load;
    GByteArray *out;          /* save */
    const uint8_t *data;      /* load */
    size_t len;
    size_t pos;
    bool overrun;
};

HgrVisitor *hgr_visitor_new_save(GByteArray *out)
{
    HgrVisitor *v = g_new0(HgrVisitor, 1);
    v->out = out;
    return v;
}

HgrVisitor *hgr_visitor_new_load(const uint8_t *data, size_t len)
{
    HgrVisitor *v = g_new0(HgrVisitor, 1);
    v->load = true;
    v->data = data;
    v->len = len;
    return v;
}

void hgr_visitor_free(HgrVisitor *v)
{
    g_free(v);
}

bool hgr_visit_is_load(const HgrVisitor *v)
{
    return v->load;
}

bool hgr_visitor_overrun(const HgrVisitor *v)
{
    return v->overrun;
}

size_t hgr_visitor_remaining(const HgrVisitor *v)
{
    return v->load ? v->len - v->pos : 0;
}

/* Integers travel little-endian; x86 hosts only, so a copy is enough. */
G_STATIC_ASSERT(G_BYTE_ORDER == G_LITTLE_ENDIAN);

void hgr_visit_bytes(HgrVisitor *v, void *p, size_t len)
{
    if (!v->load) {
        g_byte_array_append(v->out, p, len);
        return;
    }
    if (v->overrun || len > v->len - v->pos) {
        v->overrun = true;
        memset(p, 0, len);
        return;
    }
    memcpy(p, v->data + v->pos, len);
    v->pos += len;
}

void hgr_visit_u8(HgrVisitor *v, uint8_t *x)   { hgr_visit_bytes(v, x, sizeof(*x)); }
void hgr_visit_u16(HgrVisitor *v, uint16_t *x) { hgr_visit_bytes(v, x, sizeof(*x)); }
void hgr_visit_u32(HgrVisitor *v, uint32_t *x) { hgr_visit_bytes(v, x, sizeof(*x)); }
void hgr_visit_u64(HgrVisitor *v, uint64_t *x) { hgr_visit_bytes(v, x, sizeof(*x)); }

void hgr_visit_bool(HgrVisitor *v, bool *x)
{
    uint8_t b = *x ? 1 : 0;
    hgr_visit_u8(v, &b);
    *x = b != 0;
}

uint32_t hgr_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
    }
    return ~crc;
}

void hgr_state_write_section(GByteArray *stream, const char *name, uint32_t version,
                             const uint8_t *data, size_t len)
{
    guint start = stream->len;
    uint16_t name_len = (uint16_t)strlen(name);
    uint32_t data_len = (uint32_t)len;

    g_byte_array_append(stream, (const guint8 *)&name_len, 2);
    g_byte_array_append(stream, (const guint8 *)name, name_len);
    g_byte_array_append(stream, (const guint8 *)&version, 4);
    g_byte_array_append(stream, (const guint8 *)&data_len, 4);
    g_byte_array_append(stream, data, len);
    uint32_t crc = hgr_crc32(0, stream->data + start, stream->len - start);
    g_byte_array_append(stream, (const guint8 *)&crc, 4);
}

bool hgr_state_read_section(const uint8_t *stream, size_t stream_len, size_t *pos,
                            HgrStateSection *s, GError **error)
{
    size_t p = *pos, start = *pos;
    uint16_t name_len;
    uint32_t data_len, crc;

#define NEED(n) do { if ((n) > stream_len - p) goto truncated; } while (0)
    if (p > stream_len)
        goto truncated;
    NEED(2);
    memcpy(&name_len, stream + p, 2);
    p += 2;
    if (name_len == 0 || name_len >= sizeof(s->name)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "saved state: section name length %u is out of range", name_len);
        return false;
    }
    NEED(name_len);
    memcpy(s->name, stream + p, name_len);
    s->name[name_len] = '\0';
    p += name_len;
    NEED(8);
    memcpy(&s->version, stream + p, 4);
    memcpy(&data_len, stream + p + 4, 4);
    p += 8;
    NEED(data_len);
    s->data = stream + p;
    s->len = data_len;
    p += data_len;
    NEED(4);
    memcpy(&crc, stream + p, 4);
    if (crc != hgr_crc32(0, stream + start, p - start)) {
        g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                    "saved state: section '%s' fails its checksum", s->name);
        return false;
    }
    *pos = p + 4;
    return true;
#undef NEED
truncated:
    g_set_error(error, HGR_VM_ERROR, HGR_VM_ERROR_STATE,
                "saved state: truncated at byte %zu", stream_len);
    return false;
}
