export * from './schedules';
export * from './types';
export * from './bop';
export * from './adam';
export * from './case';
export * from './flips';
