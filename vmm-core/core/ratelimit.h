/* ratelimit.h — warnings a guest can trigger, at most one a second per
 * device, with a count of what was held back. */
#pragma once

#include <glib.h>

typedef struct {
    gint64 last;
    unsigned dropped;
} HgrRateLimit;

/* g_warning("<who>: <message>") unless one was printed less than a second ago. */
void hgr_warn_ratelimited(HgrRateLimit *rl, const char *who, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
