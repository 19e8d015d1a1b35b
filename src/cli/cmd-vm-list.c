/* hangarctl list — the machines of the library, their state, OS and size;
 * folders that are not usable machines are named on stderr. */
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "cmd-vm.h"
#include "hangarctl.h"

static const char *os_label(const HgrMachineConfig *c)
{
    return c->os_name ? c->os_name : c->os_id ? c->os_id : "-";
}

/* printf's widths count bytes; a name in Greek or with accents is wider in
 * bytes than on screen. */
static void print_padded(const char *text, long width)
{
    long len = g_utf8_strlen(text, -1);

    fputs(text, stdout);
    for (long i = len; i < width + 1; i++)
        putchar(' ');
}

static void print_table(HgrLibrary *lib)
{
    GListModel *machines = hgr_library_get_machines(lib);
    guint n = g_list_model_get_n_items(machines);

    if (n == 0) {
        printf("No machines in %s (make one with hangarctl create NAME)\n",
               hgr_library_get_root(lib));
        return;
    }
    /* Columns as wide as their longest entry (names are UTF-8). */
    long name_w = 4, os_w = 2;
    for (guint i = 0; i < n; i++) {
        g_autoptr(HgrMachine) m = g_list_model_get_item(machines, i);
        const HgrMachineConfig *c = hgr_machine_get_config(m);
        name_w = MAX(name_w, g_utf8_strlen(c->name, -1));
        os_w = MAX(os_w, g_utf8_strlen(os_label(c), -1));
    }
    print_padded("NAME", name_w);
    print_padded("STATE", 8);
    print_padded("OS", os_w);
    printf("%8s %4s\n", "MEMORY", "CPUS");
    for (guint i = 0; i < n; i++) {
        g_autoptr(HgrMachine) m = g_list_model_get_item(machines, i);
        const HgrMachineConfig *c = hgr_machine_get_config(m);
        g_autofree char *memory = g_strdup_printf("%" G_GUINT64_FORMAT "M", c->memory_mib);
        print_padded(c->name, name_w);
        print_padded(hgr_machine_state_name(hgr_machine_query_state(m)), 8);
        print_padded(os_label(c), os_w);
        printf("%8s %4u\n", memory, c->cpus);
    }
}

static char *to_json(HgrLibrary *lib)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    GListModel *machines = hgr_library_get_machines(lib);
    GPtrArray *problems = hgr_library_get_problems(lib);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "machines");
    json_builder_begin_array(b);
    for (guint i = 0; i < g_list_model_get_n_items(machines); i++) {
        g_autoptr(HgrMachine) m = g_list_model_get_item(machines, i);
        const HgrMachineConfig *c = hgr_machine_get_config(m);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, c->name);
        json_builder_set_member_name(b, "uuid");
        json_builder_add_string_value(b, c->uuid);
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, hgr_machine_state_name(hgr_machine_query_state(m)));
        json_builder_set_member_name(b, "os-id");
        json_builder_add_string_value(b, c->os_id);
        json_builder_set_member_name(b, "os-name");
        json_builder_add_string_value(b, c->os_name);
        json_builder_set_member_name(b, "memory-mib");
        json_builder_add_int_value(b, (gint64)c->memory_mib);
        json_builder_set_member_name(b, "cpus");
        json_builder_add_int_value(b, c->cpus);
        json_builder_set_member_name(b, "firmware");
        json_builder_add_string_value(b, hgr_firmware_name(c->firmware));
        json_builder_set_member_name(b, "folder");
        json_builder_add_string_value(b, hgr_machine_get_dir(m));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "problems");
    json_builder_begin_array(b);
    for (guint i = 0; i < problems->len; i++) {
        HgrLibraryProblem *p = problems->pdata[i];
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "path");
        json_builder_add_string_value(b, p->path);
        json_builder_set_member_name(b, "message");
        json_builder_add_string_value(b, p->message);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    return json_generator_to_data(gen, NULL);
}

int hgr_cmd_list(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        HGR_CLI_LIBRARY_OPTION(&dir),
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON (machines and problems)", NULL },
        { NULL },
    };
    g_autoptr(GError) error = NULL;

    if (!hgr_cli_parse("list", "", "List the machines of the library.", entries, &argc, &argv,
                       0, 0))
        return 2;
    g_autoptr(HgrLibrary) lib = hgr_cli_open_library(dir, &error);
    if (!lib)
        return hgr_cli_fail("list", error);
    if (json) {
        g_autofree char *text = to_json(lib);
        printf("%s\n", text);
        return 0;
    }
    print_table(lib);
    GPtrArray *problems = hgr_library_get_problems(lib);
    for (guint i = 0; i < problems->len; i++) {
        HgrLibraryProblem *p = problems->pdata[i];
        fprintf(stderr, "hangarctl list: not listed: %s: %s\n", p->path, p->message);
    }
    return 0;
}
