/* hangarctl.h — the subcommands of the headless CLI. */
#pragma once

/* Each returns the process exit status. argv[0] is the subcommand name. */
int hgr_cmd_run(int argc, char **argv);
int hgr_cmd_host_check(int argc, char **argv);
int hgr_cmd_disk(int argc, char **argv);
int hgr_cmd_firmware(int argc, char **argv);
