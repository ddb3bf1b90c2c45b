#!/usr/bin/env bash
# Installs the build into a scratch DESTDIR, then compiles every public header on its own and
# the public-API program using only the installed files and the generated hugo-journal.pc.
# Proves the installed headers and pkg-config file are complete.
set -euo pipefail
build_dir="$1"
source_dir="$2"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
meson install -C "$build_dir" --destdir "$scratch" --quiet >/dev/null
prefix="$(meson introspect "$build_dir" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')"
root="$scratch$prefix"
pcdir="$(dirname "$(find "$root" -name hugo-journal.pc | head -n1)")"
[ -n "$pcdir" ] || { echo "hugo-journal.pc was not installed"; exit 1; }
# Point the .pc file's prefix at the scratch tree.
sed -i "s|^prefix=.*|prefix=$root|" "$pcdir/hugo-journal.pc"
export PKG_CONFIG_PATH="$pcdir"
cflags="$(pkg-config --cflags hugo-journal)"
libs="$(pkg-config --libs hugo-journal)"
for header in "$root"/include/hugo/*.hpp; do
  name="$(basename "$header")"
  printf '#include <hugo/%s>\n' "$name" > "$scratch/one.cpp"
  c++ -std=c++20 -Wall -Wextra -Werror -fsyntax-only $cflags "$scratch/one.cpp" \
    || { echo "header hugo/$name does not stand alone"; exit 1; }
done
c++ -std=c++20 -Wall -Wextra -Werror $cflags "$source_dir/tests/public_api/public_api_test.cpp" \
  -o "$scratch/public_api" $libs -Wl,-rpath,"$(dirname "$(find "$root" -name 'libhugo-journal.so' | head -n1)")"
"$scratch/public_api"
echo "installed headers: ok ($(ls "$root"/include/hugo/*.hpp | wc -l) headers)"
