/* machine.c — to be written (see machine.h). */
