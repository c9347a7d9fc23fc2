// Minimal SQL syntax highlighting: keywords, strings, numbers, comments as spans (text only, no HTML).
import { h } from "./dom.js";

const KEYWORDS = [
  "SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "OFFSET", "JOIN", "INNER",
  "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "ON", "USING", "AS", "AND", "OR", "NOT", "IN", "IS",
  "NULL", "LIKE", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "END", "DISTINCT", "UNION", "ALL",
  "INTERSECT", "EXCEPT", "WITH", "INSERT", "INTO", "VALUES", "UPDATE", "SET", "DELETE", "MERGE",
  "MATCHED", "CREATE", "TABLE", "VIEW", "REPLACE", "OVER", "PARTITION", "ROWS", "RANGE", "ASC",
  "DESC", "CAST", "TRUE", "FALSE", "EXISTS", "QUALIFY", "WINDOW", "FILTER",
];
const TOKEN = new RegExp(
  [
    "(--[^\\n]*|/\\*[\\s\\S]*?\\*/)", // 1 comment
    "('(?:[^']|'')*')", // 2 string
    "(\\b\\d+(?:\\.\\d+)?\\b)", // 3 number
    `(\\b(?:${KEYWORDS.join("|")})\\b)`, // 4 keyword
  ].join("|"),
  "gi",
);
const CLASSES = [null, "sql-comment", "sql-string", "sql-number", "sql-keyword"];

/** A <pre class="sql"> with the statement's tokens wrapped in classed spans. */
export function sqlBlock(text) {
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    const group = m.findIndex((g, i) => i > 0 && g !== undefined);
    parts.push(h(`span.${CLASSES[group]}`, null, m[0]));
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return h("pre.sql", null, parts);
}
