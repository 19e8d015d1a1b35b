/* os-templates.c — to be written (see os-templates.h). */
