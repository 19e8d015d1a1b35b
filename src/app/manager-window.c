/* manager-window.c — to be written (see windows.h). */
#include "windows.h"
