#!/usr/bin/env bash
# The header-offset check (the test command runs it): `gateway/src/wire/` is the only
# place that knows where a field lies in a header. Elsewhere a packet buffer is indexed
# through wire's names (`ip[ipv4::field::PROTOCOL]`, `h[encap::field::VNI_WORD]`,
# `u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]])`), never by a number
# (`ip[9]`, `h[46..50]`, `f.get(14..16)`, `f[IP + 9]`, `rd16(ip, l4 + 2)`,
# `buf.data_mut()[0..6]`).
#
# Fails listing (on stderr) each line of production code (gateway/src less wire/) that indexes a
# packet buffer by a number, or a header's start plus a number. A packet buffer is
# one of the names in BUF (the names the code gives them; a variable holding
# something else is not named so); a header's start is one of START. Unit tests
# (`tests.rs`, `*_tests.rs`, `test_packets.rs`, `exporter/fixture.rs`, inline
# `#[cfg(test)] mod` blocks) build packets and may index them as they like; comments
# are skipped. `+ 1` after a field's name (its second byte) is fine.
#
#   scripts/check_header_literals.sh [SRC]      (default: gateway/src)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=${1:-$ROOT/gateway/src}

BUF='(ip|h|hdr|f|frame|data|inner|outer|l4|l4_ports|l4_rest|eth|pkt|packet|fixed|original|quoted|quote|out|buf|rest|m|msg|payload)'
START='(IP|UDP|ETH|L4|VXLAN|at|hl|l4|vx|emb)'
# A number, or a header's start (`l4`, `l.l4`, `IP`) plus a number.
OFF="([0-9]|([[:alnum:]_]+\\.)?${START}[[:space:]]*\\+[[:space:]]*[0-9])"
NUM="(\\.\\.=?[[:space:]]*)?${OFF}"
PATTERNS=(
  # buf[9], buf[..20], buf[12..16], buf[IP + 9]
  "\\b${BUF}[[:space:]]*\\[[[:space:]]*${NUM}"
  # the end of a range: buf[IP..IP + 20]
  "\\b${BUF}[[:space:]]*\\[[^]]*\\.\\.=?[[:space:]]*${OFF}"
  # a buffer's bytes by a method: buf.data_mut()[0..6]
  "\\.(data|data_mut|payload|payload_mut|as_ref|as_mut)\\(\\)[[:space:]]*\\[[[:space:]]*${NUM}"
  # buf.get(9), buf.get(14..16), buf.split_at(12), buf.get(at + 33)
  "\\b${BUF}\\.(get|get_mut|split_at|split_at_mut)\\([[:space:]]*${NUM}"
  "\\b${BUF}\\.(get|get_mut)\\([^)]*\\.\\.=?[[:space:]]*${OFF}"
  # the field readers and writers that take an offset: rd16(ip, 2), set_word(ip, l4 + 2, ..)
  "\\b(rd16|wr16|rd_raw|wr_raw|rd_addr|wr_addr|set_word|set_addr|fix_csum|read_u16|write_u16)\\([[:space:]]*${BUF}[[:space:]]*,[[:space:]]*([1-9]|([[:alnum:]_]+\\.)?${START}[[:space:]]*\\+[[:space:]]*[0-9])"
  # a constant-offset reader: be32_at::<46>(h), be32_at::<{ IP + 12 }>(h)
  "_at::<[[:space:]]*\\{?[[:space:]]*${OFF}"
)
pattern=$(IFS='|'; echo "${PATTERNS[*]}")

# Production sources, less wire/ and the unit-test files.
mapfile -t files < <(find "$SRC" -name '*.rs' -not -path "$SRC/wire/*" \
  -not -name tests.rs -not -name '*_tests.rs' -not -name test_packets.rs \
  -not -path "$SRC/exporter/fixture.rs" | sort)
[ "${#files[@]}" -gt 0 ] || { echo "check_header_literals: no sources under $SRC" >&2; exit 2; }

# Each line as "FILE:LINE: code", comments and inline test modules left out (rustfmt
# puts a module's `#[cfg(test)]` and closing brace in column 0).
code=$(awk '
  FNR == 1 { pending = 0; skip = 0 }
  skip { if ($0 ~ /^}/) skip = 0; next }
  /^#\[cfg\(test\)\]/ { pending = 1; next }
  pending && /^#\[/ { next }
  pending && /^(pub(\([a-z:]+\))? )?mod [A-Za-z0-9_]+ *\{/ { pending = 0; skip = 1; next }
  { pending = 0; line = $0; sub(/\/\/.*/, "", line); print FILENAME ":" FNR ": " line }
' "${files[@]}")

if found=$(grep -E "$pattern" <<<"$code"); then
  {
    echo "header offset check FAILED: packet headers indexed by a number outside gateway/src/wire/"
    echo "(name the field: wire::<header>::field, wire::frame::field, wire::encap::field):"
    echo "${found//"$ROOT/"/}"
  } >&2
  exit 1
fi
echo "check_header_literals: no header offsets outside wire/ (${#files[@]} files)"
