// Types of layers.js (plain JS so that eslint.config.js can import it).
export declare const LAYERS: Record<string, { dir: string; uses: string[] }>;
