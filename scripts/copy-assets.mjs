// Copies what tsc does not: the Lua scripts and the descriptor set, next to the compiled code.
import { cpSync, mkdirSync, rmSync } from 'node:fs';

// Replaced whole: a script removed or renamed in src must not linger in dist.
rmSync('dist/src/store/lua', { recursive: true, force: true });
cpSync('src/store/lua', 'dist/src/store/lua', { recursive: true });
mkdirSync('dist/src/gen', { recursive: true });
cpSync('src/gen/descriptors.binpb', 'dist/src/gen/descriptors.binpb');
