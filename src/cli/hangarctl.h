/* hangarctl.h — the subcommands of the headless CLI. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Each returns the process exit status. argv[0] is the subcommand name. */
int hgr_cmd_run(int argc, char **argv);
int hgr_cmd_host_check(int argc, char **argv);
int hgr_cmd_disk(int argc, char **argv);
int hgr_cmd_firmware(int argc, char **argv);

/* "20G", "512M", "4096": binary units, a whole number of 512-byte sectors. */
bool hgr_cli_parse_size(const char *s, uint64_t *out);

/* The VMs of the library (cmd-vm-*.c). */
int hgr_cmd_list(int argc, char **argv);
int hgr_cmd_create(int argc, char **argv);
int hgr_cmd_start(int argc, char **argv);
int hgr_cmd_stop(int argc, char **argv);
int hgr_cmd_pause(int argc, char **argv);
int hgr_cmd_resume(int argc, char **argv);
int hgr_cmd_info(int argc, char **argv);
int hgr_cmd_set(int argc, char **argv);
int hgr_cmd_screenshot(int argc, char **argv);
int hgr_cmd_delete(int argc, char **argv);
int hgr_cmd_cd(int argc, char **argv);
