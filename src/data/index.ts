/** Datasets of the reproduction: CIFAR-10, SVHN, Oxford-IIIT Pet; augmentation and batches. See data/README.md. */
export * from './types';
export * from './paths';
export * from './subset';
export * from './augment';
export * from './batches';
export { loadCifar10, parseCifarRecords, toCifarRecords, decodeCifarPng, decodeCifarNpmTgz, decodeCifarNpmDir, resolveCifar10 } from './cifar10';
export type { LoadCifar10Options } from './cifar10';
export { loadSvhn, SVHN_FILES } from './svhn';
export type { LoadSvhnOptions } from './svhn';
export { listMatVariables, readMatVariable, readMatFile, streamMatVariable } from './mat';
export type { MatVariable } from './mat';
export { loadPets, decodeImage, decodeTrimap, resizeBilinear, resizeNearest, resolvePetsDir } from './pets';
export type { LoadPetsOptions } from './pets';
