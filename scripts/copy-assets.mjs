// Copies what tsc does not: the Lua scripts and the descriptor set, next to the compiled code.
import { cpSync, mkdirSync } from 'node:fs';

cpSync('src/store/lua', 'dist/src/store/lua', { recursive: true });
mkdirSync('dist/src/gen', { recursive: true });
cpSync('src/gen/descriptors.binpb', 'dist/src/gen/descriptors.binpb');
