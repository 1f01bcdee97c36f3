/** Stylesheets are imported for their side effect; esbuild bundles them into the hashed .css file. */
declare module '*.css';
