/* application.h — the Hangar application: the library, the app actions. */
#pragma once

#include <adwaita.h>

#include "../library/library.h"

G_BEGIN_DECLS

#define HGR_TYPE_APPLICATION (hgr_application_get_type())
G_DECLARE_FINAL_TYPE(HgrApplication, hgr_application, HGR, APPLICATION, AdwApplication)

HgrApplication *hgr_application_new(void);
/* The VM library (opened at startup; HANGAR_LIBRARY_DIR overrides the folder). */
HgrLibrary *hgr_application_get_library(HgrApplication *app);
/* Why the library could not be opened (get_library returned NULL), or NULL. */
const GError *hgr_application_get_library_error(HgrApplication *app);

G_END_DECLS
