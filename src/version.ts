// Replaced at build time by esbuild's define (from package.json); run from source it says so.
declare const __VERSION__: string | undefined;

export const version: string = typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0-dev';
