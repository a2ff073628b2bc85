/** PromQL as the tests read it: the rules and the dashboard panels name the metrics they use. */

/**
 * The metric names a PromQL expression reads: identifiers that are not inside a
 * label matcher or a string, not a function (followed by "("), not a keyword or
 * a grouping's label list, with histogram suffixes taken off.
 */
export function metricNames(expr: string): string[] {
  const withoutMatchers = expr
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/"[^"]*"/g, '""')
    .replace(/\[[^\]]*\]/g, '[]');
  const withoutGroupings = withoutMatchers.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = [...withoutGroupings.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1]);
  const keywords = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan', 'le']);
  return [
    ...new Set(names.filter((n) => !keywords.has(n.toLowerCase()) && !/^\d/.test(n)).map((n) => n.replace(/_(bucket|sum|count)$/, ''))),
  ];
}
