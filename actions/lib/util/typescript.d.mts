/** See typescript.mjs. */
export declare const nodeStripsTypes: boolean;
export declare function typescriptExecArgv(): string[];
export declare function runTypeScript(url: string): Promise<void>;
