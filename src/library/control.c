/* control.c — to be written (see control.h). */
