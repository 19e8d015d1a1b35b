/* vm-window-private.h — what vm-window.c (widgets, state) and
 * vm-window-actions.c (the win.* actions) share. */
#pragma once

#include "display-view.h"
#include "serial-view.h"
#include "vm-window.h"

struct _HgrVmWindow {
    AdwApplicationWindow parent;

    HgrMachine *machine;
    GtkWidget *power_button;
    gulong state_handler, here_handler, cdrom_handler;
    gulong busy_handler;
    guint activity_timer;
    guint state_poll;             /* asks another process for the state */
    HgrVmActivity last_activity;
    HgrSerialPty *pty;            /* the machine's, see machine_serial_pty() */

    /* template children */
    AdwToastOverlay *toasts;
    AdwHeaderBar *header_bar;
    GtkButton *pause_button;
    GtkWidget *cd_button;
    AdwViewStack *stack;
    GtkScrolledWindow *display_scroller;
    HgrDisplayView *display;
    AdwStatusPage *off_page;
    HgrSerialView *serial;
    GtkWidget *status_bar;
    GtkLabel *state_label;
    GtkImage *disk_light;
    GtkImage *net_light;
    GtkLabel *hint_label;
};

/* vm-window.c */
void hgr_vm_window_toast(HgrVmWindow *win, const char *message);
/* A failure the user must read: a dialog over the window. */
void hgr_vm_window_error(HgrVmWindow *win, const char *heading, const char *message);
/* Starts the machine here, its serial port on the window's console;
 * failures become a toast. */
gboolean hgr_vm_window_start(HgrVmWindow *win);

/* vm-window-actions.c */
void hgr_vm_window_class_add_actions(GtkWidgetClass *widget_class);
void hgr_vm_window_update_actions(HgrVmWindow *win);
/* vm-window-media.c: the CD/DVD menu (win.cd-insert, win.cd-eject). */
void hgr_vm_window_class_add_media_actions(GtkWidgetClass *widget_class);
void hgr_vm_window_update_media_actions(HgrVmWindow *win);
/* Puts iso (NULL: nothing) in the VM's drive without waiting; a refusal
 * is shown over the window (a locked drive asks whether to force it). */
void hgr_vm_window_change_disc(HgrVmWindow *win, const char *iso, gboolean force);
/* Asks what to do with a running VM when its window closes. */
void hgr_vm_window_ask_close(HgrVmWindow *win);
/* The user chose what happens to the VM: the window goes. */
void hgr_vm_window_close_for_good(HgrVmWindow *win);
