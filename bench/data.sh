#!/bin/bash
# bench/data.sh — build the benchmark data once into $BENCH_CACHE.
#
# Every item is built into a temporary name and renamed into place, so an
# interrupted build is redone rather than trusted. Items:
#   rootfs/base         Debian bookworm minbase (debootstrap): the base layer
#   rootfs/l1..l3       layers that add, change and delete files (char 0/0
#                       whiteouts, an opaque directory)
#   rootfs-merged       the same view flattened: the plain-directory peer
#   stack/0..99         synthetic layers: files in 0 (bottom), directories in all
#   big-TAG/big.bin     the sequential/random read file
#   small-TAG.tar       small files to untar; smalllayer-TAG the same as a layer
#   cproj-TAG           a small C project as a layer
#   tree-TAG            the 1,000,000-file tree (20,000 in quick mode)
#   scratch-ext4.img    journaled ext4 for uppers and copy-up lowers
#   scratch-xfs.img     reflink XFS for copy-up lowers and uppers
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MIRROR=${BENCH_MIRROR:-http://deb.debian.org/debian}

mkdir -p "$BENCH_CACHE"

build_rootfs_base() {
    [[ -d $ROOTFS_LAYERS/base ]] && return 0
    command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap)"
    log "debootstrap --variant=minbase bookworm (once; a few minutes)"
    mkdir -p "$ROOTFS_LAYERS"
    rm -rf "$ROOTFS_LAYERS/base.tmp"
    debootstrap --variant=minbase bookworm "$ROOTFS_LAYERS/base.tmp" "$MIRROR" \
        > "$BENCH_CACHE/debootstrap.log" 2>&1 \
        || die "debootstrap failed, see $BENCH_CACHE/debootstrap.log"
    # Proc/sys/dev are empty in a chroot tree; nothing is mounted there.
    mv "$ROOTFS_LAYERS/base.tmp" "$ROOTFS_LAYERS/base"
}

# start_item DIR WHAT: false when DIR is already built; else says WHAT and
# leaves an empty DIR.tmp to build into (renamed to DIR when complete).
start_item() {
    [[ -e $1 ]] && return 1
    log "$2"
    rm -rf "$1.tmp"; mkdir -p "$1.tmp"
}

whiteout() { mknod "$1" c 0 0; }
opaque()   { mkdir -p "$1"; setfattr -n trusted.overlay.opaque -v y "$1"; }

