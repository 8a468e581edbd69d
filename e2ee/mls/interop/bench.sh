#!/bin/sh
# bench.sh runs BenchmarkVersusTSMLS (conclave/e2ee/mls/versus_test.go): this
# repository's MLS and ts-mls 1.6.4 under Node creating and processing
# commits with an UpdatePath and adding a member, on the same group of 2, 10,
# 100 and 1000 members, cipher suites 1 and 3, in one run, and prints one
# Markdown table. Times are milliseconds per operation; with COUNT > 1 each
# figure is the minimum over the runs (the least disturbed by other load).
#
#   e2ee/mls/interop/bench.sh                 # COUNT=1 BENCHTIME=1s
#   COUNT=3 BENCHTIME=2s e2ee/mls/interop/bench.sh
#
# The raw `go test -bench` output goes to stderr.
set -eu
cd "$(dirname "$0")/../../.."
count=${COUNT:-1}
benchtime=${BENCHTIME:-1s}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
if ! go test -run '^$' -bench '^BenchmarkVersusTSMLS$' -benchtime "$benchtime" -count "$count" -timeout 120m ./e2ee/mls/ >"$raw" 2>&1; then
	cat "$raw" >&2
	echo "bench.sh: go test failed" >&2
	exit 1
fi
cat "$raw" >&2
awk '
	/^BenchmarkVersusTSMLS\// {
		split($1, p, "/")            # name, suiteN, members=N, op, impl-GOMAXPROCS
		suite = substr(p[2], 6); members = substr(p[3], 9); op = p[4]
		impl = p[5]; sub(/-[0-9]+$/, "", impl)
		k = suite SUBSEP members SUBSEP op SUBSEP impl
		for (i = 3; i < NF; i += 2) {
			v = $i + 0; unit = $(i + 1)
			if (unit == "ns/op") { if (!(k in wall) || v < wall[k]) wall[k] = v }
			else if (unit == "cpu-ns/op") { if (!(k in cpu) || v < cpu[k]) cpu[k] = v }
			else if (unit == "welcome-bytes") bytes[k] = v
		}
		if (!(suite SUBSEP members in seen)) { seen[suite SUBSEP members] = 1; order[++rows] = suite SUBSEP members }
	}
	function ms(x) { return (x == "") ? "-" : sprintf("%.2f", x / 1e6) }
	END {
		if (rows == 0) { print "bench.sh: no benchmark results" > "/dev/stderr"; exit 1 }
		print "| suite | members | operation | Go wall ms | Go CPU ms | ts-mls wall ms | ts-mls CPU ms | ts-mls / Go (CPU) | Welcome bytes Go / ts-mls |"
		print "|---|---|---|---|---|---|---|---|---|"
		split("create process welcome", ops, " ")
		for (r = 1; r <= rows; r++) {
			split(order[r], sm, SUBSEP)
			for (o = 1; o <= 3; o++) {
				g = order[r] SUBSEP ops[o] SUBSEP "go"; t = order[r] SUBSEP ops[o] SUBSEP "ts-mls"
				ratio = (cpu[g] > 0 && cpu[t] > 0) ? sprintf("%.0fx", cpu[t] / cpu[g]) : "-"
				wb = (ops[o] == "welcome") ? bytes[g] " / " bytes[t] : ""
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sm[1], sm[2], ops[o], ms(wall[g]), ms(cpu[g]), ms(wall[t]), ms(cpu[t]), ratio, wb
			}
		}
	}' "$raw"
