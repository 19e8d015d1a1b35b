/* library.c — to be written (see library.h). */
