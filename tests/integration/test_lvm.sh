#!/usr/bin/env bash
# The LVM module with real LVM commands on a volume group of this run's own
# over a loop device (activation off: this kernel may lack device-mapper).
. "$(dirname "$0")/lib.sh"
for tool in losetup pvcreate vgcreate lvs; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (lvm2)"; exit 1; }
done
: "${LVM_CHECK:?set LVM_CHECK to the lvm_check binary (meson test does)}"

make_vg 4096
export VG
out=$("$LVM_CHECK" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "the LVM module works against real LVM (lvm_check)" "0" "$rc"
check "and the volume group is left empty" "" "$(lvs --noheadings -o lv_name "$VG" 2>/dev/null | xargs)"
if echo "$out" | grep -q '^SKIP: thick snapshots'; then
	echo "# SKIP: thick snapshots need device-mapper, which this kernel does not have"
fi
true
