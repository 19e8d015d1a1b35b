/* machine-config.c — to be written (see machine-config.h). */