build_rootfs_layers() {
    [[ -d $ROOTFS_LAYERS/l3 ]] && return 0
    local base=$ROOTFS_LAYERS/base t
    log "rootfs layers l1..l3"
    # l1: an application: adds files, changes config, deletes docs, replaces
    # /etc/apt with an opaque directory.
    t=$ROOTFS_LAYERS/l1.tmp; rm -rf "$t"; mkdir -p "$t"
    mkdir -p "$t/opt/app/lib" "$t/opt/app/share" "$t/etc" "$t/usr/share/doc"
    python3 - "$t/opt/app" <<'PY'
import os, sys, random
r = random.Random(1)
top = sys.argv[1]
for d in range(20):
    p = os.path.join(top, "share", "d%02d" % d); os.makedirs(p)
    for f in range(50):
        with open(os.path.join(p, "f%03d.txt" % f), "wb") as fh:
            fh.write(r.randbytes(r.randint(100, 8000)))
for f in range(40):
    with open(os.path.join(top, "lib", "lib%02d.so" % f), "wb") as fh:
        fh.write(r.randbytes(r.randint(20000, 200000)))
PY
    cp -L "$base/etc/os-release" "$t/etc/os-release"
    echo 'APP=1' >> "$t/etc/os-release"
    local n=0 d
    for d in "$base"/usr/share/doc/*; do
        whiteout "$t/usr/share/doc/$(basename "$d")"
        n=$((n + 1)); ((n < 60)) || break
    done
    opaque "$t/etc/apt"
    mkdir -p "$t/etc/apt/sources.list.d"
    echo 'deb http://deb.debian.org/debian bookworm main' > "$t/etc/apt/sources.list"
    mv "$t" "$ROOTFS_LAYERS/l1"

    # l2: configuration: changes files in /etc, adds a home, deletes info pages.
    t=$ROOTFS_LAYERS/l2.tmp; rm -rf "$t"; mkdir -p "$t/etc" "$t/home/user" "$t/usr/share"
    local f
    for f in passwd group hostname hosts issue motd adduser.conf; do
        [[ -e $base/etc/$f ]] || continue
        cp -a "$base/etc/$f" "$t/etc/$f"; echo "# changed" >> "$t/etc/$f"
    done
    for f in $(seq -w 1 200); do echo "note $f" > "$t/home/user/note$f.txt"; done
    [[ -e $base/usr/share/info ]] && whiteout "$t/usr/share/info"
    [[ -e $base/usr/share/man ]] && opaque "$t/usr/share/man" && echo kept > "$t/usr/share/man/README"
    mv "$t" "$ROOTFS_LAYERS/l2"

    # l3: cleanup: deletes apt caches and some of l1's files.
    t=$ROOTFS_LAYERS/l3.tmp; rm -rf "$t"; mkdir -p "$t/var/cache/apt" "$t/opt/app/share"
    for f in "$base"/var/cache/apt/*.bin; do
        [[ -e $f ]] && whiteout "$t/var/cache/apt/$(basename "$f")"
    done
    for d in 00 01 02 03 04; do whiteout "$t/opt/app/share/d$d"; done
    mv "$t" "$ROOTFS_LAYERS/l3"
}

# The merged view, flattened through a read-only kernel overlay mount.
build_rootfs_merged() {
    start_item "$ROOTFS_MERGED" "flattening the rootfs view (plain-directory peer)" || return 0
    unshare -m --propagation private bash -c '
        set -e; m=$(mktemp -d)
        mount -t overlay overlay -o ro,lowerdir="$1" "$m"
        cp -a "$m/." "$2/"
        umount "$m"; rmdir "$m"' _ "$ROOTFS_LOWERS" "$ROOTFS_MERGED.tmp"
    mv "$ROOTFS_MERGED.tmp" "$ROOTFS_MERGED"
}

# Synthetic stack: layer 0 holds files/f0000..f1999; every layer holds
# dirs/d000..d199 (each with a file named after its layer, so the directory
# really merges).
build_stack() {
    start_item "$STACK_DIR" "synthetic stack of $STACK_MAX layers" || return 0
    python3 - "$STACK_DIR.tmp" "$STACK_MAX" <<'PY'
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
for layer in range(n):
    root = os.path.join(top, str(layer))
    for d in range(200):
        p = os.path.join(root, "dirs", "d%03d" % d)
        os.makedirs(p)
        open(os.path.join(p, "from-layer-%d" % layer), "w").close()
    if layer == 0:
        os.makedirs(os.path.join(root, "files"))
        for f in range(2000):
            with open(os.path.join(root, "files", "f%04d" % f), "w") as fh:
                fh.write("bottom\n")
PY
    mv "$STACK_DIR.tmp" "$STACK_DIR"
}

build_big() {
    local d=$BENCH_CACHE/big-$SZ_TAG
    start_item "$d" "read file of $BIG_MIB MiB" || return 0
    head -c "$((BIG_MIB << 20))" /dev/urandom > "$d.tmp/big.bin"
    mv "$d.tmp" "$d"
}

build_small() {
    local tarf=$BENCH_CACHE/small-$SZ_TAG.tar lay=$BENCH_CACHE/smalllayer-$SZ_TAG
    [[ -f $tarf ]] && [[ -d $lay ]] && return 0
    rm -rf "$lay"
    start_item "$lay" "$SMALL_FILES small files (tar and layer)"
    mkdir "$lay.tmp/small"
    python3 - "$lay.tmp/small" "$SMALL_FILES" <<'PY'
import os, sys, random
r = random.Random(2)
top, n = sys.argv[1], int(sys.argv[2])
per = 100
for i in range(n):
    d = os.path.join(top, "d%03d" % (i // per))
    if i % per == 0:
        os.makedirs(d)
    with open(os.path.join(d, "f%03d.txt" % (i % per)), "wb") as fh:
        fh.write(r.randbytes(r.randint(64, 4096)))
PY
    tar -cf "$tarf.tmp" -C "$lay.tmp" small
    mv "$tarf.tmp" "$tarf"
    mv "$lay.tmp" "$lay"
}

build_cproj() {
    local d=$BENCH_CACHE/cproj-$SZ_TAG
    start_item "$d" "C project of $CPROJ_FILES files" || return 0
    mkdir "$d.tmp/src"
    python3 - "$d.tmp/src" "$CPROJ_FILES" <<'PY'
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
with open(os.path.join(top, "common.h"), "w") as h:
    h.write("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n")
    for i in range(n):
        h.write("int unit%d(int x);\n" % i)
for i in range(n):
    with open(os.path.join(top, "unit%d.c" % i), "w") as c:
        c.write('#include "common.h"\n')
        for k in range(30):
            c.write("static int helper%d(int x) {\n"
                    "    int s = 0;\n"
                    "    for (int i = 0; i < x; i++) { s += (i * %d) ^ (s >> 3); if (s > 1000000) s -= x; }\n"
                    "    char buf[64]; snprintf(buf, sizeof buf, \"%%d\", s);\n"
                    "    return (int)strlen(buf) + s;\n}\n" % (k, k + i + 1))
        c.write("int unit%d(int x) {\n    int s = 0;\n" % i)
        for k in range(30):
            c.write("    s += helper%d(x + %d);\n" % (k, k))
        c.write("    return s;\n}\n")
with open(os.path.join(top, "main.c"), "w") as m:
    m.write('#include "common.h"\nint main(void) {\n    int s = 0;\n')
    for i in range(n):
        m.write("    s += unit%d(%d);\n" % (i, i))
    m.write('    printf("%d\\n", s);\n    return 0;\n}\n')
objs = " ".join("unit%d.o" % i for i in range(n))
with open(os.path.join(top, "Makefile"), "w") as mk:
    mk.write("CFLAGS = -O2 -Wall\nOBJS = main.o %s\n\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\n"
             "%%.o: %%.c common.h\n\t$(CC) $(CFLAGS) -c -o $@ $<\n" % objs)
PY
    mv "$d.tmp" "$d"
}

build_tree() {
    local d=$BENCH_CACHE/tree-$SZ_TAG
    start_item "$d" "tree of $TREE_FILES empty files" || return 0
    "$BENCH_TOOLS/mktree" "$d.tmp/t" $((TREE_FILES / 1000)) 1000
    mv "$d.tmp" "$d"
}

# Write every free block of the scratch images once.  The images are sparse
# files, and the machine's own disk may be thin too: the first write to a
# block the host never stored costs several times a later one.  Without
# this, a 1 GiB copy-up took 4 to 7 s or 0.8 s depending on which block
# groups the filesystem picked for that run's new directory, and runs
# alternated between the two, whichever union filesystem ran.  The data is
# one random 64 MiB block repeated (zeros might be stored as holes again).
densify_scratch() {
    local marker=$BENCH_CACHE/scratch-dense.done
    [[ -f $marker ]] && return 0
    log "writing the free space of the scratch images once"
    unshare -m --propagation private bash -c '
        set -euo pipefail
        blk=$(mktemp); head -c 64M /dev/urandom > "$blk"
        for img in "$@"; do
            m=$(mktemp -d); mount -o loop "$img" "$m"
            free=$(df --output=avail -B 64M "$m" | tail -1)
            for ((i = 1; i < free; i++)); do cat "$blk"; done > "$m/fill" || true
            sync; rm -f "$m/fill"; sync
            umount "$m"; rmdir "$m"
        done
        rm -f "$blk"' _ "$SCRATCH_EXT4_IMG" "$SCRATCH_XFS_IMG"
    [[ $? == 0 ]] && touch "$marker"
}

# Scratch images: journaled ext4 (uppers, write scratch, copy-up lowers) and
# reflink XFS (copy-up lowers and uppers). Lower files for copy-up live in
# lower-TAG/ inside each image.
build_scratch() {
    if [[ ! -f $SCRATCH_EXT4_IMG ]]; then
        log "journaled ext4 scratch image"
        truncate -s 16G "$SCRATCH_EXT4_IMG.tmp"
        mkfs.ext4 -q -F -j "$SCRATCH_EXT4_IMG.tmp"
        mv "$SCRATCH_EXT4_IMG.tmp" "$SCRATCH_EXT4_IMG"
    fi
    if [[ ! -f $SCRATCH_XFS_IMG ]]; then
        log "reflink XFS scratch image"
        truncate -s 8G "$SCRATCH_XFS_IMG.tmp"
        mkfs.xfs -q -f -m reflink=1 "$SCRATCH_XFS_IMG.tmp"
        mv "$SCRATCH_XFS_IMG.tmp" "$SCRATCH_XFS_IMG"
    fi
    densify_scratch
    local marker=$BENCH_CACHE/scratch-lowers-$SZ_TAG.done
    [[ -f $marker ]] && return 0
    log "copy-up lower files ($COPYUP_SIZES) in both images"
    unshare -m --propagation private bash -c '
        set -euo pipefail
        tag=$1; sizes=$2; shift 2
        for img in "$@"; do
            m=$(mktemp -d); mount -o loop "$img" "$m"
            rm -rf "$m/lower-$tag"; mkdir -p "$m/lower-$tag.tmp"
            for s in $sizes; do
                case $s in *g) b=$(( ${s%g} << 30 ));; *m) b=$(( ${s%m} << 20 ));; esac
                head -c "$b" /dev/urandom > "$m/lower-$tag.tmp/c$s"
            done
            mv "$m/lower-$tag.tmp" "$m/lower-$tag"
            umount "$m"; rmdir "$m"
        done' _ "$SZ_TAG" "$COPYUP_SIZES" "$SCRATCH_EXT4_IMG" "$SCRATCH_XFS_IMG"
    touch "$marker"
}

main() {
    local item
    for item in "${@:-all}"; do
        case $item in
        rootfs) build_rootfs_base; build_rootfs_layers; build_rootfs_merged ;;
        stack)  build_stack ;;
        big)    build_big ;;
        small)  build_small ;;
        cproj)  build_cproj ;;
        tree)   build_tree ;;
        scratch) build_scratch ;;
        all)    build_rootfs_base; build_rootfs_layers; build_rootfs_merged
                build_stack; build_big; build_small; build_cproj; build_tree
                build_scratch ;;
        *) die "unknown data item '$item'" ;;
        esac
    done
}

main "$@"
