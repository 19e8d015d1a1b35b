/* ratelimit.c — see ratelimit.h. */
#include "ratelimit.h"

#include <stdarg.h>

void hgr_warn_ratelimited(HgrRateLimit *rl, const char *who, const char *fmt, ...)
{
    gint64 now = g_get_monotonic_time();

    if (rl->last && now - rl->last < G_USEC_PER_SEC) {
        rl->dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (rl->dropped)
        g_warning("%s: %s (%u messages suppressed before)", who, msg, rl->dropped);
    else
        g_warning("%s: %s", who, msg);
    rl->last = now;
    rl->dropped = 0;
}
