import { fileURLToPath } from 'node:url';

// This module sits one level below the package root both as source (src/) and bundled (dist/),
// so files shipped beside it (crds/) resolve the same way in development and when installed.
export const packageRoot: string = fileURLToPath(new URL('..', import.meta.url));
