// Finds the integer constants a .bpf.c defines itself — object-like `#define NAME
// value` macros and the enumerators of its enums — so that bpf/gen-types.mjs can
// export them to TypeScript and no tool copies a flag value by hand.
//
// Input: the preprocessor's view of the file (`clang -E -dD` with the build's
// flags), which keeps every #define/#undef in place between line markers. Only
// what the file itself defines counts (not what its headers define), and only
// what is active after #if/#ifdef. Values are computed here with C's integer
// rules (literal types, promotions, wrap-around), and build.mjs then has the
// compiler confirm every one of them (_Static_assert) before they are written.
//
// Skipped: function-like macros, macros whose value is not an integer constant
// expression of literals and other such macros (strings, casts, sizeof, calls),
// and CO-RE flavor enums (`enum foo___new`): their values are the kernel's, found
// at load time, not the program's.

const INT = { bits: 32, unsigned: false };
const UINT = { bits: 32, unsigned: true };
const LONG = { bits: 64, unsigned: false };
const ULONG = { bits: 64, unsigned: true };

class Unsupported extends Error {}

function wrap(v, type) {
  return type.unsigned ? BigInt.asUintN(type.bits, v) : BigInt.asIntN(type.bits, v);
}

function fits(v, type) {
  return wrap(v, type) === v;
}

// C11 6.4.4.1: the type of an integer literal is the first of a list that can
// hold its value (LP64: long and long long are both 64 bits).
function literal(text) {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([uU]?(?:[lL]{0,2})|(?:[lL]{1,2})[uU])$/.exec(text);
  if (!m) throw new Unsupported(`literal ${text}`);
  const [, digits, suffix] = m;
  const v = digits.length > 1 && digits[0] === '0' && !/^0[xX]/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  const decimal = /^[1-9]/.test(digits);
  const u = /u/i.test(suffix);
  const l = /l/i.test(suffix);
  let candidates;
  if (u) candidates = l ? [ULONG] : [UINT, ULONG];
  else if (l) candidates = decimal ? [LONG] : [LONG, ULONG];
  else candidates = decimal ? [INT, LONG] : [INT, UINT, LONG, ULONG];
  const type = candidates.find((t) => fits(v, t));
  if (!type) throw new Unsupported(`literal ${text} is too large`);
  return { v, type };
}

// Usual arithmetic conversions, for operands already promoted to int or wider.
function common(a, b) {
  if (a.bits !== b.bits) return a.bits > b.bits ? a : b;
  return a.unsigned || b.unsigned ? { bits: a.bits, unsigned: true } : a;
}

const TOKEN = /\s*(?:(0[xX][0-9a-fA-F]+[uUlL]*|[0-9]+[uUlL]*)|([A-Za-z_][A-Za-z0-9_]*)|(<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!()<>?:]))/y;

function tokenize(text) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(text);
    if (!m) throw new Unsupported(`token at ${JSON.stringify(text.slice(at, at + 10))}`);
    at = TOKEN.lastIndex;
    if (m[1]) tokens.push({ num: m[1] });
    else if (m[2]) tokens.push({ id: m[2] });
    else tokens.push({ op: m[3] });
  }
  return tokens;
}

const BINARY = [
  ['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '>', '<=', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%'],
];

function bool(x) {
  return { v: x ? 1n : 0n, type: INT };
}

/**
 * Evaluates a C integer constant expression made of literals, parentheses, the
 * unary, binary and conditional operators, and names `lookup` resolves to
 * values. Throws Unsupported for anything else.
 */
export function evaluate(text, lookup = () => undefined) {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const isOp = (op) => tokens[i]?.op === op;
  const expect = (op) => {
    if (!isOp(op)) throw new Unsupported(`expected ${op}`);
    i++;
  };

  function primary() {
    const t = tokens[i++];
    if (!t) throw new Unsupported('unexpected end');
    if (t.num) return literal(t.num);
    if (t.id) {
      const r = lookup(t.id);
      if (!r) throw new Unsupported(`unknown name ${t.id}`);
      return r;
    }
    if (t.op === '(') {
      const r = conditional();
      expect(')');
      return r;
    }
    throw new Unsupported(`unexpected ${t.op}`);
  }

  function unary() {
    const t = peek();
    if (t?.op === '-' || t?.op === '+' || t?.op === '~' || t?.op === '!') {
      i++;
      const a = unary();
      if (t.op === '!') return bool(a.v === 0n);
      if (t.op === '+') return a;
      return { v: wrap(t.op === '-' ? -a.v : ~a.v, a.type), type: a.type };
    }
    return primary();
  }

  function apply(op, a, b) {
    if (op === '&&') return bool(a.v !== 0n && b.v !== 0n);
    if (op === '||') return bool(a.v !== 0n || b.v !== 0n);
    if (op === '<<' || op === '>>') {
      // The result has the (promoted) left operand's type; C leaves shifts by a
      // negative count or by the width or more undefined.
      if (b.v < 0n || b.v >= BigInt(a.type.bits)) throw new Unsupported(`shift by ${b.v}`);
      return { v: wrap(op === '<<' ? a.v << b.v : a.v >> b.v, a.type), type: a.type };
    }
    const type = common(a.type, b.type);
    const x = wrap(a.v, type);
    const y = wrap(b.v, type);
    switch (op) {
      case '==': return bool(x === y);
      case '!=': return bool(x !== y);
      case '<': return bool(x < y);
      case '>': return bool(x > y);
      case '<=': return bool(x <= y);
      case '>=': return bool(x >= y);
      case '+': return { v: wrap(x + y, type), type };
      case '-': return { v: wrap(x - y, type), type };
      case '*': return { v: wrap(x * y, type), type };
      case '&': return { v: wrap(x & y, type), type };
      case '|': return { v: wrap(x | y, type), type };
      case '^': return { v: wrap(x ^ y, type), type };
      case '/':
      case '%':
        if (y === 0n) throw new Unsupported('division by zero');
        // BigInt division truncates toward zero, as C's does.
        return { v: wrap(op === '/' ? x / y : x % y, type), type };
    }
    throw new Unsupported(`operator ${op}`);
  }

  function binary(level) {
    if (level === BINARY.length) return unary();
    let a = binary(level + 1);
    while (peek()?.op && BINARY[level].includes(peek().op)) {
      const op = tokens[i++].op;
      const b = binary(level + 1);
      a = apply(op, a, b);
    }
    return a;
  }

  function conditional() {
    const c = binary(0);
    if (!isOp('?')) return c;
    i++;
    const a = conditional();
    expect(':');
    const b = conditional();
    const type = common(a.type, b.type);
    return { v: wrap(c.v !== 0n ? a.v : b.v, type), type };
  }

  const r = conditional();
  if (i !== tokens.length) throw new Unsupported('trailing tokens');
  return r;
}

