/**
 * The declared-variable check, run when a template loads: a variable a template
 * reads but does not declare under `data:` stops loading with its line, instead of
 * failing every caller later with a 422.
 */

/** What a template may read from its data: each name, and what may be read below it (`true`: anything). */
export type DataShape = { readonly [name: string]: DataShape | true };

export function declares(shape: DataShape, parts: readonly string[]): boolean {
  let node: DataShape | true = shape;
  for (const part of parts) {
    if (node === true) return true;
    if (!Object.hasOwn(node, part)) return false;
    node = node[part];
  }
  return true;
}

export interface VariableCheck {
  shape: DataShape;
  /** The problem with a reference the shape lacks: `{{contnt}}`, or a bare path (`each:`, `from:`). */
  undeclared(reference: string): string;
  helpers: readonly string[];
  partials: ReadonlyMap<string, hbs.AST.Program>;
}

/** A problem in a Handlebars string: its line there, and the partial it sits in, if any. */
export interface StringProblem {
  line: number;
  partial?: string;
  message: string;
}

/** Where a template reads: the data itself (with a partial's arguments beside it), or something else (an element inside each/with). */
type Scope = { data: boolean; names: ReadonlySet<string> };
const ELSEWHERE: Scope = { data: false, names: new Set() };

/**
 * Every data variable a template reads must be declared, or each caller learns it
 * with a 422 after the template loaded. Only references to the data are checked:
 * inside each/with (or a section over a value) a name reads the element, whose
 * fields the data's declaration does not list; `../x` and `@root.x` read the data
 * again. Helpers and partials run with the context Handlebars gives them.
 */
export function variableProblems(ast: hbs.AST.Program, check: VariableCheck): StringProblem[] {
  const problems: StringProblem[] = [];
  const said = new Set<string>();
  const report = (node: hbs.AST.Node, message: string, partial?: string) => {
    // A partial used in several places has each of its problems said once.
    const key = `${partial ?? ''}\0${message}`;
    if (said.has(key)) return;
    said.add(key);
    problems.push({ line: node.loc?.start.line ?? 1, message, ...(partial ? { partial } : {}) });
  };
  const helpers = new Set(check.helpers);
  // Handlebars' own test (simpleId): one part, no ../, no this.
  const simple = (path: hbs.AST.PathExpression) =>
    !path.data && path.depth === 0 && path.parts.length === 1 && !/^(\.|this\b)/.test(path.original);
  const isHelper = (path: hbs.AST.Expression): path is hbs.AST.PathExpression =>
    path.type === 'PathExpression' && simple(path as hbs.AST.PathExpression) && helpers.has((path as hbs.AST.PathExpression).parts[0]);
  const shownHelpers = check.helpers
    .filter((h) => !h.endsWith('Missing'))
    .sort()
    .join(', ');

  function variable(path: hbs.AST.PathExpression, scopes: Scope[], partial?: string): void {
    let parts = path.parts;
    let scope: Scope | undefined = scopes[scopes.length - 1 - path.depth];
    if (path.data) {
      if (parts[0] !== 'root') return; // @index, @key, @first, @last: Handlebars' own
      parts = parts.slice(1);
      scope = scopes[0];
    }
    if (!scope?.data || parts.length === 0 || scope.names.has(parts[0])) return;
    if (!declares(check.shape, parts)) report(path, check.undeclared(`{{${path.original}}}`), partial);
  }
  function expression(node: hbs.AST.Expression, scopes: Scope[], partial?: string): void {
    if (node.type === 'PathExpression') variable(node as hbs.AST.PathExpression, scopes, partial);
    else if (node.type === 'SubExpression') call(node as hbs.AST.SubExpression, scopes, partial);
  }
  function call(node: hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression, scopes: Scope[], partial?: string): void {
    const path = node.path;
    // A sub-expression is always a helper call, as is anything given arguments.
    const args = node.type === 'SubExpression' || node.params.length > 0 || (node.hash?.pairs.length ?? 0) > 0;
    if (path.type === 'PathExpression' && !isHelper(path)) {
      const p = path as hbs.AST.PathExpression;
      if (args && simple(p)) report(p, `{{${p.original}}} is not a helper (helpers: ${shownHelpers})`, partial);
      else variable(p, scopes, partial);
    }
    for (const param of node.params) expression(param, scopes, partial);
    for (const pair of node.hash?.pairs ?? []) expression(pair.value, scopes, partial);
  }
  function statement(node: hbs.AST.Statement, scopes: Scope[], partial: string | undefined, within: string[]): void {
    switch (node.type) {
      case 'MustacheStatement':
        return call(node as hbs.AST.MustacheStatement, scopes, partial);
      case 'BlockStatement': {
        const block = node as hbs.AST.BlockStatement;
        call(block, scopes, partial);
        // each and with (and a section over a value, {{#list}}) render their body with the element as context.
        const elsewhere = !isHelper(block.path) || ['each', 'with'].includes(block.path.parts[0]);
        program(block.program, elsewhere ? [...scopes, ELSEWHERE] : scopes, partial, within);
        return program(block.inverse, scopes, partial, within);
      }
      case 'PartialStatement':
      case 'PartialBlockStatement':
        return partialCall(node as hbs.AST.PartialStatement | hbs.AST.PartialBlockStatement, scopes, partial, within);
    }
  }
  function partialCall(
    node: hbs.AST.PartialStatement | hbs.AST.PartialBlockStatement,
    scopes: Scope[],
    partial: string | undefined,
    within: string[],
  ): void {
    for (const param of node.params) expression(param, scopes, partial);
    for (const pair of node.hash?.pairs ?? []) expression(pair.value, scopes, partial);
    if ('program' in node) program(node.program, scopes, partial, within); // {{#> name}}fallback{{/name}}
    if (node.name.type !== 'PathExpression') return; // {{> (dynamic)}}: known only when rendering
    const name = (node.name as hbs.AST.PathExpression).original;
    const body = check.partials.get(name);
    if (!body) {
      if (!('program' in node) && !name.startsWith('@'))
        report(
          node,
          `{{> ${name}}}: no partial is named ${name} ` +
            `(${check.partials.size > 0 ? `partials: ${[...check.partials.keys()].join(', ')}` : 'this file defines no partials'})`,
          partial,
        );
      return;
    }
    if (within.includes(name)) return;
    // A partial renders in the caller's context (or the one given), with its hash arguments beside it.
    const top = scopes[scopes.length - 1];
    const inner: Scope =
      node.params.length > 0
        ? ELSEWHERE
        : { data: top.data, names: new Set([...top.names, ...(node.hash?.pairs ?? []).map((p) => p.key)]) };
    program(body, [...scopes.slice(0, -1), inner], name, [...within, name]);
  }
  function program(node: hbs.AST.Program | undefined, scopes: Scope[], partial: string | undefined, within: string[]): void {
    for (const child of node?.body ?? []) statement(child, scopes, partial, within);
  }

  program(ast, [{ data: true, names: new Set() }], undefined, []);
  return problems;
}
