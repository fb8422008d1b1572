#!/bin/bash
# layerctl's command line: --help everywhere, exit codes (0 success, 1
# failure with one lowercase line naming the object, 2 bad usage), the
# store root choice, name and tag rules, and rm refusing in-use images.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/store-lib.sh"
[ -x "$LAYERCTL" ] || tap_skip_all "layerctl is not built ($LAYERCTL)"
store_setup

for c in import images layers inspect tag untag rm gc verify; do
	out=$("$LAYERCTL" "$c" --help); rc=$?
	[ $rc -eq 0 ] && [[ "$out" == Usage:\ layerctl\ "$c"* ]] && tap_ok "$c --help" ||
		tap_not_ok "$c --help" "exit $rc" "$out"
	"$LAYERCTL" "$c" --no-such-option >/dev/null 2>&1
	is "$?" 2 "$c with an unknown option exits 2"
done
"$LAYERCTL" >/dev/null 2>&1; is "$?" 2 "no command exits 2"
"$LAYERCTL" frobnicate >/dev/null 2>&1; is "$?" 2 "an unknown command exits 2"
"$LAYERCTL" --help | grep -q '^  import ' && tap_ok "layerctl --help lists the commands" ||
	tap_not_ok "layerctl --help lists the commands"
"$LAYERCTL" import >/dev/null 2>&1; is "$?" 2 "import without a file exits 2"
"$LAYERCTL" tag only-one >/dev/null 2>&1; is "$?" 2 "tag with one argument exits 2"

# Store root: --root, then LAYERCTL_ROOT, then XDG_DATA_HOME.
printf 'x\n' > "$WORK/x"; (cd "$WORK" && tar -cf x.tar x)
"$LAYERCTL" --root "$WORK/r1" import -q "$WORK/x.tar" x:v1.0.0 >/dev/null
[ -f "$WORK/r1/oci-layout" ] && tap_ok "--root chooses the store" || tap_not_ok "--root chooses the store"
"$LAYERCTL" import --root "$WORK/r2" -q "$WORK/x.tar" x:v1.0.0 >/dev/null
[ -f "$WORK/r2/index.json" ] && tap_ok "--root after the command works too" || tap_not_ok "--root after the command"
if [ "$(id -u)" -ne 0 ]; then
	env -u LAYERCTL_ROOT XDG_DATA_HOME="$WORK/xdg" "$LAYERCTL" import -q "$WORK/x.tar" x:v1.0.0 >/dev/null
	[ -f "$WORK/xdg/layerctl/oci-layout" ] && tap_ok "XDG_DATA_HOME/layerctl by default" ||
		tap_not_ok "XDG_DATA_HOME/layerctl by default"
elif command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	mkdir -p "$WORK/xdg"; chown nobody "$WORK/xdg"; chmod 644 "$WORK/x.tar"
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups env -u LAYERCTL_ROOT \
		XDG_DATA_HOME="$WORK/xdg" "$LAYERCTL" import -q "$WORK/x.tar" x:v1.0.0 >/dev/null 2>&1
	[ -f "$WORK/xdg/layerctl/oci-layout" ] && tap_ok "XDG_DATA_HOME/layerctl by default (as nobody)" ||
		tap_not_ok "XDG_DATA_HOME/layerctl by default (as nobody)"
else
	tap_skip "XDG_DATA_HOME/layerctl by default" "runs as root and cannot switch user"
fi

# Names and tags.
"$LAYERCTL" import -q "$WORK/x.tar" base:v1.0.0 >/dev/null
check "a semver tag is accepted" "$LAYERCTL" tag base:v1.0.0 app:1.2.3-rc.1
err=$("$LAYERCTL" tag base:v1.0.0 app:1.2 2>&1); rc=$?
is "$rc" 2 "a version-looking tag that is not semver is refused"
[[ "$err" == *semver* ]] && tap_ok "the refusal says why" || tap_not_ok "the refusal says why" "$err"
"$LAYERCTL" tag base:v1.0.0 app:v01.2.3 >/dev/null 2>&1; is "$?" 2 "leading zeros are not semver"
check "a word tag is accepted" "$LAYERCTL" tag base:v1.0.0 app:stable
"$LAYERCTL" tag base:v1.0.0 'App:x' >/dev/null 2>&1; is "$?" 2 "an uppercase name is refused"
err=$("$LAYERCTL" tag base:v1.0.0 app 2>&1); rc=$?
is "$rc" 0 "a name without tag means :latest"
[[ "$err" == *"moving target"* ]] && tap_ok "latest draws a warning" || tap_not_ok "latest draws a warning" "$err"
check "the image answers to app:latest" "$LAYERCTL" inspect app:latest
if command -v git >/dev/null; then
	g=$WORK/repo; git init -q "$g" && (cd "$g" && git -c user.email=t@t -c user.name=t commit -q --allow-empty -m c)
	(cd "$g" && "$LAYERCTL" tag --git base:v1.0.0 app) >/dev/null 2>&1
	want=$(cd "$g" && git rev-parse --short=12 HEAD)
	check "tag --git uses the commit hash" "$LAYERCTL" inspect "app:$want"
