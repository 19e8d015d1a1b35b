/* host-check.c — to be written (see host-check.h). */
