#!/usr/bin/env bash
# Makes NotoSansLCA-Regular.ttf, the appearance's default embedded font: Noto Sans (Latin, Greek,
# Cyrillic) and Noto Sans Arabic from Debian's fonts-noto-core (SIL Open Font License 1.1, no Reserved
# Font Name), each cut to the blocks below without hinting and without GPOS, merged into one font and
# renamed. Needs Debian's fonts-noto-core and python3-fonttools. The result is deterministic for the
# same package versions (fonts-noto-core 20201225-1, python3-fonttools 4.38.0 when it was made).
set -euo pipefail
cd "$(dirname "$0")"
noto=/usr/share/fonts/truetype/noto
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
$py -m fontTools.subset "$noto/NotoSans-Regular.ttf" --output-file="$tmp/latin.ttf" \
  --unicodes='U+0020-007E,U+00A0-024F,U+0300-036F,U+0370-03FF,U+0400-052F,U+1E00-1EFF,U+2000-206F,U+20A0-20BF,U+2100-214F,U+2190-21FF,U+2212,U+FEFF' \
  --layout-features='*' --drop-tables+=GPOS,DSIG --no-hinting
$py -m fontTools.subset "$noto/NotoSansArabic-Regular.ttf" --output-file="$tmp/arabic.ttf" \
  --unicodes='U+0600-06FF,U+0750-077F,U+08A0-08FF,U+FB50-FDFF,U+FE70-FEFF' \
  --layout-features='*' --drop-tables+=GPOS,DSIG --no-hinting
$py -m fontTools.merge "$tmp/latin.ttf" "$tmp/arabic.ttf" --output-file="$tmp/merged.ttf"
$py - "$tmp/merged.ttf" NotoSansLCA-Regular.ttf "$noto/NotoSans-Regular.ttf" <<'PY'
import sys
from fontTools.ttLib import TTFont
f = TTFont(sys.argv[1], recalcTimestamp=False)
orig = TTFont(sys.argv[3])
names = {1: "Noto Sans LCA", 2: "Regular", 3: "NotoSansLCA-Regular", 4: "Noto Sans LCA Regular",
         6: "NotoSansLCA-Regular", 16: "Noto Sans LCA", 17: "Regular"}
for rec in list(f["name"].names):
    if rec.nameID in names:
        f["name"].setName(names[rec.nameID], rec.nameID, rec.platformID, rec.platEncID, rec.langID)
f["name"].setName("Noto Sans and Noto Sans Arabic (Google LLC, SIL Open Font License 1.1), cut to Latin, Greek, Cyrillic and Arabic and merged for hashsign", 10, 3, 1, 0x409)
f["head"].created = orig["head"].created
f["head"].modified = orig["head"].modified
f.save(sys.argv[2])
PY
ls -l NotoSansLCA-Regular.ttf
