/**
 * The FileDescriptorSet `buf build` writes beside the generated code (`npm run
 * gen`; the build copies it to dist/src/gen). The service's reflection and
 * request checks and the gateway's routes and JSON mapping all read this one file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFileRegistry, fromBinary, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type FileDescriptorSet } from '@bufbuild/protobuf/wkt';

export const DESCRIPTORS_PATH = join(__dirname, 'gen', 'descriptors.binpb');

export function loadDescriptorSet(path: string = DESCRIPTORS_PATH): FileDescriptorSet {
  return fromBinary(FileDescriptorSetSchema, readFileSync(path));
}

/** The registry of every message, enum and service in the descriptor set. */
export function loadRegistry(path: string = DESCRIPTORS_PATH): FileRegistry {
  return createFileRegistry(loadDescriptorSet(path));
}
