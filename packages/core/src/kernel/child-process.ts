// node:child_process, loaded on first use: importing it up front costs every
// tool about 1 MB of start-up memory, for a path most runs never take
// (demangling, .gnu_debugdata, a BTF cache miss).
export function childProcess(): typeof import('node:child_process') {
  return process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
}
