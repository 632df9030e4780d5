/** This machine's simulator executable; throws an Error with code FORCELINK_SIMULATOR_MISSING naming the missing package. */
export declare function binaryPath(): string
/** The `forcelink-simulator-<platform>` packages that could serve this machine, the likeliest first. */
export declare function packageNames(platform?: string, arch?: string): string[]
