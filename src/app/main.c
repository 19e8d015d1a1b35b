/* main.c — the hangar executable: everything else is in the app library. */
#include <glib/gi18n.h>
#include <locale.h>

#include "application.h"
#include "config.h"

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);

    g_autoptr(HgrApplication) app = hgr_application_new();
    return g_application_run(G_APPLICATION(app), argc, argv);
}
