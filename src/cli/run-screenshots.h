/* run-screenshots.h — `hangarctl run --screenshot-at SECONDS:PNG`: screens
 * saved at set times after the VM starts, from a thread of their own. */
#pragma once

#include <glib.h>
#include <hangar/vm.h>

typedef struct HgrRunShots HgrRunShots;

/* Parses the specs (SECONDS:PNG, SECONDS a non-negative decimal) and checks
 * that each PNG's directory exists, before anything runs. NULL specs: no
 * shots. Errors are G_OPTION_ERROR_BAD_VALUE naming the spec. */
HgrRunShots *hgr_run_shots_new(char **specs, GError **error);
/* Starts the clock: the shots are taken this many seconds after now. */
void hgr_run_shots_start(HgrRunShots *shots, HgrVm *vm);
/* The VM has ended: stops waiting, and says on stderr which shots were never
 * taken because the VM ended first. */
void hgr_run_shots_finish(HgrRunShots *shots);
void hgr_run_shots_free(HgrRunShots *shots);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HgrRunShots, hgr_run_shots_free)
