#!/bin/sh
# Fails when a translatable string has no translation in a language of
# LINGUAS, or when a file with translatable strings is not in POTFILES.in.
# Usage: check-translations.sh SOURCE_ROOT
set -eu
src=${1:?usage: check-translations.sh SOURCE_ROOT}
po="$src/po"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# 1. Every app source with _( or N_( and every .ui or data file with
#    translatable text is listed.
listed="$tmp/listed"
grep -v '^[[:space:]]*\(#\|$\)' "$po/POTFILES.in" | sort -u >"$listed"
(cd "$src" && {
    grep -l -E '\b(N?_|C_|NC_|g_dngettext|ngettext)\(' src/app/*.c src/library/*.c 2>/dev/null || true
    grep -l 'translatable="yes"' ui/*.ui ui/gtk/*.ui 2>/dev/null || true
    ls data/*.desktop.in data/*.metainfo.xml.in data/*.gschema.xml 2>/dev/null || true
} | sort -u) >"$tmp/wanted"
missing=$(comm -23 "$tmp/wanted" "$listed")
if [ -n "$missing" ]; then
    echo "FAIL: files with translatable strings missing from po/POTFILES.in:"
    echo "$missing" | sed 's/^/    /'
    echo "  fix: add them to po/POTFILES.in"
    status=1
fi
for f in $(cat "$listed"); do
    if [ ! -f "$src/$f" ]; then
        echo "FAIL: po/POTFILES.in lists $f, which does not exist (remove it)"
        status=1
    fi
done
[ $status -eq 0 ] || exit $status

# 2. The strings as the sources have them now (the same keywords as
#    meson's glib preset), merged into each language.
(cd "$src" && xgettext --from-code=UTF-8 --add-comments \
    --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
    --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
    --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
    --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
    --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
    --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
    --files-from="$listed" --output="$tmp/hangar.pot")
total=$(msgfmt --statistics -o /dev/null "$tmp/hangar.pot" 2>&1 | sed -n 's/^0 translated messages, \([0-9]*\) untranslated.*/\1/p')
echo "hangar.pot: ${total:-?} strings from $(wc -l <"$listed") files"

for lang in $(grep -v '^#' "$po/LINGUAS"); do
    msgmerge --quiet --output-file="$tmp/$lang.po" "$po/$lang.po" "$tmp/hangar.pot"
    stats=$(msgfmt --check --statistics -o /dev/null "$tmp/$lang.po" 2>&1) || {
        echo "FAIL: $lang.po does not compile:"; echo "$stats"; status=1; continue; }
    echo "$lang: $stats"
    case "$stats" in
    *untranslated*|*fuzzy*)
        echo "FAIL: $lang.po lacks translations (untranslated or fuzzy above):"
        msgattrib --untranslated --no-wrap "$tmp/$lang.po" | grep '^msgid ' | grep -v '^msgid ""$' | sed 's/^/    /' | head -40
        msgattrib --only-fuzzy --no-wrap "$tmp/$lang.po" | grep '^msgid ' | grep -v '^msgid ""$' | sed 's/^/    fuzzy: /' | head -40
        echo "  fix: ninja -C build hangar-pot hangar-update-po, then translate them in po/$lang.po"
        status=1 ;;
    esac
done
exit $status
