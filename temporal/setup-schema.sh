#!/bin/sh
# Creates Temporal's two PostgreSQL databases (when missing) and brings both schemas to the
# version the pinned server expects, with Temporal's own SQL tool. Safe to run again: it only
# applies what is missing. Environment as for config/postgresql.yaml:
#   POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, POSTGRES_PASSWORD,
#   TEMPORAL_DB (temporal), TEMPORAL_VISIBILITY_DB (temporal_visibility),
#   STACKWRIGHT_TEMPORAL_SERVER_DIR (bin/temporal-sql-tool and schema/; default: build or reuse
#   the cached one with `node scripts/tools.mjs --temporal-server`).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${STACKWRIGHT_TEMPORAL_SERVER_DIR:-}" ]; then
  eval "$(node "$here/../scripts/tools.mjs" --temporal-server --print-env | grep '^STACKWRIGHT_TEMPORAL_SERVER_DIR=')"
fi
dir=$STACKWRIGHT_TEMPORAL_SERVER_DIR
sql() {
  SQL_PASSWORD="${POSTGRES_PASSWORD:-}" "$dir/bin/temporal-sql-tool" --plugin postgres12 \
    --ep "${POSTGRES_HOST:-127.0.0.1}" -p "${POSTGRES_PORT:-5432}" -u "${POSTGRES_USER:-temporal}" "$@"
}
for pair in "${TEMPORAL_DB:-temporal}:temporal" "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}:visibility"; do
  db=${pair%%:*}
  schema=$dir/schema/postgresql/v12/${pair#*:}
  # create-database fails when the database exists, which is fine.
  sql --db "$db" create-database 2>/dev/null || true
  # setup-schema -v 0.0 only creates the version table; update-schema applies every versioned step.
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$schema/versioned"
done
echo "Temporal schemas ready in ${TEMPORAL_DB:-temporal} and ${TEMPORAL_VISIBILITY_DB:-temporal_visibility}" >&2