else
	tap_skip "tag --git uses the commit hash" "'git' is not installed"
fi
check "untag removes a name" "$LAYERCTL" untag app:stable
"$LAYERCTL" inspect app:stable >/dev/null 2>&1; is "$?" 1 "the name is gone"
err=$("$LAYERCTL" untag app:nonesuch 2>&1); rc=$?
is "$rc" 1 "untag of an unknown name fails"
[[ "$err" == "layerctl: cannot untag 'app:nonesuch': "* ]] && tap_ok "naming the object: $err" ||
	tap_not_ok "the failure names the object" "$err"

# Failures: exit 1 and one lowercase line naming the object.
err=$("$LAYERCTL" inspect nosuch:v1.0.0 2>&1); rc=$?
is "$rc" 1 "inspect of an unknown image exits 1"
[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && [[ "$err" == "layerctl: cannot inspect 'nosuch:v1.0.0': "* ]] &&
	tap_ok "one line naming the object: $err" || tap_not_ok "one line naming the object" "$err"
err=$("$LAYERCTL" import "$WORK/missing.tar" 2>&1); rc=$?
is "$rc" 1 "import of a missing file exits 1"
[[ "$err" == *"'$WORK/missing.tar'"*"No such file"* ]] && tap_ok "and says why" || tap_not_ok "and says why" "$err"

# A container using an image keeps it.
id=$("$LAYERCTL" inspect --json base:v1.0.0 | jq -r .id)
mkdir -p "$STORE/containers/c1"
printf '{"image_id":"%s"}\n' "$id" > "$STORE/containers/c1/config.json"
for n in $("$LAYERCTL" inspect --json base:v1.0.0 | jq -r '.names[]' | grep -v '^base:v1.0.0$'); do
	"$LAYERCTL" untag "$n" >/dev/null
done
err=$("$LAYERCTL" rm base:v1.0.0 2>&1); rc=$?
is "$rc" 1 "rm refuses an image a container uses"
[[ "$err" == *"container 'c1'"* ]] && tap_ok "naming the container" || tap_not_ok "naming the container" "$err"
check "rm --force removes it anyway" "$LAYERCTL" rm --force base:v1.0.0
"$LAYERCTL" inspect base:v1.0.0 >/dev/null 2>&1; is "$?" 1 "it is gone"

# A damaged image (its manifest blob gone) is listed, blocks gc, and can be
# removed.
printf 'damaged\n' > "$WORK/dmg"; (cd "$WORK" && tar -cf dmg.tar dmg)
"$LAYERCTL" import -q "$WORK/dmg.tar" dmg:v1.0.0 >/dev/null
m=$("$LAYERCTL" inspect --json dmg:v1.0.0 | jq -r .digest | cut -c8-)
rm -f "$STORE/blobs/sha256/$m"
"$LAYERCTL" images | grep -q '^dmg:v1.0.0 .*damaged$' && tap_ok "images lists a damaged image as such" ||
	tap_not_ok "images lists a damaged image as such" "$("$LAYERCTL" images 2>&1)"
err=$("$LAYERCTL" gc 2>&1); rc=$?
is "$rc" 1 "gc refuses to run beside a damaged image"
[[ "$err" == *damaged* ]] && tap_ok "and says which ($err)" || tap_not_ok "gc says which image" "$err"
check "rm removes the damaged image" "$LAYERCTL" rm dmg:v1.0.0

# inspect --json of a layer, and verify finding damage.
"$LAYERCTL" import -q "$WORK/x.tar" x:v1.0.0 >/dev/null
diff=$("$LAYERCTL" inspect --json x:v1.0.0 | jq -r '.layers[0].diff_id')
is "$("$LAYERCTL" inspect --json "${diff:7:12}" | jq -r .diff_id)" "$diff" "inspect finds a layer by prefix"
check "verify of one image passes" "$LAYERCTL" verify x:v1.0.0
printf 'tampered\n' > "$STORE/layers/${diff#sha256:}/tree/x"
chmod 600 "$STORE/layers/${diff#sha256:}/tree/x"
touch "$STORE/layers/${diff#sha256:}/tree/extra"
err=$("$LAYERCTL" verify 2>&1); rc=$?
is "$rc" 1 "verify fails on a damaged tree"
n=$(printf '%s\n' "$err" | grep -c "verify: '$diff:")
[ "$n" -ge 3 ] && tap_ok "every difference is reported ($n)" || tap_not_ok "every difference is reported" "$err"
blob=$(ls "$STORE/blobs/sha256" | head -1)
chmod u+w "$STORE/blobs/sha256/$blob"; printf 'x' >> "$STORE/blobs/sha256/$blob"
"$LAYERCTL" verify 2>&1 | grep -q "sha256:$blob': blob content has digest" &&
	tap_ok "verify reports a damaged blob" || tap_not_ok "verify reports a damaged blob"

tap_done
