// Lists the big files and functions under a source folder, largest first, so a
// reviewer sees where a module has grown more than one job. Functions are
// declarations, methods, constructors, accessors, and arrow functions or
// function expressions assigned to a name (a variable, a property, a class
// field); anonymous callbacks count toward the function that holds them.
// Lines are physical lines from the first to the last line of the node,
// comments before it excluded.
//
//   node scripts/code-size.mjs [--files N] [--functions M] [--exclude DIR]... [ROOT]
//   node scripts/code-size.mjs --files 400 --functions 80 --exclude src/tls --exclude src/pkix src
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

function parseArgs(argv) {
  const options = { fileLimit: 400, functionLimit: 80, excludes: [], root: 'src' };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const next = () => {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      return value;
    };
    if (arg === '--files') options.fileLimit = Number(next());
    else if (arg === '--functions') options.functionLimit = Number(next());
    else if (arg === '--exclude') options.excludes.push(next().replace(/\/+$/, ''));
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: node scripts/code-size.mjs [--files N] [--functions M] [--exclude DIR]... [ROOT]');
      process.exit(0);
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else options.root = arg.replace(/\/+$/, '');
  }
  if (!Number.isInteger(options.fileLimit) || !Number.isInteger(options.functionLimit)) {
    throw new Error('--files and --functions take whole numbers');
  }
  return options;
}

function collect(dir, excludes) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const shown = path.split(sep).join('/');
    if (excludes.some((e) => shown === e || shown.startsWith(`${e}/`))) continue;
    if (statSync(path).isDirectory()) found.push(...collect(path, excludes));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) found.push(path);
  }
  return found;
}

function propertyName(name) {
  if (!name) return undefined;
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text;
  return name.getText();
}

// The name a function is known by, or undefined for an anonymous callback.
function functionName(node) {
  if (ts.isFunctionDeclaration(node)) return node.name?.text ?? 'default';
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (ts.isMethodDeclaration(node) || ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node)) {
    return propertyName(node.name);
  }
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
    const parent = node.parent;
    if (ts.isVariableDeclaration(parent) && parent.initializer === node) return propertyName(parent.name);
    if (ts.isPropertyAssignment(parent) && parent.initializer === node) return propertyName(parent.name);
    if (ts.isPropertyDeclaration(parent) && parent.initializer === node) return propertyName(parent.name);
    if (ts.isFunctionExpression(node) && node.name) return node.name.text;
  }
  return undefined;
}

// Class or object names around a node, for "Class.method".
function qualifier(node) {
  const parts = [];
  for (let at = node.parent; at; at = at.parent) {
    if ((ts.isClassDeclaration(at) || ts.isClassExpression(at)) && at.name) parts.unshift(at.name.text);
  }
  return parts.join('.');
}

function measure(path, text) {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lineOf = (pos) => source.getLineAndCharacterOfPosition(pos).line;
  const functions = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const name = functionName(node);
      if (name !== undefined) {
        const start = lineOf(node.getStart(source));
        const lines = lineOf(node.getEnd()) - start + 1;
        const owner = qualifier(node);
        functions.push({ name: owner ? `${owner}.${name}` : name, line: start + 1, lines });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
  return { lines, functions };
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const files = collect(options.root, options.excludes);
  const bigFiles = [];
  const bigFunctions = [];
  let totalLines = 0;
  for (const path of files) {
    const shown = relative(process.cwd(), path).split(sep).join('/');
    const { lines, functions } = measure(path, readFileSync(path, 'utf8'));
    totalLines += lines;
    if (lines > options.fileLimit) bigFiles.push({ path: shown, lines });
    for (const f of functions) if (f.lines > options.functionLimit) bigFunctions.push({ ...f, path: shown });
  }
  bigFiles.sort((a, b) => b.lines - a.lines || a.path.localeCompare(b.path));
  bigFunctions.sort((a, b) => b.lines - a.lines || a.path.localeCompare(b.path));
  const excluded = options.excludes.length > 0 ? ` (excluding ${options.excludes.join(', ')})` : '';
  console.log(`${files.length} files, ${totalLines} lines under ${options.root}${excluded}`);
  console.log(`\nfiles over ${options.fileLimit} lines: ${bigFiles.length}`);
  for (const f of bigFiles) console.log(`  ${String(f.lines).padStart(5)}  ${f.path}`);
  console.log(`\nfunctions over ${options.functionLimit} lines: ${bigFunctions.length}`);
  for (const f of bigFunctions) console.log(`  ${String(f.lines).padStart(5)}  ${f.path}:${f.line}  ${f.name}`);
}

main();
