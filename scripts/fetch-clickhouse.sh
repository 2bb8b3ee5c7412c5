#!/usr/bin/env bash
# Puts libchdb.so (ClickHouse 26.7 as a library) in ${JOURNEYS_CACHE:-.cache}/chdb/
# for `journeys clickhouse run`, `journeys demo` and the tests. Idempotent: a
# stamp records which pinned tarball the library came from, so a second run
# exits at once.
#
# The npm package is pinned to an exact version and tarball hash: its `latest`
# tag (26.5) refuses SYSTEM START LISTEN, which the local server needs.
# JOURNEYS_CHDB_TARBALL=path/to.tgz uses a tarball you already have (offline,
# CI caches); it is verified the same way.
set -euo pipefail

PKG='@chdb/lib-linux-x64-gnu'
VERSION='26.7.3-stable.1'
SHA256='c0d32b129e988f2b9a9a31c9141aecf5e1e2453f9a079efc4d36ab8e3f92b2ad'

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${JOURNEYS_CACHE:-$repo/.cache}
dest=$cache/chdb
lib=$dest/libchdb.so
stamp=$dest/libchdb.so.stamp
want="$PKG@$VERSION sha256:$SHA256"

say() { echo "fetch-clickhouse: $*"; }
die() { echo "fetch-clickhouse: ERROR: $*" >&2; exit 1; }

if [[ -f $lib && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
	say "$lib is up to date ($PKG@$VERSION)"
	exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*) die "only linux/x86_64 is supported (the npm package is $PKG)" ;;
esac
for tool in tar sha256sum; do
	command -v "$tool" >/dev/null || die "$tool is required"
done

mkdir -p "$dest"
# The temporary directory is next to the target so the final mv is a rename.
tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [[ -n ${JOURNEYS_CHDB_TARBALL:-} ]]; then
	say "using $JOURNEYS_CHDB_TARBALL"
	cp "$JOURNEYS_CHDB_TARBALL" "$tmp/chdb.tgz"
else
	command -v npm >/dev/null || die "npm is required (Debian: apt-get install npm) to download $PKG@$VERSION"
	say "downloading $PKG@$VERSION with npm pack (about 180 MB)"
	(cd "$tmp" && npm pack --silent "$PKG@$VERSION" >/dev/null) || die "npm pack $PKG@$VERSION failed"
	tgz=("$tmp"/*.tgz)
	[[ -f ${tgz[0]} ]] || die "npm pack produced no tarball"
	mv "${tgz[0]}" "$tmp/chdb.tgz"
fi

got=$(sha256sum "$tmp/chdb.tgz" | cut -d' ' -f1)
if [[ $got != "$SHA256" ]]; then
	die "SHA-256 MISMATCH for $PKG@$VERSION: got $got, want $SHA256. Refusing to use it."
fi
say "sha256 verified ($SHA256)"

say "extracting package/libchdb.so (about 570 MB)"
tar -xzf "$tmp/chdb.tgz" -C "$tmp" package/libchdb.so
# Invalidate first: a run interrupted between the two renames must not leave
# an old stamp vouching for a new library.
rm -f "$stamp"
mv -f "$tmp/package/libchdb.so" "$lib"
echo "$want" >"$tmp/stamp"
mv -f "$tmp/stamp" "$stamp"
say "installed $lib"