// Splits an enum body at its top-level commas.
function enumerators(body) {
  const out = [];
  let depth = 0;
  let cur = '';
  for (const ch of body) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean);
}

/**
 * The constants `file` (the path as given to clang) defines, in source order:
 * [{ name, value: bigint, text, kind: 'define' | 'enum', enumName? }].
 * `preprocessed` is the output of `clang -E -dD` on it.
 */
export function findConstants(preprocessed, file) {
  const macros = new Map(); // every object-like macro, headers included: name → body
  const own = []; // { name, line } for #defines in `file`, in order
  const mainText = []; // the file's own lines, for its enums
  let inMain = false;

  for (const line of preprocessed.split('\n')) {
    const marker = /^# \d+ "((?:[^"\\]|\\.)*)"/.exec(line);
    if (marker) {
      inMain = marker[1] === file;
      continue;
    }
    const def = /^#define ([A-Za-z_][A-Za-z0-9_]*)(\(?)(?: (.*))?$/.exec(line);
    if (def) {
      const [, name, paren, body = ''] = def;
      if (paren) macros.delete(name); // function-like: not a constant
      else macros.set(name, body);
      if (inMain) own.push({ name, functionLike: !!paren });
      continue;
    }
    const undef = /^#undef ([A-Za-z_][A-Za-z0-9_]*)/.exec(line);
    if (undef) {
      macros.delete(undef[1]);
      continue;
    }
    if (inMain) mainText.push(line);
  }

  const values = new Map();
  const resolving = new Set();
  function macroValue(name) {
    if (values.has(name)) return values.get(name);
    if (!macros.has(name) || resolving.has(name)) return undefined;
    resolving.add(name);
    let r;
    try {
      r = evaluate(macros.get(name), macroValue);
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      r = undefined;
    } finally {
      resolving.delete(name);
    }
    values.set(name, r);
    return r;
  }

  const out = [];
  const seen = new Set();
  for (const { name, functionLike } of own) {
    if (seen.has(name)) continue; // redefined: the value at the end of the file counts
    seen.add(name);
    if (functionLike || !macros.has(name)) continue;
    const r = macroValue(name);
    if (r) out.push({ name, value: r.v, text: macros.get(name).trim(), kind: 'define' });
  }

  // Enums: `enum [tag] { A [= expr], ... }` in the file's own (preprocessed) text.
  const enumValues = new Map();
  const lookup = (id) => enumValues.get(id);
  const text = mainText.join('\n');
  for (const m of text.matchAll(/\benum\s+(?:([A-Za-z_][A-Za-z0-9_]*)\s*)?\{([^{}]*)\}/g)) {
    const [, tag = '', body] = m;
    if (tag.includes('___')) continue; // a CO-RE flavor of a kernel enum
    let next = 0n;
    let type = INT;
    for (const item of enumerators(body)) {
      const e = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*([\s\S]+))?$/.exec(item);
      if (!e) break;
      const [, name, expr] = e;
      let v;
      try {
        v = expr === undefined ? { v: next, type } : evaluate(expr, lookup);
      } catch (err) {
        if (!(err instanceof Unsupported)) throw err;
        break; // this one and the ones counting on from it are not known here
      }
      // An enumerator is an int when its value fits one (C; wider is a GNU extension).
      type = fits(v.v, INT) ? INT : v.type;
      enumValues.set(name, { v: v.v, type });
      out.push({ name, value: v.v, text: expr?.trim() ?? String(v.v), kind: 'enum', enumName: tag });
      next = v.v + 1n;
    }
  }
  return out;
}

/** A C expression of `value` for checking it with the compiler. */
export function cLiteral(value) {
  if (value < 0n) return value === -(1n << 63n) ? '(-9223372036854775807LL - 1)' : `(${value}LL)`;
  return `${value}ULL`;
}
