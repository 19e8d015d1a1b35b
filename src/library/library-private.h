/* library-private.h — what library.c and machine*.c share. */
#pragma once

#include "library.h"
#include "machine.h"

G_BEGIN_DECLS

/* A machine of lib, in folder dir, with config (taken over). */
HgrMachine *hgr_machine_new_internal(HgrLibrary *lib, const char *dir,
                                     HgrMachineConfig *config);
/* Takes a config read again from disk by a reload, and the folder it is in
 * (taken over); ignored while the machine runs here. */
void hgr_machine_update_config(HgrMachine *m, const char *dir, HgrMachineConfig *config);
/* Running here, or in another process (asks its control socket). */
bool hgr_machine_is_active(HgrMachine *m);
void hgr_machine_forget_library(HgrMachine *m);

/* The machine or folder, other than except's, whose name is name but for
 * case (NULL when free). */
char *hgr_library_name_taken(HgrLibrary *lib, const char *name, HgrMachine *except);
/* hgr_library_check_new_name for machine except's new name: it may change
 * the case of its own. */
bool hgr_library_check_name_for(HgrLibrary *lib, const char *name, HgrMachine *except,
                                GError **error);
/* A machine's name changed: keep the list sorted. */
void hgr_library_resort(HgrLibrary *lib);
GMainContext *hgr_library_get_context(HgrLibrary *lib);

/* The machine that runs uuid in this process, if any (a new reference).
 * Another HgrMachine for the same VM (a second library) delegates to it
 * rather than calling its own process over D-Bus. */
HgrMachine *hgr_machine_lookup_running_here(const char *uuid);

/* Puts a copy of OVMF's variable store in dir as nvram.fd (the error names
 * the ovmf package when it is missing). */
bool hgr_library_copy_nvram(const char *dir, GError **error);

/* Removes a folder and everything in it, not following symbolic links. */
bool hgr_library_remove_tree(const char *path, GError **error);

G_END_DECLS
