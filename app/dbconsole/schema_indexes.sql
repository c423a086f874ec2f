-- Every user index: size, scans, what backs it, validity, its definition, whether
-- it is unused (no scan since statistics were reset, and nothing depends on it),
-- redundant (its columns are a leading prefix of another valid index of the same
-- table, kind and predicate) or a duplicate, and an estimate of its bloat.
WITH idx AS (
    SELECT s.indexrelid, s.relid, s.schemaname, s.relname AS table_name,
           s.indexrelname AS index_name, s.idx_scan,
           pg_relation_size(s.indexrelid) AS index_bytes,
           i.indisunique, i.indisprimary, i.indisvalid,
           EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS backs_constraint,
           i.indkey::text AS columns, i.indclass::text AS opclasses,
           pg_get_expr(i.indpred, i.indrelid) AS predicate,
           i.indexprs IS NOT NULL AS has_expressions,
           c.relam, c.relpages, c.reltuples,
           pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_stat_user_indexes s
    JOIN pg_index i ON i.indexrelid = s.indexrelid
    JOIN pg_class c ON c.oid = s.indexrelid
), covering AS (
    SELECT a.indexrelid,
           (array_agg(b.index_name ORDER BY b.index_name))[1] AS covered_by,
           bool_or(a.columns = b.columns) AS duplicate
    FROM idx a
    JOIN idx b ON b.relid = a.relid AND b.indexrelid <> a.indexrelid AND b.indisvalid
     AND b.relam = a.relam
     AND b.predicate IS NOT DISTINCT FROM a.predicate
     AND NOT a.has_expressions AND NOT b.has_expressions
     AND (b.columns = a.columns OR b.columns LIKE a.columns || ' %')
     AND (b.opclasses = a.opclasses OR b.opclasses LIKE a.opclasses || ' %')
     -- Of two identical indexes, only the later one is the duplicate.
     AND (b.columns <> a.columns OR b.indexrelid < a.indexrelid)
    WHERE NOT a.indisunique AND NOT a.backs_constraint
    GROUP BY a.indexrelid
)
SELECT idx.*, cov.covered_by, coalesce(cov.duplicate, false) AS duplicate,
       (idx.idx_scan = 0 AND NOT idx.indisunique AND NOT idx.indisprimary
        AND NOT idx.backs_constraint AND idx.indisvalid) AS unused,
       CASE WHEN idx.relpages = 0 OR idx.has_expressions THEN NULL
            ELSE greatest(
                idx.relpages::bigint * current_setting('block_size')::int
                - ceil(idx.reltuples * (16 + coalesce(
                      (SELECT sum(st.avg_width) FROM pg_stats st
                       JOIN pg_attribute att ON att.attname = st.attname
                       WHERE st.schemaname = idx.schemaname AND st.tablename = idx.table_name
                         AND att.attrelid = idx.relid
                         AND att.attnum = ANY (string_to_array(idx.columns, ' ')::int[])), 8))
                       / (current_setting('block_size')::int * 0.9))
                  * current_setting('block_size')::int,
                0)::bigint
       END AS bloat_bytes
FROM idx
LEFT JOIN covering cov ON cov.indexrelid = idx.indexrelid
ORDER BY idx.index_bytes DESC
